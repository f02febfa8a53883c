package slackbot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
)

// message is a slash command's answer (shown only to the user).
type message struct {
	ResponseType string        `json:"response_type"`
	Text         string        `json:"text"`
	Blocks       []slack.Block `json:"blocks,omitempty"`
}

func ephemeral(text string, blocks ...slack.Block) *message {
	return &message{ResponseType: "ephemeral", Text: text, Blocks: blocks}
}

// optionsResponse answers a block_suggestion; Options is never nil ("no
// results" is an empty list).
type optionsResponse struct {
	Options []*slack.OptionBlockObject `json:"options"`
}

// handlerTimeout bounds a handler that overran its ack budget and goes on
// in the background.
const handlerTimeout = 30 * time.Second

// withinBudget runs fn and returns its answer if it comes within the ack
// budget; otherwise it returns fallback so Slack gets its ack in time.
// Without late, fn's context ends with the budget (its answer would be
// thrown away, and work nobody waits for only slows the others down);
// with late, fn carries on, detached from the request, and late gets its
// answer.
func (b *Bot) withinBudget(ctx context.Context, what string, fallback any, late func(ctx context.Context, resp any), fn func(ctx context.Context) any) any {
	var wctx context.Context
	var cancel context.CancelFunc
	if late == nil {
		wctx, cancel = context.WithTimeout(ctx, b.ackBudget)
	} else {
		wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), handlerTimeout)
	}
	done := make(chan any, 1)
	go func() {
		defer cancel()
		// At most a few handlers work at once: the store's work is CPU-bound
		// (and SQLite opens a connection per concurrent reader), so more
		// would only queue inside it, less fairly.
		select {
		case b.work <- struct{}{}:
			defer func() { <-b.work }()
		case <-wctx.Done():
			done <- fallback
			return
		}
		done <- fn(wctx)
	}()
	t := time.NewTimer(b.ackBudget)
	defer t.Stop()
	select {
	case resp := <-done:
		return resp
	case <-t.C:
	case <-ctx.Done():
	}
	b.log.WarnContext(ctx, "slack handler overran its ack budget; acknowledging now", "what", what, "budget", b.ackBudget)
	if late != nil {
		b.bg.goTimeout(ctx, "late "+what, handlerTimeout, func(bctx context.Context) error {
			select {
			case resp := <-done:
				late(bctx, resp)
			case <-bctx.Done():
			}
			return nil
		})
	}
	return fallback
}

// handleCommand handles a slash command and returns its answer (nil for none).
func (b *Bot) handleCommand(ctx context.Context, cmd slack.SlashCommand) any {
	fallback := ephemeral("⏳ Working on it; this is taking longer than usual.")
	return b.withinBudget(ctx, "command", fallback, nil, func(ctx context.Context) any {
		resp := b.runCommand(ctx, cmd)
		if resp == nil {
			return nil
		}
		return resp
	})
}

// interaction handles an interaction payload and returns the ack payload
// (nil for an empty ack).
func (b *Bot) interaction(ctx context.Context, ic *slack.InteractionCallback) any {
	switch ic.Type {
	case slack.InteractionTypeBlockSuggestion:
		return b.withinBudget(ctx, "options", optionsResponse{Options: []*slack.OptionBlockObject{}}, nil,
			func(ctx context.Context) any { return b.suggestion(ctx, ic) })
	case slack.InteractionTypeBlockActions:
		if b.formChange(ctx, ic) {
			return nil // the form refreshes after the ack
		}
		b.withinBudget(ctx, "block_actions", nil, nil, func(ctx context.Context) any {
			b.blockActions(ctx, ic)
			return nil
		})
		return nil
	case slack.InteractionTypeViewSubmission:
		working := slack.NewUpdateViewSubmissionResponse(new(noticeModal(ic.User.ID, "Working on it",
			"⏳ This is taking longer than usual. This window will update when it's done; you'll also get a message.")))
		late := func(ctx context.Context, resp any) { b.lateSubmission(ctx, ic, resp) }
		resp := b.withinBudget(ctx, "view_submission", working, late, func(ctx context.Context) any {
			r := b.viewSubmission(ctx, ic)
			if r == nil {
				return nil
			}
			return r
		})
		return b.fitAck(ctx, ic, resp)
	case slack.InteractionTypeViewClosed:
		return nil
	default:
	}
	b.log.DebugContext(ctx, "ignored slack interaction", "type", ic.Type)
	return nil
}

// maxAckBytes bounds an ack's payload: Slack drops Socket Mode messages of
// 20 KB or more (and slack-go refuses to send them). A larger view is
// sent with views.update instead.
const maxAckBytes = 15 << 10

// fitAck replaces a response_action update whose view is too large for an
// ack with a small placeholder, and sends the view with views.update.
func (b *Bot) fitAck(ctx context.Context, ic *slack.InteractionCallback, resp any) any {
	r, ok := resp.(*slack.ViewSubmissionResponse)
	if !ok || r == nil || r.View == nil {
		return resp
	}
	js, err := json.Marshal(r)
	if err != nil || len(js) < maxAckBytes {
		return resp
	}
	view := *r.View
	b.log.WarnContext(ctx, "a form is too large for an ack; sending it with views.update", "bytes", len(js))
	b.bg.goTimeout(ctx, "send a large view", 10*time.Second, func(ctx context.Context) error {
		// Let Slack apply the placeholder first (the ack races this call).
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		_, err := b.api.UpdateViewContext(ctx, view, "", "", ic.View.ID)
		return err
	})
	return slack.NewUpdateViewSubmissionResponse(new(noticeModal(ic.User.ID, "Loading…", "⏳ Loading the form…")))
}

// lateSubmission shows the outcome of a submission that overran the ack
// budget in the "working" view the user got meanwhile.
func (b *Bot) lateSubmission(ctx context.Context, ic *slack.InteractionCallback, resp any) {
	r, ok := resp.(*slack.ViewSubmissionResponse)
	var view slack.ModalViewRequest
	switch {
	case !ok || r == nil || r.ResponseAction == slack.RAClear:
		view = noticeModal(ic.User.ID, "Done", "✅ Done.")
	case r.ResponseAction == slack.RAErrors:
		var text strings.Builder
		text.WriteString("Your submission could not be saved:")
		for _, e := range r.Errors {
			text.WriteString("\n• " + e)
		}
		view = noticeModal(ic.User.ID, "Not saved", text.String()+"\nPlease try again.")
	case r.View != nil:
		view = *r.View
	default:
		view = noticeModal(ic.User.ID, "Done", "✅ Done.")
	}
	if _, err := b.api.UpdateViewContext(ctx, view, "", "", ic.View.ID); err != nil {
		b.log.WarnContext(ctx, "update view after a slow submission", "err", err)
	}
}

// eventEnvelope is the part of an Events API payload the bot reads.
type eventEnvelope struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
	EventID   string `json:"event_id"`
	Event     struct {
		Type string `json:"type"`
		User string `json:"user"`
		Tab  string `json:"tab"`
	} `json:"event"`
}

// event handles an Events API payload: it returns the challenge of a
// url_verification, and publishes the Home tab (in the background) on
// app_home_opened. Retries of an event already seen are dropped.
func (b *Bot) event(ctx context.Context, body []byte, retry int) (challenge string, err error) {
	var env eventEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return "", fmt.Errorf("decode event: %w", err)
	}
	switch {
	case env.Type == "url_verification":
		return env.Challenge, nil
	case env.Type != "event_callback":
		return "", nil
	case env.EventID != "" && !b.events.add(env.EventID, b.now()):
		b.log.DebugContext(ctx, "dropped a repeated slack event", "event", env.EventID, "retry", retry)
		return "", nil
	}
	if env.Event.Type == "app_home_opened" && env.Event.Tab == "home" && slackIDPattern.MatchString(env.Event.User) {
		user := env.Event.User
		b.bg.goTimeout(ctx, "home opened", 15*time.Second, func(ctx context.Context) error {
			u, err := b.actor(ctx, user)
			switch access.ErrorCode(err) {
			case "":
				if err != nil {
					return err
				}
			case access.CodeUnauthorized, access.CodeForbidden:
				u = nil
			default:
				return err
			}
			return b.publishHome(ctx, user, u)
		})
	}
	return "", nil
}
