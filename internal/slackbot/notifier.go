package slackbot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/store"
)

// Keys the notifier keeps in Notification.Data once a message is posted:
// where it is (to update it in place) and a digest of what it shows (to
// skip updates that change nothing).
const (
	dataChannel = "slack_channel"
	dataTS      = "slack_ts"
	dataDigest  = "slack_digest"
)

// notifier delivers notifications as Slack DMs. It is the Bot under
// another method set, so the workflow sees only Deliver.
type notifier Bot

// Deliver sends n to its recipient and republishes the recipient's Home
// tab. It returns an error (for the job queue to retry with backoff) when
// Slack fails; when Slack rate-limits (429), the error is a
// *connector.RetryAfterError carrying Slack's Retry-After, so the job
// waits that long. A retry never posts a message twice, since the posted
// message's channel and ts are kept in n.Data and a retry updates it
// instead. Offboarded or deleted recipients are skipped.
func (nt *notifier) Deliver(ctx context.Context, n *access.Notification) error {
	return rateLimited((*Bot)(nt).deliver(ctx, n))
}

// rateLimited turns Slack's 429 (a *slack.RateLimitedError anywhere in
// err) into a *connector.RetryAfterError with Slack's Retry-After; other
// errors are returned as they are.
func rateLimited(err error) error {
	if rl, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return &connector.RetryAfterError{After: rl.RetryAfter, Err: err}
	}
	return err
}

func (b *Bot) deliver(ctx context.Context, n *access.Notification) error {
	recipient, err := b.st.UserGetByID(ctx, n.RecipientID)
	if errors.Is(err, store.ErrNotFound) {
		b.log.WarnContext(ctx, "notification for an unknown user dropped", "notification", n.ID, "recipient", n.RecipientID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("load recipient: %w", err)
	}
	if !recipient.Active() {
		b.log.InfoContext(ctx, "notification for an inactive user skipped", "notification", n.ID, "recipient", recipient.ID)
		return nil
	}
	slackID, err := b.slackIDOf(ctx, recipient)
	if err != nil {
		return err
	}
	switch n.Kind {
	case access.NotifyRequestDecided:
		err = b.refreshCopies(ctx, n.RequestID, recipientCopies(recipient.ID), "")
	case access.NotifyApprovalRequested, access.NotifyReminder:
		err = b.sendApproval(ctx, n, recipient, slackID)
	default:
		err = b.sendNotice(ctx, n, recipient, slackID)
	}
	if err != nil {
		return err
	}
	return b.publishHome(ctx, slackID, recipient)
}

// slackIDOf returns u's Slack user ID, linking u first when Slack has a
// user with u's email (confirmed).
func (b *Bot) slackIDOf(ctx context.Context, u *access.User) (string, error) {
	if u.SlackUserID != "" {
		return u.SlackUserID, nil
	}
	su, err := b.api.GetUserByEmailContext(ctx, u.Email)
	if err != nil {
		return "", fmt.Errorf("find the slack user of %s: %w", u.Email, err)
	}
	linked, err := b.linkByEmail(ctx, su.ID, su)
	if err != nil {
		return "", fmt.Errorf("link the slack user of %s: %w", u.Email, err)
	}
	if linked.ID != u.ID {
		return "", fmt.Errorf("slack user %s belongs to %s, not %s", su.ID, linked.Email, u.Email)
	}
	return su.ID, nil
}

// sendApproval posts an approver's copy of a request, then brings the
// copies of earlier steps up to date (they now show that step's outcome).
func (b *Bot) sendApproval(ctx context.Context, n *access.Notification, approver *access.User, slackID string) error {
	ri, err := newLoader(b.st).requestByID(ctx, n.RequestID)
	if access.ErrorCode(err) == access.CodeNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	text, blocks := approvalMessage(ri, approver, n.Kind == access.NotifyReminder, b.baseURL)
	if err := b.postOrUpdate(ctx, n, slackID, text, blocks); err != nil {
		return err
	}
	if len(ri.Req.Steps) == 0 {
		return nil
	}
	current := ri.Req.Steps[min(ri.Req.CurrentStep, len(ri.Req.Steps)-1)].Notified
	return b.refreshCopies(ctx, n.RequestID, func(c *access.Notification) bool {
		return !slices.Contains(current, c.RecipientID)
	}, n.ID)
}

// sendNotice posts a message to a requester or an app owner.
func (b *Bot) sendNotice(ctx context.Context, n *access.Notification, recipient *access.User, slackID string) error {
	l := newLoader(b.st)
	ri, err := l.requestByID(ctx, n.RequestID)
	if access.ErrorCode(err) == access.CodeNotFound {
		b.log.WarnContext(ctx, "notification about an unknown request dropped", "notification", n.ID)
		return nil
	}
	if err != nil {
		return err
	}
	d := noticeData{Kind: n.Kind, Recipient: recipient, Req: ri, Data: n.Data, BaseURL: b.baseURL, Command: b.command}
	if n.GrantID != "" {
		g, err := b.st.GrantGetByID(ctx, n.GrantID, false)
		if err != nil {
			return fmt.Errorf("load grant %s: %w", n.GrantID, err)
		}
		if d.Grant, err = l.grant(ctx, g); err != nil {
			return err
		}
		if _, err := l.user(ctx, g.UserID); err != nil {
			return err
		}
		ri.Users[g.UserID] = l.users[g.UserID]
	}
	if by := n.Data["by"]; by != "" {
		if d.By, err = l.user(ctx, by); err != nil {
			return err
		}
	}
	if n.Kind == access.NotifyGrantFailed {
		for _, id := range ri.App.Owners {
			if o, err := l.user(ctx, id); err == nil && o != nil && o.Active() {
				d.Owners = append(d.Owners, o)
			}
		}
	}
	text, blocks := noticeMessage(d)
	return b.postOrUpdate(ctx, n, slackID, text, blocks)
}

// digest fingerprints a message's content.
func digest(text string, blocks []slack.Block) string {
	js, err := json.Marshal(struct {
		T string        `json:"t"`
		B []slack.Block `json:"b"`
	}{text, blocks})
	if err != nil {
		return ""
	}
	h := sha256.Sum256(js)
	return hex.EncodeToString(h[:8])
}

// postOrUpdate posts n's message in the recipient's IM and records where
// (n.Data, saved with the notification); if an earlier attempt already
// posted it, the message is updated instead.
func (b *Bot) postOrUpdate(ctx context.Context, n *access.Notification, slackID, text string, blocks []slack.Block) error {
	if n.Data == nil {
		n.Data = map[string]string{}
	}
	sum := digest(text, blocks)
	if ts := n.Data[dataTS]; ts != "" {
		if n.Data[dataDigest] == sum {
			return nil
		}
		if _, _, _, err := b.api.UpdateMessageContext(ctx, n.Data[dataChannel], ts, slack.MsgOptionText(text, false),
			slack.MsgOptionBlocks(blocks...)); err != nil && !gone(err) {
			return fmt.Errorf("update %s message: %w", n.Kind, err)
		}
		n.Data[dataDigest] = sum
		return nil
	}
	ch, err := b.imChannel(ctx, slackID)
	if err != nil {
		return err
	}
	ch, ts, err := b.api.PostMessageContext(ctx, ch, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		return fmt.Errorf("post %s message to %s: %w", n.Kind, slackID, err)
	}
	n.Data[dataChannel], n.Data[dataTS], n.Data[dataDigest] = ch, ts, sum
	// The workflow saves n after Deliver returns; saving now too keeps the
	// message's place if the process dies before that.
	if err := b.st.NotificationUpdate(ctx, n); err != nil {
		b.log.WarnContext(ctx, "could not record the posted message yet", "notification", n.ID, "err", err)
	}
	return nil
}

// copyFilter selects approvers' copies of a request.
type copyFilter func(c *access.Notification) bool

func allCopies(*access.Notification) bool { return true }

func recipientCopies(userID string) copyFilter {
	return func(c *access.Notification) bool { return c.RecipientID == userID }
}

// refreshCopies updates, in place, the approvers' copies of a request
// (approval requests and reminders already posted) selected by keep,
// except notification skip, to show where the request stands. Copies
// whose content would not change are left alone; deleted messages are
// ignored; other failures are returned joined.
func (b *Bot) refreshCopies(ctx context.Context, requestID string, keep copyFilter, skip string) error {
	ns, err := b.st.NotificationListByRequest(ctx, requestID)
	if err != nil {
		return fmt.Errorf("list notifications of %s: %w", requestID, err)
	}
	l := newLoader(b.st)
	var ri *requestInfo
	var errs []error
	for _, c := range ns {
		if (c.Kind != access.NotifyApprovalRequested && c.Kind != access.NotifyReminder) || c.ID == skip ||
			c.Data[dataTS] == "" || !keep(c) {
			continue
		}
		if ri == nil {
			if ri, err = l.requestByID(ctx, requestID); err != nil {
				return err
			}
		}
		approver, err := l.user(ctx, c.RecipientID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		text, blocks := approvalMessage(ri, approver, c.Kind == access.NotifyReminder, b.baseURL)
		sum := digest(text, blocks)
		if c.Data[dataDigest] == sum {
			continue
		}
		_, _, _, err = b.api.UpdateMessageContext(ctx, c.Data[dataChannel], c.Data[dataTS], slack.MsgOptionText(text, false),
			slack.MsgOptionBlocks(blocks...))
		if err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("update the copy of %s for %s: %w", requestID, c.RecipientID, err))
			continue
		}
		c.Data[dataDigest] = sum
		if err := b.st.NotificationUpdate(ctx, c); err != nil {
			b.log.WarnContext(ctx, "could not record a message update", "notification", c.ID, "err", err)
		}
	}
	return errors.Join(errs...)
}
