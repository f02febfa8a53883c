package slackbot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// viewSubmission handles a modal's submit: it returns the response_action
// (nil closes the modal).
func (b *Bot) viewSubmission(ctx context.Context, ic *slack.InteractionCallback) *slack.ViewSubmissionResponse {
	m, err := decodeMeta(ic.View.PrivateMetadata)
	if err != nil || m.U != ic.User.ID || m.K != ic.View.CallbackID {
		b.log.WarnContext(ctx, "view submission with bad metadata", "user", ic.User.ID, "callback", ic.View.CallbackID, "err", err)
		return update(noticeModal(ic.User.ID, "Form out of date", "This form is out of date or was not opened for you. Please start again."))
	}
	if m.K == kindNotice {
		return nil
	}
	actor, err := b.actor(ctx, ic.User.ID)
	if err != nil {
		return update(noticeModal(ic.User.ID, "Not linked", b.errorText(ctx, err)))
	}
	switch m.K {
	case kindRequest:
		return b.submitRequest(ctx, ic, actor, m)
	case kindDecide:
		return b.submitDecision(ctx, ic, actor, m)
	case kindExtend:
		return b.submitExtend(ctx, ic, actor, m)
	}
	return nil
}

func update(v slack.ModalViewRequest) *slack.ViewSubmissionResponse {
	return slack.NewUpdateViewSubmissionResponse(&v)
}

func inlineErrors(errs map[string]string) *slack.ViewSubmissionResponse {
	for k, v := range errs {
		errs[k] = truncate(v, maxErrorText)
	}
	return slack.NewErrorsViewSubmissionResponse(errs)
}

// formErrors maps a workflow error to the form's input blocks: field
// errors to their inputs (blockFor), anything else to fallback. The user
// always sees why a submission was refused.
func (b *Bot) formErrors(ctx context.Context, err error, blockFor func(field string) string, fallback string) map[string]string {
	out := map[string]string{}
	add := func(block, msg string) {
		if out[block] != "" {
			out[block] += " "
		}
		out[block] += upperFirst(msg)
		if !strings.HasSuffix(out[block], ".") {
			out[block] += "."
		}
	}
	if fe, ok := fieldErrors(err); ok {
		fieldsSorted := make([]string, 0, len(fe))
		for f := range fe {
			fieldsSorted = append(fieldsSorted, f)
		}
		slices.Sort(fieldsSorted)
		for _, f := range fieldsSorted {
			block := blockFor(f)
			if block == "" {
				block = fallback
			}
			for _, msg := range fe[f] {
				add(block, msg)
			}
		}
		return out
	}
	out[fallback] = b.errorText(ctx, err)
	return out
}

// submitRequest submits the request form through workflow.Submit.
func (b *Bot) submitRequest(ctx context.Context, ic *slack.InteractionCallback, actor *access.User, m meta) *slack.ViewSubmissionResponse {
	v := &ic.View
	base := meta{K: kindRequest, U: m.U}
	if m.App == "" {
		// The picker's "Next": show the rest of the form for the chosen app.
		_, a, _ := findState(v, blockApp, actionApp)
		if a.SelectedOption.Value == "" {
			return inlineErrors(map[string]string{blockApp: "Choose an app."})
		}
		app, err := b.lookupApp(ctx, a.SelectedOption.Value)
		if err != nil {
			return inlineErrors(map[string]string{blockApp: b.errorText(ctx, err)})
		}
		f, err := b.formForApp(ctx, actor, base, app, nil)
		if err != nil {
			return inlineErrors(map[string]string{blockApp: b.errorText(ctx, err)})
		}
		return update(requestModal(f))
	}
	app, err := b.lookupApp(ctx, m.App)
	if err != nil {
		return update(noticeModal(ic.User.ID, "App not found", b.errorText(ctx, err)))
	}
	rolesID := rolesBlockID(app.ID)
	stateID, roles := stateValues(v, blockRoles, actionRoles)
	if stateID != rolesID {
		return update(noticeModal(ic.User.ID, "Form out of date", "This form is out of date. Please start again."))
	}
	if len(roles) == 0 {
		return inlineErrors(map[string]string{rolesID: "Choose at least one role."})
	}
	dur, shown := stateDuration(v)
	if !shown {
		// Roles were chosen but the form has not shown the policy yet:
		// show it before anything is submitted.
		f, err := b.formForApp(ctx, actor, base, app, roles)
		if err != nil {
			return inlineErrors(map[string]string{rolesID: b.errorText(ctx, err)})
		}
		return update(requestModal(f))
	}
	if dur.err != "" {
		return inlineErrors(map[string]string{dur.blockID: dur.err})
	}
	approvers, firstApprovers, errs := b.chosenApprovers(ctx, actor, v, roles)
	if len(errs) > 0 {
		return inlineErrors(errs)
	}
	r, err := b.svc.Submit(ctx, actor.ID, workflow.SubmitParams{Entitlements: roles, Duration: dur.value,
		Reason: stateText(v, blockReason, actionReason), Approvers: approvers})
	if err != nil {
		return inlineErrors(b.formErrors(ctx, err, func(field string) string {
			switch {
			case field == "duration":
				return dur.blockID
			case field == "reason":
				return blockReason
			case field == "approvers" && firstApprovers != "":
				return firstApprovers
			}
			return rolesID
		}, rolesID))
	}
	ri, err := newLoader(b.st).request(ctx, r)
	if err != nil {
		b.log.WarnContext(ctx, "load submitted request", "request", r.ID, "err", err)
		return update(noticeModal(ic.User.ID, "Request sent", "📨 Request sent. "+requestLink(b.baseURL, r.ID)))
	}
	// The requester's Home tab is republished when request_created is
	// delivered, moments later.
	return update(submittedModal(ic.User.ID, ri, b.baseURL))
}

// chosenApprovers reads the approver menus and checks each step got
// enough (or none: then everyone eligible is asked). It returns the IDs
// chosen and the first menu's block ID.
func (b *Bot) chosenApprovers(ctx context.Context, actor *access.User, v *slack.View, roles []string) ([]string, string, map[string]string) {
	chose := false
	if v.State != nil {
		for id, acts := range v.State.Values {
			for _, a := range acts {
				chose = chose || (strings.HasPrefix(id, blockApprovers+"-") && len(a.SelectedOptions) > 0)
			}
		}
	}
	if !chose {
		return nil, "", nil // everyone eligible is asked; Submit checks the rest
	}
	plan, err := b.svc.Preview(ctx, actor.ID, roles, 0)
	if err != nil {
		return nil, "", nil // Submit reports it
	}
	var out []string
	first := ""
	errs := map[string]string{}
	for i, st := range plan.Steps {
		if !st.RequesterChooses || len(st.Eligible) == 0 {
			continue
		}
		id := approversBlockID(i, st.Eligible)
		if first == "" {
			first = id
		}
		stateID, chosen := stateValues(v, approversActionID(i), approversActionID(i))
		if stateID != "" && stateID != id {
			errs[stateID] = "The people who can approve changed. Choose again."
			continue
		}
		eligible := func(uid string) bool {
			return slices.ContainsFunc(st.Eligible, func(a policy.Approver) bool { return a.UserID == uid })
		}
		for _, uid := range chosen {
			if !eligible(uid) {
				errs[id] = "Choose only people offered here."
			}
		}
		if need := max(st.Choose, 1); len(chosen) > 0 && len(chosen) < need {
			errs[id] = fmt.Sprintf("Choose at least %d, or none to ask everyone eligible.", need)
		}
		out = append(out, chosen...)
	}
	return out, first, errs
}

// lookupApp loads an app; an unknown one is CodeNotFound.
func (b *Bot) lookupApp(ctx context.Context, id string) (*access.App, error) {
	if !idPattern.MatchString(id) {
		return nil, access.Errorf(access.CodeNotFound, "app %q was not found", truncate(id, 80))
	}
	app, err := b.st.AppGetByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, access.Errorf(access.CodeNotFound, "app %s is no longer in the catalog", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load app %s: %w", id, err)
	}
	return app, nil
}

// submitDecision records an approval or rejection through workflow.Decide.
func (b *Bot) submitDecision(ctx context.Context, ic *slack.InteractionCallback, actor *access.User, m meta) *slack.ViewSubmissionResponse {
	v := &ic.View
	comment := stateText(v, blockComment, actionComment)
	var d time.Duration
	durBlock := ""
	if m.Out == string(access.Approve) {
		dur, shown := stateDuration(v)
		if shown && dur.err != "" {
			return inlineErrors(map[string]string{dur.blockID: dur.err})
		}
		durBlock = dur.blockID
		r, err := b.st.RequestGetByID(ctx, m.Req, false)
		if err == nil && dur.value != r.Duration {
			d = dur.value
		}
	}
	r, err := b.svc.Decide(ctx, actor.ID, workflow.DecideParams{RequestID: m.Req, Outcome: access.DecisionOutcome(m.Out),
		Comment: comment, Duration: d})
	if err != nil {
		if _, ok := fieldErrors(err); ok {
			return inlineErrors(b.formErrors(ctx, err, func(field string) string {
				if field == "duration" && durBlock != "" {
					return durBlock
				}
				return blockComment
			}, blockComment))
		}
		b.bg.goTimeout(ctx, "refresh stale message", 30*time.Second, func(ctx context.Context) error {
			return b.refreshCopies(ctx, m.Req, recipientCopies(actor.ID), "")
		})
		return update(noticeModal(ic.User.ID, "Not recorded", b.errorText(ctx, err)))
	}
	b.afterChange(ctx, r)
	return nil
}

// submitExtend moves a grant's expiry through workflow.Extend, or, from
// the holder, makes an extension request (submitExtension).
func (b *Bot) submitExtend(ctx context.Context, ic *slack.InteractionCallback, actor *access.User, m meta) *slack.ViewSubmissionResponse {
	dur, shown := stateDuration(&ic.View)
	if !shown {
		return update(noticeModal(ic.User.ID, "Form out of date", "This form is out of date. Please start again."))
	}
	if dur.err != "" {
		return inlineErrors(map[string]string{dur.blockID: dur.err})
	}
	if held, err := b.st.GrantGetByID(ctx, m.Grt, false); err == nil && held.UserID == actor.ID {
		return b.submitExtension(ctx, ic, actor, m, dur)
	}
	g, err := b.svc.Extend(ctx, actor.ID, m.Grt, dur.value)
	if err != nil {
		if _, ok := fieldErrors(err); ok {
			return inlineErrors(b.formErrors(ctx, err, func(string) string { return dur.blockID }, dur.blockID))
		}
		return update(noticeModal(ic.User.ID, "Not extended", b.errorText(ctx, err)))
	}
	b.refreshHomes(ctx, g.UserID, actor.ID)
	return update(noticeModal(ic.User.ID, "Extended", "✅ The access now lasts until "+when(g.ExpiresAt)+"."))
}
