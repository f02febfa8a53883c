package slackbot

import (
	"fmt"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
)

// decideModal asks an approver to confirm an approval (with an optional
// comment and changed duration) or a rejection (with an optional comment).
func decideModal(m meta, ri *requestInfo) slack.ModalViewRequest {
	r := ri.Req
	summary := fmt.Sprintf("%s asks for *%s* on *%s* for *%s* (%s).\n%s",
		ri.who(r.RequesterID), escape(ri.roles()), escape(appName(ri.App)), humanDuration(r.Duration),
		stepText(r, r.CurrentStep), quote(r.Reason))
	if r.IsExtension() {
		summary = fmt.Sprintf("%s asks for *more time* on *%s* on *%s*.\n🔁 %s.\n%s",
			ri.who(r.RequesterID), escape(ri.roles()), escape(appName(ri.App)), extensionLine(ri), quote(r.Reason))
	}
	blocks := []slack.Block{section("summary", summary)}
	if m.Out == string(access.Approve) {
		blocks = append(blocks, durationInputs("Duration", r.MaxDuration, r.Duration, false)...)
		blocks = append(blocks, commentInput("Comment"))
		return modal(kindDecide, "Approve request", "Approve", m, blocks...)
	}
	blocks = append(blocks, commentInput("Why are you rejecting it?"))
	return modal(kindDecide, "Reject request", "Reject", m, blocks...)
}

// extendModal lets an admin move a grant's expiry.
func extendModal(m meta, gi *grantInfo) slack.ModalViewRequest {
	g := gi.Grant
	text := fmt.Sprintf("*%s* on *%s* expires %s.\nChoose how long it should last from now.",
		escape(entName(gi.Ent)), escape(appName(gi.App)), when(g.ExpiresAt))
	blocks := []slack.Block{section("summary", text)}
	blocks = append(blocks, durationInputs("New duration from now", g.MaxDuration, g.Duration, false)...)
	return modal(kindExtend, "Extend access", "Extend", m, blocks...)
}
