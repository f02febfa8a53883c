package storetest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// The factories below return values with every field set (times with
// nanoseconds and, for some, a non-UTC zone), so that round trips check
// every column. IDs sort in the order of n, as time-ordered IDs do.

// zone returns a non-UTC location: stores must return the same instant in
// UTC.
func zone() *time.Location { return time.FixedZone("UTC+2", 2*60*60) }

func (b *testBundle) user(n int, mod ...func(*access.User)) *access.User {
	u := &access.User{
		ID:          fmt.Sprintf("usr_%04d", n),
		Email:       fmt.Sprintf("user%04d@example.com", n),
		Name:        fmt.Sprintf("User %d", n),
		ManagerID:   "usr_9999",
		Groups:      []string{"everyone", fmt.Sprintf("team-%d", n%3)},
		Roles:       []access.Role{access.RoleAuditor},
		Status:      access.UserActive,
		SlackUserID: fmt.Sprintf("U%04d", n),
		CreatedAt:   b.at(-time.Hour).In(zone()),
		UpdatedAt:   b.now,
	}
	for _, m := range mod {
		m(u)
	}
	return u
}

func wantUser(u *access.User) *access.User {
	c := *u
	c.CreatedAt, c.UpdatedAt = tr(c.CreatedAt), tr(c.UpdatedAt)
	return &c
}

func (b *testBundle) app(id string, mod ...func(*access.App)) *access.App {
	a := &access.App{
		ID:                id,
		Name:              "App " + id,
		Description:       "The " + id + " app",
		ConnectorType:     "fake",
		ConnectorSettings: map[string]string{"url": "https://" + id + ".example.com", "token": "secret"},
		Owners:            []string{"usr_0001", "usr_0002"},
		Aliases:           []string{id + "-alias"},
		Watchlist:         true,
		Source:            access.SourceConfig,
		CreatedAt:         b.at(-2 * time.Hour).In(zone()),
		UpdatedAt:         b.now,
	}
	for _, m := range mod {
		m(a)
	}
	return a
}

func wantApp(a *access.App) *access.App {
	c := *a
	c.CreatedAt, c.UpdatedAt = tr(c.CreatedAt), tr(c.UpdatedAt)
	return &c
}

func (b *testBundle) entitlement(appID, key string, mod ...func(*access.Entitlement)) *access.Entitlement {
	e := &access.Entitlement{
		ID:          access.EntitlementID(appID, key),
		AppID:       appID,
		Key:         key,
		Name:        "Role " + key,
		Description: "Lets you " + key,
		MaxDuration: 8*time.Hour + 1,
		Requestable: true,
		Risk:        access.RiskHigh,
		Tags:        []string{"prod", "db"},
		Owners:      []string{"usr_0003"},
		CreatedAt:   b.at(-3 * time.Hour),
		UpdatedAt:   b.now.In(zone()),
	}
	for _, m := range mod {
		m(e)
	}
	return e
}

func wantEntitlement(e *access.Entitlement) *access.Entitlement {
	c := *e
	c.CreatedAt, c.UpdatedAt = tr(c.CreatedAt), tr(c.UpdatedAt)
	return &c
}

func (b *testBundle) request(n int, mod ...func(*access.Request)) *access.Request {
	id := fmt.Sprintf("req_%04d", n)
	r := &access.Request{
		ID:             id,
		RequesterID:    "usr_0001",
		AppID:          "github",
		EntitlementIDs: []string{"github:admin", "github:write"},
		Duration:       2*time.Hour + 7,
		MaxDuration:    24 * time.Hour,
		Reason:         "incident #42",
		State:          access.RequestPending,
		PolicyID:       "pol_default",
		Steps: []access.Step{
			{Name: "manager", Eligible: []string{"usr_0002", "usr_0003"}, Notified: []string{"usr_0002"}, Required: 1},
			{Name: "owners", Eligible: []string{"usr_0004", "usr_0005"}, Notified: []string{"usr_0004", "usr_0005"}, Required: 2},
		},
		CurrentStep: 1,
		Decisions: []access.Decision{{
			ID: "dec_" + id + "_1", RequestID: id, Step: 0, ApproverID: "usr_0002", Outcome: access.Approve,
			Comment: "ok", Duration: time.Hour, CreatedAt: b.at(-30 * time.Minute).In(zone()),
		}},
		AutoApproveRule: "",
		CreatedAt:       b.at(-time.Hour),
		UpdatedAt:       b.at(-30 * time.Minute),
		PendingUntil:    b.at(24 * time.Hour).In(zone()),
		LastRemindedAt:  b.at(-10 * time.Minute),
		RemindCount:     2,
		Version:         3,
	}
	for _, m := range mod {
		m(r)
	}
	return r
}

func wantRequest(r *access.Request) *access.Request {
	c := *r
	c.CreatedAt, c.UpdatedAt = tr(c.CreatedAt), tr(c.UpdatedAt)
	c.PendingUntil, c.LastRemindedAt = tr(c.PendingUntil), tr(c.LastRemindedAt)
	c.Decisions = nil
	for _, d := range r.Decisions {
		d.CreatedAt = tr(d.CreatedAt)
		c.Decisions = append(c.Decisions, d)
	}
	return &c
}

// decision returns a decision on r by approver, made at.
func decision(r *access.Request, approver string, step int, at time.Time) access.Decision {
	return access.Decision{
		ID: "dec_" + r.ID + "_" + approver, RequestID: r.ID, Step: step, ApproverID: approver,
		Outcome: access.Approve, CreatedAt: at,
	}
}

func (b *testBundle) grant(n int, mod ...func(*access.Grant)) *access.Grant {
	g := &access.Grant{
		ID:            fmt.Sprintf("grt_%04d", n),
		RequestID:     "req_0001",
		UserID:        "usr_0001",
		AppID:         "github",
		EntitlementID: "github:admin",
		State:         access.GrantActive,
		Duration:      2*time.Hour + 3,
		MaxDuration:   8 * time.Hour,
		ActivatedAt:   b.at(-time.Hour).In(zone()),
		ExpiresAt:     b.at(time.Hour),
		// TargetExpiresAt differs from every other time, so that a column
		// mixed up with another shows.
		TargetExpiresAt: b.at(30 * time.Minute).In(zone()),
		RevokedAt:       b.at(2 * time.Hour),
		Attempts:        2,
		LastError:       "timeout",
		RevokeReason:    "expired",
		ManualTask:      "add to team",
		CreatedAt:       b.at(-2 * time.Hour),
		UpdatedAt:       b.at(-time.Hour),
		Version:         1,
	}
	for _, m := range mod {
		m(g)
	}
	return g
}

func wantGrant(g *access.Grant) *access.Grant {
	c := *g
	c.ActivatedAt, c.ExpiresAt, c.RevokedAt = tr(c.ActivatedAt), tr(c.ExpiresAt), tr(c.RevokedAt)
	c.TargetExpiresAt = tr(c.TargetExpiresAt)
	c.CreatedAt, c.UpdatedAt = tr(c.CreatedAt), tr(c.UpdatedAt)
	return &c
}

func (b *testBundle) notification(n int, mod ...func(*access.Notification)) *access.Notification {
	no := &access.Notification{
		ID:          fmt.Sprintf("ntf_%04d", n),
		Kind:        access.NotifyApprovalRequested,
		RecipientID: "usr_0002",
		RequestID:   "req_0001",
		GrantID:     "grt_0001",
		Data:        map[string]string{"step": "0", "note": "ünïcode ✓"},
		DedupKey:    fmt.Sprintf("approval_requested:req_0001:%d", n),
		State:       access.NotificationPending,
		Attempts:    1,
		LastError:   "slack 500",
		CreatedAt:   b.at(-time.Minute).In(zone()),
		SentAt:      b.now,
	}
	for _, m := range mod {
		m(no)
	}
	return no
}

func wantNotification(n *access.Notification) *access.Notification {
	c := *n
	c.CreatedAt, c.SentAt = tr(c.CreatedAt), tr(c.SentAt)
	return &c
}

func (b *testBundle) event(n int, mod ...func(*access.Event)) *access.Event {
	e := &access.Event{
		ID:          fmt.Sprintf("evt_%04d", n),
		Time:        b.at(time.Duration(n) * time.Second).In(zone()),
		ActorID:     "usr_0001",
		Action:      "request.created",
		SubjectType: "request",
		SubjectID:   "req_0001",
		// Not canonical JSON on purpose: spacing and key order must survive.
		Before: json.RawMessage(`{"z": 1,  "a": [true, null]}`),
		After:  json.RawMessage(`{"state":"pending","n":1.50}`),
		Data:   json.RawMessage(`"why not"`),
	}
	for _, m := range mod {
		m(e)
	}
	return e
}

func (b *testBundle) token(n int, mod ...func(*access.Token)) *access.Token {
	t := &access.Token{
		ID:         fmt.Sprintf("tok_%04d", n),
		UserID:     "usr_0001",
		Name:       fmt.Sprintf("ci %d", n),
		Hash:       fmt.Sprintf("%064x", n),
		CreatedAt:  b.at(-time.Hour).In(zone()),
		ExpiresAt:  b.at(30 * 24 * time.Hour),
		LastUsedAt: b.at(-time.Minute),
		RevokedAt:  time.Time{},
	}
	for _, m := range mod {
		m(t)
	}
	return t
}

func wantToken(t *access.Token) *access.Token {
	c := *t
	c.CreatedAt, c.ExpiresAt, c.LastUsedAt, c.RevokedAt = tr(c.CreatedAt), tr(c.ExpiresAt), tr(c.LastUsedAt), tr(c.RevokedAt)
	return &c
}
