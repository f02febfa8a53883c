package slackbot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/findings"
)

// Alert button verbs. Their value is the alert ID only; the server loads
// the alert and checks the clicker is an admin.
const (
	verbAlertWatch  = "alert_watch"
	verbAlertIgnore = "alert_ignore"
)

// AlertActor applies alert buttons: *findings.Service.
type AlertActor interface {
	Act(ctx context.Context, actorID, alertID, action string) (*access.Alert, error)
}

// alertsSlot holds the AlertActor, set after the bot is built.
type alertsSlot struct {
	mu sync.Mutex
	a  AlertActor
}

// SetAlerts makes the bot handle alert buttons with a. Until it is set,
// alert buttons answer that alerts are not available.
func (b *Bot) SetAlerts(a AlertActor) {
	b.alerts.mu.Lock()
	defer b.alerts.mu.Unlock()
	b.alerts.a = a
}

func (b *Bot) alertActor() AlertActor {
	b.alerts.mu.Lock()
	defer b.alerts.mu.Unlock()
	return b.alerts.a
}

// alertMessage is an alert's channel message: what was found, the
// details, where it stands, and the buttons: Add to Watchlist and Ignore
// while open (Ignore only, once watching), and Review in Sesame (a link)
// whenever there is a URL.
func alertMessage(m findings.Message) (string, []slack.Block) {
	a := m.Alert
	icon, kind := "🔔", "Security alert"
	switch a.Type {
	case access.AlertWatchlistSignup:
		icon, kind = "👀", "Sign-up on a watchlist app"
	case access.AlertOffboardedWithAccounts:
		icon, kind = "🚪", "Offboarded person with active accounts"
	case access.AlertNewAppDiscovered:
		icon, kind = "🆕", "Newly discovered app"
	}
	fallback := kind + ": " + a.Title
	blocks := []slack.Block{
		header("alert_head", icon+" "+kind),
		section("alert_title", "*"+escape(a.Title)+"*"),
	}
	if len(a.Details) > 0 {
		lines := make([]string, 0, len(a.Details))
		for _, d := range a.Details {
			lines = append(lines, "• "+escape(d))
		}
		blocks = append(blocks, section("alert_details", strings.Join(lines, "\n")))
	}
	meta := "Alert `" + a.ID + "` · " + when(a.CreatedAt)
	if a.Source != "" {
		meta += " · source: " + escape(a.Source)
	}
	blocks = append(blocks, contextText("alert_meta", meta))
	switch a.State {
	case access.AlertWatching:
		blocks = append(blocks, section("alert_state", "👀 *Watching* — added to the watchlist by "+actorRef(a.DecidedBy)+" "+when(a.DecidedAt)+"."))
	case access.AlertIgnored:
		blocks = append(blocks, section("alert_state", "🙈 *Ignored* by "+actorRef(a.DecidedBy)+" "+when(a.DecidedAt)+"; no more alerts for this."))
	case access.AlertOpen:
	}
	var buttons []slack.BlockElement
	if a.State == access.AlertOpen {
		buttons = append(buttons, button(verbAlertWatch, "Add to Watchlist", a.ID, slack.StylePrimary))
	}
	if a.State != access.AlertIgnored {
		ignore := button(verbAlertIgnore, "Ignore", a.ID, slack.StyleDanger)
		ignore.Confirm = slack.NewConfirmationBlockObject(plain("Ignore this?"),
			plain(truncate("Dismiss this alert and stop alerts about "+cmpOr(a.AppName, "this")+".", 300)), plain("Ignore"), plain("Cancel"))
		buttons = append(buttons, ignore)
	}
	if m.ReviewURL != "" {
		review := slack.NewButtonBlockElement(verbOpenURL+":alert", "", plain("Review in Sesame"))
		review.URL = m.ReviewURL
		buttons = append(buttons, review)
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock("alert_actions", buttons...))
	}
	return fallback, blocks
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// actorRef names who decided: their user ID (the message has no store).
func actorRef(userID string) string {
	if userID == "" {
		return "someone"
	}
	return "`" + userID + "`"
}

// PostAlert implements findings.Poster: chat.postMessage to channel (an
// ID or a #name), returning the channel's ID and the message's ts.
func (b *Bot) PostAlert(ctx context.Context, channel string, m findings.Message) (channelID, ts string, err error) {
	text, blocks := alertMessage(m)
	channelID, ts, err = b.api.PostMessageContext(ctx, channel, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		return "", "", deliveryError("chat.postMessage", err)
	}
	return channelID, ts, nil
}

// UpdateAlert implements findings.Poster: chat.update of the message.
func (b *Bot) UpdateAlert(ctx context.Context, channel, ts string, m findings.Message) error {
	text, blocks := alertMessage(m)
	_, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		return deliveryError("chat.update", err)
	}
	return nil
}

// deliveryError classifies a Slack API error for the job queue: rate
// limited waits as long as Slack said; errors a retry cannot fix (the
// channel or message is gone, the bot is not in the channel, bad blocks
// or tokens) are permanent; anything else (5xx, network) is retried.
func deliveryError(method string, err error) error {
	if rl, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return &connector.RetryAfterError{After: rl.RetryAfter, Err: fmt.Errorf("%s: %w", method, err)}
	}
	permanent := []string{"channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long", "no_text",
		"missing_scope", "invalid_auth", "not_authed", "account_inactive", "token_revoked", "message_not_found",
		"cant_update_message", "edit_window_closed", "restricted_action", "invalid_arguments"}
	if slices.Contains(permanent, slackCode(err)) {
		return connector.Permanent(fmt.Errorf("%s: %w", method, err))
	}
	return fmt.Errorf("%s: %w", method, err)
}

// alertAction handles Add to Watchlist and Ignore. The findings service
// checks the clicker is a Sesame admin; a refusal leaves the message as
// it is and tells the clicker why. The message itself is updated by the
// delivery job the action queues.
func (b *Bot) alertAction(ctx context.Context, ic *slack.InteractionCallback, actor *access.User, alertID, verb string) {
	svc := b.alertActor()
	if svc == nil {
		b.tell(ctx, ic, "Not available", "Security alerts are not enabled on this Sesame.")
		return
	}
	action := findings.ActionWatch
	if verb == verbAlertIgnore {
		action = findings.ActionIgnore
	}
	a, err := svc.Act(ctx, actor.ID, alertID, action)
	if err != nil {
		text := b.errorText(ctx, err)
		if access.ErrorCode(err) == access.CodeForbidden {
			text = "🚫 Only Sesame admins can act on security alerts. Nothing was changed."
		}
		b.tell(ctx, ic, "Not done", text)
		return
	}
	switch a.State {
	case access.AlertWatching:
		b.tell(ctx, ic, "Watching", "👀 Added to the watchlist: new sign-ups will be alerted here.")
	case access.AlertIgnored:
		b.tell(ctx, ic, "Ignored", "🙈 Ignored: no more alerts about this.")
	case access.AlertOpen:
	}
}
