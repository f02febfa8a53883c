package slackbot

import (
	"context"
	"strings"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
)

// suggestion answers a type-ahead (block_suggestion) of the request form:
// apps (searched in the store, at most 100 options, best match first),
// roles of apps with more than 100, and approvers of steps with more than
// 100 eligible people. Unlinked users get no options; no Slack API call is
// made here.
func (b *Bot) suggestion(ctx context.Context, ic *slack.InteractionCallback) any {
	opts := []*slack.OptionBlockObject{}
	actor, err := b.knownActor(ctx, ic.User.ID)
	if err != nil {
		return optionsResponse{Options: opts}
	}
	// Options are best first: when they do not all fit in an ack, the
	// best are kept.
	q := normalizeQuery(ic.Value)
	switch {
	case ic.ActionID == actionApp:
		matches, err := b.searchApps(ctx, q, maxOptions)
		if err != nil {
			b.log.WarnContext(ctx, "app type-ahead failed", "err", err)
			break
		}
		for _, s := range matches {
			if len(s.app.ID) <= maxOptionValue {
				opts = append(opts, appOption(s.app))
			}
		}
	case ic.ActionID == actionRoles:
		m, err := decodeMeta(ic.View.PrivateMetadata)
		if err != nil || m.U != ic.User.ID || m.App == "" {
			break
		}
		ents, err := b.st.EntitlementListByApp(ctx, m.App)
		if err != nil {
			b.log.WarnContext(ctx, "role type-ahead failed", "err", err)
			break
		}
		for _, e := range ents {
			if len(opts) == maxOptions {
				break
			}
			if e.Requestable && len(e.ID) <= maxOptionValue && matchesText(q, e.Key, e.Name, e.Description) {
				opts = append(opts, option(e.ID, entName(e), entDescription(e)))
			}
		}
	case strings.HasPrefix(ic.ActionID, blockApprovers+"-"):
		opts = b.approverOptions(ctx, ic, actor, q)
	}
	return optionsResponse{Options: fitOptions(opts)}
}

// fitOptions keeps the first options that fit in an ack (Slack drops
// Socket Mode messages of 20 KB or more; 100 long options can exceed it).
func fitOptions(opts []*slack.OptionBlockObject) []*slack.OptionBlockObject {
	size := 0
	for i, o := range opts {
		size += optionBytes(o)
		if size > maxAckBytes-1000 {
			return opts[:i]
		}
	}
	return opts
}

// approverOptions offers the eligible people of one step, filtered by q.
func (b *Bot) approverOptions(ctx context.Context, ic *slack.InteractionCallback, actor *access.User, q string) []*slack.OptionBlockObject {
	opts := []*slack.OptionBlockObject{}
	m, err := decodeMeta(ic.View.PrivateMetadata)
	if err != nil || m.U != ic.User.ID || m.App == "" {
		return opts
	}
	_, roles := stateValues(&ic.View, rolesBlockID(m.App), actionRoles)
	if len(roles) == 0 {
		return opts
	}
	plan, err := b.svc.Preview(ctx, actor.ID, roles, 0)
	if err != nil {
		return opts
	}
	for i, st := range plan.Steps {
		if approversActionID(i) != ic.ActionID {
			continue
		}
		for _, a := range st.Eligible {
			if len(opts) == maxOptions {
				break
			}
			if matchesText(q, a.Name, a.Email) {
				opts = append(opts, option(a.UserID, approverName(a), a.Reason))
			}
		}
	}
	return opts
}

// matchesText reports whether q (normalized) is in any of the texts.
func matchesText(q string, texts ...string) bool {
	if q == "" {
		return true
	}
	for _, t := range texts {
		if strings.Contains(strings.ToLower(t), q) {
			return true
		}
	}
	return false
}
