package slackbot

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/workflow"
)

// Block and action IDs shared by the forms. Block IDs of menus whose
// options depend on earlier choices get a hash suffix, so that Slack drops
// a selection that is no longer offered.
const (
	blockApp       = "app"
	actionApp      = "app"
	blockAppFixed  = "app_fixed"
	actionChange   = "change_app"
	blockRoles     = "roles"
	actionRoles    = "roles"
	blockReason    = "reason"
	actionReason   = "reason"
	blockDuration  = "duration"
	actionDuration = "duration"
	blockCustom    = "duration_custom"
	actionCustom   = "duration_custom"
	blockComment   = "comment"
	actionComment  = "comment"
	blockApprovers = "approvers"
	blockSummary   = "summary"
)

// Verbs of buttons in messages and the Home tab (action_id verb[:suffix],
// value = the ID acted on).
const (
	verbNewRequest   = "new_request"
	verbApprove      = "approve"
	verbReject       = "reject"
	verbCancel       = "cancel"
	verbRemind       = "remind"
	verbExtend       = "extend"
	verbRevoke       = "revoke"
	verbTaskDone     = "task_done"
	verbRequestAgain = "request_again"
	verbLink         = "link"
	verbOpenURL      = "open_url"
)

// durationPresets are offered in duration menus (within the maximum).
func durationPresets() []time.Duration {
	return []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour,
		8 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour,
		14 * 24 * time.Hour, 30 * 24 * time.Hour}
}

// durationChoices returns the presets up to maxD (zero: no limit), maxD
// itself, and the extra durations given, sorted and distinct.
func durationChoices(maxD time.Duration, extra ...time.Duration) []time.Duration {
	var out []time.Duration
	for _, d := range append(durationPresets(), extra...) {
		if d > 0 && (maxD <= 0 || d <= maxD) {
			out = append(out, d)
		}
	}
	if maxD > 0 && maxD <= access.MaxParsableDuration {
		out = append(out, maxD)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// humanDuration says d in words when it is a whole number of a unit.
func humanDuration(d time.Duration) string {
	units := []struct {
		size      time.Duration
		one, many string
	}{{7 * 24 * time.Hour, "week", "weeks"}, {24 * time.Hour, "day", "days"}, {time.Hour, "hour", "hours"}, {time.Minute, "minute", "minutes"}}
	for _, u := range units {
		if d >= u.size && d%u.size == 0 {
			return plural(int(d/u.size), u.one, u.many)
		}
	}
	return access.FormatDuration(d)
}

func durationOption(d, maxD time.Duration) *slack.OptionBlockObject {
	text := humanDuration(d)
	if d == maxD {
		text += " (max)"
	}
	return option(access.FormatDuration(d), text, "")
}

// durationInputs are the duration menu and the free-text override; with
// dispatch, choosing a duration sends block_actions (the request form
// refreshes its summary).
func durationInputs(label string, maxD, initial time.Duration, dispatch bool) []slack.Block {
	choices := durationChoices(maxD, initial)
	opts := make([]*slack.OptionBlockObject, 0, len(choices))
	var init *slack.OptionBlockObject
	for _, d := range choices {
		o := durationOption(d, maxD)
		opts = append(opts, o)
		if d == initial {
			init = o
		}
	}
	if len(opts) > maxOptions {
		opts = opts[len(opts)-maxOptions:]
	}
	if init == nil && len(opts) > 0 {
		init = opts[0]
	}
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a duration"), actionDuration, opts...)
	sel.InitialOption = init
	limit := "No maximum applies."
	if maxD > 0 {
		limit = "Up to " + humanDuration(maxD) + "."
	}
	menu := slack.NewInputBlock(blockDuration+"."+shortHash(maxD.String()), plain(label), plain(limit), sel)
	menu.DispatchAction = dispatch
	custom := slack.NewPlainTextInputBlockElement(plain("e.g. 90m, 1d12h"), actionCustom)
	custom.MaxLength = 20
	hint := "Overrides the choice above."
	if maxD > 0 {
		hint += " At most " + access.FormatDuration(maxD) + "."
	}
	free := slack.NewInputBlock(blockCustom, plain("Or type a duration"), plain(hint), custom)
	free.Optional = true
	return []slack.Block{menu, free}
}

// commentInput is an optional free-text comment.
func commentInput(label string) *slack.InputBlock {
	el := slack.NewPlainTextInputBlockElement(plain("Optional"), actionComment)
	el.Multiline = true
	el.MaxLength = workflow.MaxReasonLength
	in := slack.NewInputBlock(blockComment, plain(label), nil, el)
	in.Optional = true
	return in
}

// modal assembles a modal view.
func modal(kind, title, submit string, m meta, blocks ...slack.Block) slack.ModalViewRequest {
	v := slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain(truncate(title, maxModalTitle)),
		Close:           plain("Cancel"),
		Blocks:          slack.Blocks{BlockSet: blocks},
		CallbackID:      kind,
		PrivateMetadata: encodeMeta(m),
	}
	if submit != "" {
		v.Submit = plain(submit)
	} else {
		v.Close = plain("Close")
	}
	return v
}

// noticeModal tells the user something (an error, a link) in a modal.
func noticeModal(user, title, text string) slack.ModalViewRequest {
	return modal(kindNotice, title, "", meta{K: kindNotice, U: user}, section("notice", text))
}

// requestLink is a mrkdwn link to the request in the dashboard, or the ID.
func requestLink(baseURL, id string) string {
	if baseURL == "" {
		return "Request `" + id + "`"
	}
	return fmt.Sprintf("Request %#q · <%s/requests/%s|Open in Sesame>", id, baseURL, id)
}

// stepText describes step i of r ("step 1 of 2 · Owner approval · needs 1 approval").
func stepText(r *access.Request, i int) string {
	if i < 0 || i >= len(r.Steps) {
		return ""
	}
	st := r.Steps[i]
	return fmt.Sprintf("step %d of %d · %s · needs %s", i+1, len(r.Steps), escape(st.Name), plural(st.Required, "approval", "approvals"))
}

// quote renders user text as a mrkdwn quote.
func quote(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "_No reason given._"
	}
	lines := strings.Split(escape(truncate(s, 1500)), "\n")
	return ">" + strings.Join(lines, "\n>")
}
