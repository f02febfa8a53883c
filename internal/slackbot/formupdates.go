package slackbot

import (
	"context"
	"slices"
	"sync"

	"github.com/slack-go/slack"
)

// The request form refreshes its summary (policy, approvers, limits) when
// the app, roles or duration change. Slack only needs an empty ack for
// those block_actions; the refresh (store reads, policy evaluation,
// views.update) runs after the ack, so the ack never waits for the store
// or for Slack's API.

// formUpdates orders those refreshes per view: every change gets a
// sequence number when it arrives, and a refresh is sent only while no
// newer change of the same view has arrived (the newer one reads the
// whole form state, so it supersedes the older). The zero value is ready.
type formUpdates struct {
	mu     sync.Mutex
	seq    uint64
	latest map[string]uint64
}

// arrive records a change of viewID and returns its number.
func (f *formUpdates) arrive(viewID string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.latest == nil {
		f.latest = map[string]uint64{}
	}
	f.seq++
	f.latest[viewID] = f.seq
	return f.seq
}

// current reports whether change n is still the newest of viewID.
func (f *formUpdates) current(viewID string, n uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.latest[viewID] == n
}

// done forgets viewID once its newest change n is handled.
func (f *formUpdates) done(viewID string, n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.latest[viewID] == n {
		delete(f.latest, viewID)
	}
}

// formChange queues the refresh of the request form when ic is a change
// of its app, roles or duration, and reports whether it was one. It takes
// no handler slot: the ack goes at once.
func (b *Bot) formChange(ctx context.Context, ic *slack.InteractionCallback) bool {
	if ic.View.Type != slack.VTModal || ic.View.CallbackID != kindRequest || len(ic.ActionCallback.BlockActions) == 0 {
		return false
	}
	act := ic.ActionCallback.BlockActions[0]
	if !slices.Contains([]string{actionApp, actionRoles, actionDuration, actionChange}, actionVerb(act.ActionID)) {
		return false
	}
	b.refreshFormLater(ctx, ic, act)
	return true
}

// refreshFormLater queues the request form's refresh after act, to run
// after the ack.
func (b *Bot) refreshFormLater(ctx context.Context, ic *slack.InteractionCallback, act *slack.BlockAction) {
	n := b.forms.arrive(ic.View.ID)
	b.bg.goTimeout(ctx, "refresh the request form", handlerTimeout, func(ctx context.Context) error {
		defer b.forms.done(ic.View.ID, n)
		// It shares the handlers' slots (Bot.work): store work is CPU-bound,
		// and refreshes must not crowd out the acks.
		select {
		case b.work <- struct{}{}:
			defer func() { <-b.work }()
		case <-ctx.Done():
			return ctx.Err()
		}
		if !b.forms.current(ic.View.ID, n) {
			return nil // a newer change of this form follows
		}
		b.requestFormChanged(ctx, ic, act, n)
		return nil
	})
}
