package slackbot

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/workflow"
)

// requestForm is everything the request modal shows. The form grows as
// the user chooses: app, then roles (which make the policy known), then
// duration and approvers.
type requestForm struct {
	Meta meta
	// App is the chosen app; nil while the user picks one.
	App *access.App
	// Choices are the apps matching the /access text, offered in a static
	// menu; empty means searching the whole catalog (external menu).
	Choices []*access.App
	Query   string
	// Ents are the app's requestable entitlements; Selected the chosen IDs.
	Ents     []*access.Entitlement
	Selected []string
	// Plan is the policy's answer for Selected; PlanError explains why
	// there is none.
	Plan      *policy.Plan
	PlanError string
	// Duration is the chosen preset.
	Duration time.Duration
	// Holding maps entitlement IDs the user already holds to their expiry.
	Holding map[string]time.Time
}

// rolesBlockID ties the roles menu to the app.
func rolesBlockID(appID string) string { return blockRoles + "." + shortHash(appID) }

// approversBlockID ties step i's approver menu to its eligible people.
func approversBlockID(i int, eligible []policy.Approver) string {
	ids := make([]string, len(eligible))
	for j, a := range eligible {
		ids[j] = a.UserID
	}
	return blockApprovers + "-" + strconv.Itoa(i) + "." + shortHash(ids...)
}

func approversActionID(i int) string { return blockApprovers + "-" + strconv.Itoa(i) }

// requestModal builds the request form.
func requestModal(f requestForm) slack.ModalViewRequest {
	if f.App == nil {
		return modal(kindRequest, "Request access", "Next", f.Meta, appPicker(f)...)
	}
	blocks := []slack.Block{sectionWith(blockAppFixed, appLine(f.App), button(actionChange, "Change app", "change", ""))}
	if len(f.Ents) == 0 {
		blocks = append(blocks, section("no_roles", "Nothing in *"+escape(appName(f.App))+"* can be requested. Choose another app."))
		return modal(kindRequest, "Request access", "", f.Meta, blocks...)
	}
	blocks = append(blocks, rolesInput(f), reasonInput(f.Plan))
	switch {
	case f.Plan != nil:
		blocks = append(blocks, durationInputs("Duration", f.Plan.MaxDuration, f.Duration, true)...)
		for i, st := range f.Plan.Steps {
			if st.RequesterChooses && len(st.Eligible) > 0 {
				blocks = append(blocks, approversInput(i, st))
			}
		}
		blocks = append(blocks, section(blockSummary, summaryText(f)))
	case f.PlanError != "":
		blocks = append(blocks, section(blockSummary, "⚠️ "+escape(f.PlanError)))
	default:
		blocks = append(blocks, contextText("hint", "Choose one or more roles to see how long you can have them and who approves."))
	}
	return modal(kindRequest, "Request access", "Submit", f.Meta, blocks...)
}

func appLine(a *access.App) string {
	s := "*App:* " + escape(appName(a))
	if a.Description != "" {
		s += "\n" + escape(truncate(oneLine(a.Description), 300))
	}
	return s
}

func appOption(a *access.App) *slack.OptionBlockObject {
	desc := a.Description
	if desc == "" && a.Name != a.ID {
		desc = a.ID
	}
	return option(a.ID, appName(a), desc)
}

// menuBudget bounds the bytes of options a form carries inline, so that
// a form stays well under what an ack may carry (20 KB over Socket Mode):
// longer lists use type-ahead instead.
const menuBudget = 5000

// optionBytes estimates an option's JSON size.
func optionBytes(o *slack.OptionBlockObject) int {
	n := 80 + len(o.Value) + len(o.Text.Text)
	if o.Description != nil {
		n += 60 + len(o.Description.Text)
	}
	return n
}

func appPicker(f requestForm) []slack.Block {
	var el slack.BlockElement
	hint := "Type to search by name or alias."
	if len(f.Choices) > 0 {
		opts := make([]*slack.OptionBlockObject, 0, min(len(f.Choices), maxOptions))
		size := 0
		for _, a := range f.Choices {
			o := appOption(a)
			if len(a.ID) > maxOptionValue || len(opts) == maxOptions || size+optionBytes(o) > menuBudget {
				continue
			}
			size += optionBytes(o)
			opts = append(opts, o)
		}
		el = slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose an app"), actionApp, opts...)
		hint = fmt.Sprintf("%s matching “%s”. To search every app, run the command without text.",
			plural(len(opts), "app", "apps"), truncate(f.Query, 50))
	} else {
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, plain("Search apps"), actionApp)
		zero := 0
		sel.MinQueryLength = &zero
		el = sel
	}
	in := slack.NewInputBlock(blockApp, plain("App"), plain(hint), el)
	in.DispatchAction = true
	return []slack.Block{in, contextText("hint", "Choose an app to see what you can ask for.")}
}

func rolesInput(f requestForm) *slack.InputBlock {
	var el slack.BlockElement
	opts := make([]*slack.OptionBlockObject, 0, len(f.Ents))
	var initial []*slack.OptionBlockObject
	size := 0
	for _, e := range f.Ents {
		if len(e.ID) > maxOptionValue {
			continue
		}
		o := option(e.ID, entName(e), entDescription(e))
		size += optionBytes(o)
		opts = append(opts, o)
		if slices.Contains(f.Selected, e.ID) {
			initial = append(initial, o)
		}
	}
	if len(opts) <= maxOptions && size <= menuBudget {
		sel := slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, plain("Choose roles"), actionRoles, opts...)
		sel.InitialOptions = initial
		el = sel
	} else {
		sel := slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeExternal, plain("Search roles"), actionRoles)
		zero := 0
		sel.MinQueryLength = &zero
		for _, e := range f.Ents {
			if slices.Contains(f.Selected, e.ID) {
				sel.InitialOptions = append(sel.InitialOptions, option(e.ID, entName(e), entDescription(e)))
			}
		}
		el = sel
	}
	in := slack.NewInputBlock(rolesBlockID(f.App.ID), plain("Roles"), nil, el)
	in.DispatchAction = true
	return in
}

func entDescription(e *access.Entitlement) string {
	d := e.Description
	if e.Risk == access.RiskHigh {
		d = strings.TrimSpace("High risk. " + d)
	}
	if e.MaxDuration > 0 {
		d = strings.TrimSpace(d + " Max " + access.FormatDuration(e.MaxDuration) + ".")
	}
	return d
}

func reasonInput(plan *policy.Plan) *slack.InputBlock {
	el := slack.NewPlainTextInputBlockElement(plain("What do you need it for? A ticket or incident link helps."), actionReason)
	el.Multiline = true
	el.MaxLength = workflow.MaxReasonLength
	hint := "Approvers see this."
	optional := true
	if plan != nil && plan.Reason.Required {
		optional = false
		if plan.Reason.MinLength > 0 {
			hint = fmt.Sprintf("Required, at least %d characters. Approvers see this.", plan.Reason.MinLength)
		}
	}
	in := slack.NewInputBlock(blockReason, plain("Reason"), plain(hint), el)
	in.Optional = optional
	return in
}

func approversInput(i int, st policy.PlanStep) *slack.InputBlock {
	label := truncate("Approvers: "+st.Name, 2000)
	hint := fmt.Sprintf("Pick at least %d of %d (the step needs %s), or leave empty to ask everyone eligible.",
		max(st.Choose, 1), len(st.Eligible), plural(st.Required, "approval", "approvals"))
	var el slack.BlockElement
	opts := make([]*slack.OptionBlockObject, 0, len(st.Eligible))
	size := 0
	for _, a := range st.Eligible {
		o := option(a.UserID, approverName(a), a.Reason)
		size += optionBytes(o)
		opts = append(opts, o)
	}
	if len(opts) <= maxOptions && size <= menuBudget {
		el = slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, plain("Choose approvers"), approversActionID(i), opts...)
	} else {
		sel := slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeExternal, plain("Search approvers"), approversActionID(i))
		zero := 0
		sel.MinQueryLength = &zero
		el = sel
	}
	in := slack.NewInputBlock(approversBlockID(i, st.Eligible), plain(label), plain(hint), el)
	in.Optional = true
	return in
}

func approverName(a policy.Approver) string {
	if a.Name != "" {
		return a.Name + " (" + a.Email + ")"
	}
	return a.Email
}

// summaryText explains what happens on submit: the limits, who approves,
// an automatic approval, or why nobody can.
func summaryText(f requestForm) string {
	p := f.Plan
	var b strings.Builder
	var names []string
	for _, id := range f.Selected {
		if i := slices.IndexFunc(f.Ents, func(e *access.Entitlement) bool { return e.ID == id }); i >= 0 {
			names = append(names, entName(f.Ents[i]))
		}
	}
	fmt.Fprintf(&b, "*You are asking for* %s on *%s*", escape(strings.Join(names, ", ")), escape(appName(f.App)))
	if f.Duration > 0 {
		fmt.Fprintf(&b, " for *%s*", humanDuration(f.Duration))
	}
	b.WriteString(".\n")
	if p.MaxDuration > 0 {
		fmt.Fprintf(&b, "The longest this can last is *%s*.\n", humanDuration(p.MaxDuration))
	}
	if p.AutoApproveRule != "" {
		fmt.Fprintf(&b, "✅ *This request will be approved automatically* (rule `%s`).\n", escape(p.AutoApproveRule))
	} else {
		for i, st := range p.Steps {
			who := "anyone eligible"
			if st.RequesterChooses {
				who = "the people you choose"
			}
			fmt.Fprintf(&b, "• Step %d, *%s*: %s from %s (%s).\n", i+1, escape(st.Name),
				plural(st.Required, "approval", "approvals"), who, plural(len(st.Eligible), "person is eligible", "people are eligible"))
			if len(st.Eligible) < st.Required {
				fmt.Fprintf(&b, "⚠️ Nobody can approve step %d yet: it needs %d approvals but only %d people other than you are eligible. Ask your Sesame admin.\n",
					i+1, st.Required, len(st.Eligible))
			}
		}
	}
	for _, id := range f.Selected {
		if until, ok := f.Holding[id]; ok {
			if len(f.Selected) == 1 {
				fmt.Fprintf(&b, "ℹ️ You already hold `%s` until %s: this request asks to *extend* that grant (the duration counts from the approval).\n",
					escape(id), when(until))
			} else {
				fmt.Fprintf(&b, "ℹ️ You already hold `%s` until %s: ask for more time on it alone (Extend, in your Home tab), and for the others in a separate request.\n",
					escape(id), when(until))
			}
		}
	}
	return strings.TrimSpace(b.String())
}

// submittedModal confirms a stored request.
func submittedModal(user string, ri *requestInfo, baseURL string) slack.ModalViewRequest {
	r := ri.Req
	var b strings.Builder
	switch {
	case r.State == access.RequestExtended && ri.Extends != nil:
		fmt.Fprintf(&b, "⏩ *Extended at once* (rule `%s`): *%s* on *%s* now lasts until %s.",
			escape(r.AutoApproveRule), escape(ri.roles()), escape(appName(ri.App)), when(ri.Extends.ExpiresAt))
	case r.State == access.RequestApproved || r.State == access.RequestActive:
		rule := ""
		if r.AutoApproveRule != "" {
			rule = " (rule `" + escape(r.AutoApproveRule) + "`)"
		}
		fmt.Fprintf(&b, "✅ *Approved automatically*%s. I'm setting up *%s* on *%s* for *%s* and will send you a message when it's ready.",
			rule, escape(ri.roles()), escape(appName(ri.App)), humanDuration(r.Duration))
	case r.IsExtension() && r.State == access.RequestPending && r.CurrentStep < len(r.Steps):
		var asked []string
		for _, id := range r.Steps[r.CurrentStep].Notified {
			asked = append(asked, ri.who(id))
		}
		fmt.Fprintf(&b, "📨 *Extension request sent.* %s.\nI asked %s to approve (%s). I'll send you a message when they decide.",
			extensionLine(ri), strings.Join(asked, ", "), stepText(r, r.CurrentStep))
	case r.IsExtension():
		fmt.Fprintf(&b, "Your extension request is *%s*. %s", r.State, requestLink(baseURL, r.ID))
	default:
		var asked []string
		if len(r.Steps) > 0 {
			for _, id := range r.Steps[r.CurrentStep].Notified {
				asked = append(asked, ri.who(id))
			}
		}
		fmt.Fprintf(&b, "📨 *Request sent.* You asked for *%s* on *%s* for *%s*.\nI asked %s to approve (%s). I'll send you a message when they decide.",
			escape(ri.roles()), escape(appName(ri.App)), humanDuration(r.Duration), strings.Join(asked, ", "), stepText(r, r.CurrentStep))
	}
	title := "Request sent"
	if r.State != access.RequestPending {
		title = "Request approved"
	}
	return modal(kindNotice, title, "", meta{K: kindNotice, U: user},
		section("done", b.String()), contextText("link", requestLink(baseURL, r.ID)))
}
