package integrations

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
)

// Category is a kind of message an integration may carry.
type Category string

// Categories.
const (
	// CategoryApprovalRequests: a request waits for approval (and an
	// escalation widened it).
	CategoryApprovalRequests Category = "approval_requests"
	// CategoryDecisions: a request was approved, rejected, cancelled or
	// timed out.
	CategoryDecisions Category = "decisions"
	// CategoryGrants: access was granted, failed, extended, revoked, or
	// failed to be revoked.
	CategoryGrants Category = "grants"
	// CategoryAlerts: security findings (posted by other packages through
	// Post) and access drift found by reconciliation.
	CategoryAlerts Category = "alerts"
)

// Categories lists every category, in documentation order.
func Categories() []Category {
	return []Category{CategoryApprovalRequests, CategoryDecisions, CategoryGrants, CategoryAlerts}
}

// ParseCategories validates names; an empty list is an error. Duplicates
// are removed.
func ParseCategories(names []string) ([]Category, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("no categories: list some of approval_requests, decisions, grants, alerts")
	}
	var out []Category
	for _, n := range names {
		c := Category(n)
		if !slices.Contains(Categories(), c) {
			return nil, fmt.Errorf("unknown category %q (approval_requests, decisions, grants, alerts)", n)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// categoryOf maps an outbox notification to the category integrations
// see it as; ok is false for kinds no integration carries (reminders, the
// requester's own receipts, refreshes of approvers' copies, expiry
// notices, manual tasks).
func categoryOf(k access.NotificationKind) (Category, bool) {
	switch k {
	case access.NotifyApprovalRequested:
		return CategoryApprovalRequests, true
	case access.NotifyRequestApproved, access.NotifyRequestRejected, access.NotifyRequestCancelled, access.NotifyRequestTimedOut:
		return CategoryDecisions, true
	case access.NotifyGrantActive, access.NotifyGrantFailed, access.NotifyGrantRevoked, access.NotifyRevokeFailed,
		access.NotifyGrantExtended, access.NotifyExtensionFailed:
		return CategoryGrants, true
	case access.NotifyDriftRevoked, access.NotifyUnmanagedAccess:
		return CategoryAlerts, true
	default:
		return "", false
	}
}

// eventKey names the event a notification reports, the same for every
// recipient's copy, so that an integration gets one message per event:
// the outbox's dedup key (kind/recipient/event) without the recipient.
func eventKey(n *access.Notification) string {
	prefix := string(n.Kind) + "/" + n.RecipientID + "/"
	if rest, ok := strings.CutPrefix(n.DedupKey, prefix); ok {
		return string(n.Kind) + "/" + rest
	}
	return n.DedupKey
}
