package slackbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode connects to Slack over Socket Mode and serves requests
// until ctx is cancelled (then it returns nil) or Slack refuses the app
// token. Connections that drop are reopened with backoff by slack-go.
// Each request is handled in its own goroutine and acknowledged on its
// envelope_id.
func (b *Bot) RunSocketMode(ctx context.Context) error {
	if b.appToken == "" {
		return errors.New("slackbot: socket mode needs an app-level token")
	}
	b.catalog.snapshot(ctx) // start loading the app catalog
	client := socketmode.New(b.api, socketmode.OptionLog(slogOutput{b.log}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- client.RunContext(ctx) }()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for {
		select {
		case <-ctx.Done():
			if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
				b.log.DebugContext(ctx, "slack socket mode stopped", "err", err)
			}
			return nil
		case err := <-errc:
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("slack socket mode: %w", err)
		case evt := <-client.Events:
			b.socketEvent(ctx, client, evt, &inflight)
		}
	}
}

func (b *Bot) socketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event, inflight *sync.WaitGroup) {
	req := evt.Request
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.log.DebugContext(ctx, "slack socket mode connecting")
	case socketmode.EventTypeConnected:
		b.log.InfoContext(ctx, "slack socket mode connected")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		b.log.WarnContext(ctx, "slack socket mode trouble", "type", evt.Type, "data", fmt.Sprint(evt.Data))
	case socketmode.EventTypeInvalidAuth:
		b.log.ErrorContext(ctx, "slack refused the app-level token")
	case socketmode.EventTypeErrorBadMessage:
		b.log.WarnContext(ctx, "unreadable socket mode message", "data", fmt.Sprint(evt.Data))
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || req == nil {
			return
		}
		done := b.bg.track()
		inflight.Go(func() {
			defer done()
			b.ack(ctx, client, req, b.handleCommand(ctx, cmd))
		})
	case socketmode.EventTypeInteractive:
		if req == nil {
			return
		}
		done := b.bg.track()
		inflight.Go(func() {
			defer done()
			ic, err := decodeInteraction(req.Payload)
			if err != nil {
				b.log.WarnContext(ctx, "bad slack interaction payload", "err", err)
				b.ack(ctx, client, req, nil)
				return
			}
			b.ack(ctx, client, req, b.interaction(ctx, ic))
		})
	case socketmode.EventTypeEventsAPI:
		if req == nil {
			return
		}
		b.ack(ctx, client, req, nil) // events are acked at once; handling is idempotent
		done := b.bg.track()
		inflight.Go(func() {
			defer done()
			if _, err := b.event(ctx, req.Payload, req.RetryAttempt); err != nil {
				b.log.WarnContext(ctx, "bad slack event", "err", err)
			}
		})
	default: // hello, disconnect: slack-go handles them
	}
}

// ack answers an envelope, with payload when there is one.
func (b *Bot) ack(ctx context.Context, client *socketmode.Client, req *socketmode.Request, payload any) {
	var err error
	if payload == nil {
		err = client.AckCtx(ctx, req.EnvelopeID, nil)
	} else {
		err = client.AckCtx(ctx, req.EnvelopeID, payload)
	}
	if err != nil {
		b.log.WarnContext(ctx, "slack socket mode ack failed", "envelope", req.EnvelopeID, "err", err)
	}
}

// slogOutput routes slack-go's socket mode log lines to slog (debug).
type slogOutput struct{ log *slog.Logger }

func (s slogOutput) Output(_ int, line string) error {
	s.log.Debug("slack-go socketmode", "msg", strings.TrimSpace(line))
	return nil
}

// decodeInteraction parses an interaction payload (block_actions,
// view_submission, block_suggestion, view_closed).
func decodeInteraction(payload []byte) (*slack.InteractionCallback, error) {
	if len(payload) == 0 {
		return nil, errors.New("empty interaction payload")
	}
	if len(payload) > maxRequestBody {
		return nil, errors.New("interaction payload too large")
	}
	var ic slack.InteractionCallback
	if err := json.Unmarshal(payload, &ic); err != nil {
		return nil, fmt.Errorf("decode interaction: %w", err)
	}
	if ic.User.ID == "" {
		return nil, errors.New("interaction without a user")
	}
	return &ic, nil
}
