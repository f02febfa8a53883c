package slackbot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/workflow"
)

// The holder's Extend button (App Home, the expiring-soon DM) opens the
// extension form: how long access should last from the approval (presets
// capped at the max that applies), a reason, and what the policy's
// extension rule will do. Submitting it makes an extension request
// (workflow.RequestExtension) of the same grant. Owners and admins who are
// not the holder get extendModal instead and extend at once.

// openExtension opens the extension form for gi, held by actor, or says
// why there is nothing to ask for.
func (b *Bot) openExtension(ctx context.Context, ic *slack.InteractionCallback, actor *access.User, gi *grantInfo) {
	g := gi.Grant
	if g.State != access.GrantActive {
		b.tell(ctx, ic, "Not active", "This access is not active, so there is nothing to extend. Ask for it again with a new request.")
		return
	}
	plan, err := b.svc.Preview(ctx, actor.ID, []string{g.EntitlementID}, 0)
	if err != nil {
		b.tell(ctx, ic, "Cannot extend", b.errorText(ctx, err))
		return
	}
	if plan.Extension.Approval == policy.ExtensionDeny {
		deny, _ := plan.ExtensionDecision(0)
		b.tell(ctx, ic, "No extensions", escape(deny)+".")
		return
	}
	b.openView(ctx, ic, extensionModal(meta{K: kindExtend, U: ic.User.ID, Grt: g.ID}, gi, plan))
}

// extensionModal is the holder's extension form for gi under plan.
func extensionModal(m meta, gi *grantInfo, plan *policy.Plan) slack.ModalViewRequest {
	g := gi.Grant
	text := fmt.Sprintf("You have *%s* on *%s* until %s.\nChoose how long it should last *from when the extension is approved*; the grant stays the same, nothing is set up again.",
		escape(entName(gi.Ent)), escape(appName(gi.App)), when(g.ExpiresAt))
	initial := plan.DefaultDuration
	if initial == 0 {
		initial = g.Duration
	}
	if plan.MaxDuration > 0 && initial > plan.MaxDuration {
		initial = plan.MaxDuration
	}
	blocks := []slack.Block{section("summary", text)}
	blocks = append(blocks, durationInputs("Duration from approval", plan.MaxDuration, initial, false)...)
	blocks = append(blocks, reasonInput(plan), contextText("approval", extensionApprovalText(plan)))
	return modal(kindExtend, "Ask for more time", "Ask", m, blocks...)
}

// extensionApprovalText says how plan approves an extension.
func extensionApprovalText(plan *policy.Plan) string {
	var b strings.Builder
	switch {
	case plan.Extension.Approval == policy.ExtensionAuto:
		b.WriteString("✅ Extensions of this access are approved at once")
	case plan.AutoApproveRule != "":
		fmt.Fprintf(&b, "✅ This will be approved at once (rule `%s`)", escape(plan.AutoApproveRule))
	default:
		var steps []string
		for _, st := range plan.Steps {
			steps = append(steps, fmt.Sprintf("*%s* (%s)", escape(st.Name), plural(st.Required, "approval", "approvals")))
		}
		b.WriteString("An approver must agree: " + strings.Join(steps, ", then "))
		if w := plan.Extension.AutoWithin; w > 0 {
			fmt.Fprintf(&b, ". Up to *%s* past the current expiry is approved at once", humanDuration(w))
		}
	}
	if plan.MaxDuration > 0 {
		fmt.Fprintf(&b, ". The longest it can last is *%s* from the approval", humanDuration(plan.MaxDuration))
	}
	return b.String() + "."
}

// submitExtension makes the holder's extension request from the form.
func (b *Bot) submitExtension(ctx context.Context, ic *slack.InteractionCallback, actor *access.User, m meta, dur durationField) *slack.ViewSubmissionResponse {
	r, err := b.svc.RequestExtension(ctx, actor.ID, workflow.ExtensionParams{GrantID: m.Grt, Duration: dur.value,
		Reason: stateText(&ic.View, blockReason, actionReason)})
	if err != nil {
		if _, ok := fieldErrors(err); ok {
			return inlineErrors(b.formErrors(ctx, err, func(field string) string {
				if field == "reason" {
					return blockReason
				}
				return dur.blockID
			}, dur.blockID))
		}
		return update(noticeModal(ic.User.ID, "Not sent", b.errorText(ctx, err)))
	}
	ri, err := newLoader(b.st).request(ctx, r)
	if err != nil {
		b.log.WarnContext(ctx, "load extension request", "request", r.ID, "err", err)
		return update(noticeModal(ic.User.ID, "Request sent", "📨 Extension request sent. "+requestLink(b.baseURL, r.ID)))
	}
	if r.State == access.RequestExtended {
		b.refreshHomes(ctx, actor.ID)
	}
	return update(submittedModal(ic.User.ID, ri, b.baseURL))
}

// extensionLine describes an extension request for approvers and the
// requester: the grant it extends, its current expiry, and the expiry it
// asks for (counted from the approval; shown as if approved when asked).
func extensionLine(ri *requestInfo) string {
	r := ri.Req
	if ri.Extends == nil {
		return fmt.Sprintf("Extension of grant %#q: *%s* from approval", escape(r.ExtendsGrantID), humanDuration(r.Duration))
	}
	g := ri.Extends
	s := fmt.Sprintf("Extension of grant %#q, now until %s: *%s* from approval", escape(g.ID), when(g.ExpiresAt), humanDuration(r.Duration))
	if r.State == access.RequestPending {
		s += fmt.Sprintf(" (until %s if approved when asked)", when(r.CreatedAt.Add(r.Duration)))
	}
	return s
}

// extensionCreatedText tells the requester their extension request was
// sent, or approved at once.
func extensionCreatedText(ri *requestInfo, what string) string {
	r := ri.Req
	if r.State != access.RequestPending {
		rule := ""
		if r.AutoApproveRule != "" {
			rule = fmt.Sprintf(" (rule %#q)", escape(r.AutoApproveRule))
		}
		return fmt.Sprintf("⏩ Your request for more time on %s was *approved automatically*%s. I'll confirm the new expiry in a moment.", what, rule)
	}
	var asked []string
	if r.CurrentStep < len(r.Steps) {
		for _, id := range r.Steps[r.CurrentStep].Notified {
			asked = append(asked, ri.who(id))
		}
	}
	return fmt.Sprintf("📨 You already have %s, so I sent your request as an *extension*.\n🔁 %s.\nI asked %s (%s) and will tell you when they decide.",
		what, extensionLine(ri), strings.Join(asked, ", "), stepText(r, min(r.CurrentStep, len(r.Steps)-1)))
}

// whenText shows an RFC 3339 time from notification data like when does,
// or the text itself when it is not one.
func whenText(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return escape(s)
	}
	return when(t)
}

// requestNoun names r in messages to its requester: "request for", or
// "request for more time on" for an extension request.
func requestNoun(r *access.Request) string {
	if r.IsExtension() {
		return "request for more time on"
	}
	return "request for"
}
