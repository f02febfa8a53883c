package slackbot

import (
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
)

// approvalMessage is an approver's copy of a request: who asks, for what,
// why, the step, and, while the approver can still decide, Approve and
// Reject buttons (value: the request ID only; the server re-checks
// everything). Once the approver cannot decide any more it shows the
// outcome instead, without buttons.
func approvalMessage(ri *requestInfo, approver *access.User, reminder bool, baseURL string) (string, []slack.Block) {
	r := ri.Req
	requester := plainName(ri.Users[r.RequesterID], r.RequesterID)
	fallback := fmt.Sprintf("%s asks for %s on %s for %s", requester, ri.roles(), appName(ri.App), humanDuration(r.Duration))
	head := fmt.Sprintf("%s asks for access to *%s*.", ri.who(r.RequesterID), escape(appName(ri.App)))
	if reminder {
		fallback = "Reminder: " + fallback
		head = fmt.Sprintf("⏰ *Reminder:* %s is still waiting for a decision on access to *%s*.", ri.who(r.RequesterID), escape(appName(ri.App)))
	}
	if r.IsExtension() {
		fallback = fmt.Sprintf("%s asks for more time on %s on %s: %s", requester, ri.roles(), appName(ri.App), humanDuration(r.Duration))
		head = fmt.Sprintf("%s asks for *more time* on access to *%s* they already have.", ri.who(r.RequesterID), escape(appName(ri.App)))
		if reminder {
			fallback = "Reminder: " + fallback
			head = fmt.Sprintf("⏰ *Reminder:* %s is still waiting for a decision on more time on *%s*.", ri.who(r.RequesterID), escape(appName(ri.App)))
		}
	}
	stepIdx := min(r.CurrentStep, len(r.Steps)-1)
	blocks := []slack.Block{
		section("head", head),
		fields("details",
			"*Roles*\n"+escape(ri.roles()),
			"*Duration*\n"+humanDuration(r.Duration)+maxNote(r),
			"*Approval*\n"+stepText(r, stepIdx),
			"*Requested*\n"+when(r.CreatedAt)),
	}
	if r.IsExtension() {
		blocks = append(blocks, section("extension", "🔁 "+extensionLine(ri)))
	}
	blocks = append(blocks, section("reason", "*Reason*\n"+quote(r.Reason)))
	if _, err := r.CheckDecider(approver); err == nil {
		blocks = append(blocks, slack.NewActionBlock("decide",
			button(verbApprove, "Approve", r.ID, slack.StylePrimary),
			button(verbReject, "Reject", r.ID, slack.StyleDanger)))
		if n := r.Approvals(r.CurrentStep); n > 0 {
			blocks = append(blocks, contextText("progress", fmt.Sprintf("%s of %d at this step so far: %s.",
				plural(n, "approval", "approvals"), r.Steps[r.CurrentStep].Required, approvedBy(ri, r.CurrentStep))))
		}
	} else {
		blocks = append(blocks, section("status", statusText(ri, approver)))
	}
	blocks = append(blocks, contextText("link", requestLink(baseURL, r.ID)))
	return fallback, blocks
}

func maxNote(r *access.Request) string {
	if r.MaxDuration > 0 {
		return " (max " + humanDuration(r.MaxDuration) + ")"
	}
	return ""
}

// approvedBy lists who approved at step.
func approvedBy(ri *requestInfo, step int) string {
	var who []string
	for _, d := range ri.Req.Decisions {
		if d.Step == step && d.Outcome == access.Approve {
			who = append(who, ri.who(d.ApproverID))
		}
	}
	return strings.Join(who, ", ")
}

// lastDecision returns the request's last decision, if any.
func lastDecision(r *access.Request) (access.Decision, bool) {
	if len(r.Decisions) == 0 {
		return access.Decision{}, false
	}
	return r.Decisions[len(r.Decisions)-1], true
}

// statusText tells an approver who can no longer decide where the request
// stands and who decided.
func statusText(ri *requestInfo, approver *access.User) string {
	r := ri.Req
	switch r.State {
	case access.RequestPending:
		mine := slices.IndexFunc(r.Decisions, func(d access.Decision) bool { return approver != nil && d.ApproverID == approver.ID })
		st := r.Steps[r.CurrentStep]
		left := st.Required - r.Approvals(r.CurrentStep)
		switch {
		case mine >= 0 && r.Decisions[mine].Step == r.CurrentStep:
			return fmt.Sprintf("✅ You approved this. Waiting for %s at step %d (%s).", plural(left, "more approval", "more approvals"),
				r.CurrentStep+1, escape(st.Name))
		case mine >= 0:
			return fmt.Sprintf("✅ You approved step %d. Now waiting for step %d (%s).", r.Decisions[mine].Step+1, r.CurrentStep+1, escape(st.Name))
		case r.CurrentStep > 0:
			return fmt.Sprintf("➡️ Step %d was approved by %s. Now waiting for step %d (%s).",
				r.CurrentStep, approvedBy(ri, r.CurrentStep-1), r.CurrentStep+1, escape(st.Name))
		}
		return "⏳ Waiting for others to decide."
	case access.RequestApproved, access.RequestActive, access.RequestExpired, access.RequestFailed, access.RequestExtended:
		if r.AutoApproveRule != "" {
			return "✅ Approved automatically (rule `" + escape(r.AutoApproveRule) + "`)."
		}
		d, _ := lastDecision(r)
		s := "✅ *Approved* by " + ri.who(d.ApproverID)
		if d.Duration != 0 {
			s += " for " + humanDuration(d.Duration)
		}
		s += "."
		switch {
		case r.State == access.RequestExtended:
			s += " The access was extended."
		case r.IsExtension() && r.State == access.RequestFailed:
			s += " The access had already ended, so nothing was extended."
		}
		if d.Comment != "" {
			s += "\n" + quote(d.Comment)
		}
		return s
	case access.RequestRejected:
		d, _ := lastDecision(r)
		s := "❌ *Rejected* by " + ri.who(d.ApproverID) + "."
		if d.Comment != "" {
			s += "\n" + quote(d.Comment)
		}
		return s
	case access.RequestCancelled:
		return "🚫 *Cancelled.* Nothing to decide any more."
	case access.RequestTimedOut:
		return "⌛ *Timed out:* nobody decided before " + when(r.PendingUntil) + "."
	}
	return "This request is " + string(r.State) + "."
}

// noticeData is what a message to a requester or an app owner is about.
type noticeData struct {
	Kind      access.NotificationKind
	Recipient *access.User
	Req       *requestInfo
	Grant     *grantInfo // grant notifications
	Data      map[string]string
	// By is the person who acted (approved, rejected, cancelled), nil if
	// none or unknown.
	By *access.User
	// Owners name the app's owners (for "ask them" hints).
	Owners  []*access.User
	BaseURL string
	Command string
}

// noticeMessage builds the DM for every notification kind that is not an
// approver's copy of a request.
func noticeMessage(d noticeData) (string, []slack.Block) {
	ri := d.Req
	what := "*" + escape(ri.roles()) + "* on *" + escape(appName(ri.App)) + "*"
	whatPlain := ri.roles() + " on " + appName(ri.App)
	if d.Grant != nil {
		what = "*" + escape(entName(d.Grant.Ent)) + "* on *" + escape(appName(d.Grant.App)) + "*"
		whatPlain = entName(d.Grant.Ent) + " on " + appName(d.Grant.App)
	}
	r := ri.Req
	var text, fallback string
	var extra []slack.Block
	byName := "someone"
	if d.By != nil {
		byName = who(d.By, d.By.ID)
	}
	switch d.Kind {
	case access.NotifyRequestCreated:
		if r.IsExtension() {
			text, fallback = extensionCreatedText(ri, what), "Your request for more time on "+whatPlain+" was sent"
			if r.State != access.RequestPending {
				fallback = "Your request for more time on " + whatPlain + " was approved automatically"
			}
			break
		}
		if r.State != access.RequestPending && r.AutoApproveRule != "" {
			text = fmt.Sprintf("✅ Your request for %s (%s) was *approved automatically* (rule %#q). I'm setting up access and will tell you when it's ready.",
				what, humanDuration(r.Duration), escape(r.AutoApproveRule))
			fallback = "Your request for " + whatPlain + " was approved automatically"
			break
		}
		var asked []string
		if r.CurrentStep < len(r.Steps) {
			for _, id := range r.Steps[r.CurrentStep].Notified {
				asked = append(asked, ri.who(id))
			}
		}
		text = fmt.Sprintf("📨 Your request for %s for *%s* was sent to %s (%s). I'll tell you when they decide.",
			what, humanDuration(r.Duration), strings.Join(asked, ", "), stepText(r, min(r.CurrentStep, len(r.Steps)-1)))
		fallback = "Your request for " + whatPlain + " was sent"
	case access.NotifyRequestApproved:
		if d.Data["by"] == "" {
			text = fmt.Sprintf("✅ Your request for %s was *approved automatically*.", what)
		} else {
			text = fmt.Sprintf("✅ Your request for %s was *approved* by %s.", what, byName)
		}
		text += fmt.Sprintf(" Access will last *%s*. I'm setting it up now.", humanDuration(r.Duration))
		if dec, ok := lastDecision(r); ok && dec.Comment != "" && d.Data["by"] != "" {
			text += "\n" + quote(dec.Comment)
		}
		fallback = "Your request for " + whatPlain + " was approved"
	case access.NotifyRequestRejected:
		text = fmt.Sprintf("❌ Your %s %s was *rejected* by %s.", requestNoun(r), what, byName)
		if r.IsExtension() {
			text += " Your access ends as planned."
		}
		if c := d.Data["comment"]; c != "" {
			text += "\n" + quote(c)
		}
		fallback = "Your request for " + whatPlain + " was rejected"
	case access.NotifyRequestCancelled:
		text = fmt.Sprintf("🚫 Your %s %s was *cancelled* by %s.", requestNoun(r), what, byName)
		fallback = "Your request for " + whatPlain + " was cancelled"
	case access.NotifyRequestTimedOut:
		text = fmt.Sprintf("⌛ Your %s %s *timed out*: nobody decided before %s.", requestNoun(r), what, when(r.PendingUntil))
		fallback = "Your request for " + whatPlain + " timed out"
		extra = append(extra, slack.NewActionBlock("again", button(verbRequestAgain, "Request again", r.ID, slack.StylePrimary)))
	case access.NotifyGrantActive:
		g := d.Grant.Grant
		text = fmt.Sprintf("🔓 *Task completed:* you now have %s until %s.", what, when(g.ExpiresAt))
		fallback = "Task completed: you now have " + whatPlain
		revoke := button(verbRevoke, "I'm done, remove it", g.ID, "")
		revoke.Confirm = slack.NewConfirmationBlockObject(plain("Remove access now?"),
			plain(truncate("You will lose "+whatPlain+" right away.", 300)), plain("Remove it"), plain("Keep it"))
		extra = append(extra, slack.NewActionBlock("grant", revoke))
	case access.NotifyGrantFailed:
		g := d.Grant.Grant
		errText := "`" + escape(truncate(oneLine(d.Data["error"]), 500)) + "`"
		if d.Recipient != nil && d.Recipient.ID == g.UserID {
			text = fmt.Sprintf("⚠️ *Task failed:* Sesame could not set up %s: %s\nThe app's owners have been told. Try again later with `%s %s`%s.",
				what, errText, d.Command, escape(d.Grant.App.ID), askOwners(d.Owners))
			fallback = "Task failed: Sesame could not set up " + whatPlain
		} else {
			text = fmt.Sprintf("⚠️ Setting up %s for %s failed after %s: %s\nCheck the connector, then ask them to request again.",
				what, who(d.Req.Users[g.UserID], g.UserID), plural(g.Attempts, "attempt", "attempts"), errText)
			fallback = "Setting up " + whatPlain + " failed"
		}
	case access.NotifyGrantExpiring:
		g := d.Grant.Grant
		text = fmt.Sprintf("⏳ Your access to %s expires %s.", what, when(g.ExpiresAt))
		fallback = "Your access to " + whatPlain + " expires soon"
		extra = append(extra, slack.NewActionBlock("grant", button(verbExtend, "Extend", g.ID, slack.StylePrimary)))
	case access.NotifyGrantRevoked:
		reason := d.Data["reason"]
		if reason == "" || reason == "expired" {
			text = fmt.Sprintf("🔒 Your access to %s has *expired* and was removed.", what)
		} else {
			text = fmt.Sprintf("🔒 Your access to %s was *removed*: %s.", what, escape(truncate(reason, 500)))
		}
		fallback = "Your access to " + whatPlain + " was removed"
	case access.NotifyGrantExtended:
		g := d.Grant.Grant
		switch {
		case d.Data["credentials"] == "reissued":
			text = fmt.Sprintf("🔑 New credentials for %s, valid until %s, are waiting for you: fetch them once with `sesame grant credentials %s`. Your old ones stop working at their own expiry.",
				what, whenText(d.Data["expires_at"]), escape(g.ID))
		case d.By != nil:
			text = fmt.Sprintf("⏩ Your access to %s was *extended* by %s: it now lasts until %s (it was until %s).",
				what, byName, when(g.ExpiresAt), whenText(d.Data["previous_expires_at"]))
		default:
			text = fmt.Sprintf("⏩ Your access to %s was *extended automatically*: it now lasts until %s (it was until %s).",
				what, when(g.ExpiresAt), whenText(d.Data["previous_expires_at"]))
		}
		fallback = "Your access to " + whatPlain + " was extended"
	case access.NotifyExtensionFailed:
		text = fmt.Sprintf("⚠️ Your request for more time on %s was approved, but nothing could be extended: %s",
			what, escape(truncate(oneLine(d.Data["error"]), 500)))
		fallback = "Your access to " + whatPlain + " was not extended"
		extra = append(extra, slack.NewActionBlock("again", button(verbRequestAgain, "Request again", r.ID, slack.StylePrimary)))
	case access.NotifyManualTask:
		g := d.Grant.Grant
		text = fmt.Sprintf("🛠 *Manual task* for %s, for %s:\n%s\nPress *Mark as done* when it's done.",
			what, who(d.Req.Users[g.UserID], g.UserID), quote(d.Data["task"]))
		fallback = "Manual task for " + whatPlain
		extra = append(extra, slack.NewActionBlock("task", button(verbTaskDone, "Mark as done", g.ID, slack.StylePrimary)))
	case access.NotifyRevokeFailed:
		g := d.Grant.Grant
		text = fmt.Sprintf("🚨 Removing %s from %s *failed*: %#q\nSesame keeps retrying. If it can't, remove the access by hand.",
			what, who(d.Req.Users[g.UserID], g.UserID), escape(truncate(oneLine(d.Data["error"]), 500)))
		fallback = "Removing " + whatPlain + " failed"
	default:
		text = fmt.Sprintf("Update on your request for %s: %s.", what, escape(string(d.Kind)))
		fallback = "Update on " + whatPlain
	}
	blocks := []slack.Block{section("notice", text)}
	blocks = append(blocks, extra...)
	blocks = append(blocks, contextText("link", requestLink(d.BaseURL, r.ID)))
	return fallback, blocks
}

func askOwners(owners []*access.User) string {
	if len(owners) == 0 {
		return ""
	}
	names := make([]string, len(owners))
	for i, o := range owners {
		names[i] = who(o, o.ID)
	}
	return ", or ask " + strings.Join(names, " or ")
}
