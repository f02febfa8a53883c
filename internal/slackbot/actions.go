package slackbot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// blockActions handles a button click or a menu choice.
func (b *Bot) blockActions(ctx context.Context, ic *slack.InteractionCallback) {
	if len(ic.ActionCallback.BlockActions) == 0 {
		return
	}
	act := ic.ActionCallback.BlockActions[0]
	verb := actionVerb(act.ActionID)
	if ic.View.Type == slack.VTModal {
		// Request form changes were queued before the ack (formChange);
		// other changes inside modals are read on submit.
		return
	}
	if verb == verbOpenURL || act.Value == "" {
		return // link buttons open in the browser
	}
	if verb == verbLink {
		b.linkButton(ctx, ic)
		return
	}
	actor, err := b.actor(ctx, ic.User.ID)
	if err != nil {
		b.tell(ctx, ic, "Not linked", b.errorText(ctx, err))
		return
	}
	switch verb {
	case verbNewRequest:
		b.openView(ctx, ic, requestModal(requestForm{Meta: meta{K: kindRequest, U: ic.User.ID}}))
	case verbApprove, verbReject:
		b.openDecide(ctx, ic, actor, act.Value, verb)
	case verbCancel:
		r, err := b.svc.Cancel(ctx, actor.ID, act.Value)
		if err != nil {
			b.tell(ctx, ic, "Not cancelled", b.errorText(ctx, err))
			return
		}
		b.tell(ctx, ic, "Cancelled", "🚫 Your request was cancelled; the approvers will no longer be asked.")
		b.afterChange(ctx, r)
	case verbRemind:
		r, err := b.svc.Remind(ctx, actor.ID, act.Value)
		if err != nil {
			b.tell(ctx, ic, "No reminder sent", b.errorText(ctx, err))
			return
		}
		b.tell(ctx, ic, "Reminder sent", "⏰ I reminded the approvers of the current step. You can send another in "+
			humanDuration(access.ReminderInterval)+".")
		b.log.DebugContext(ctx, "reminder sent", "request", r.ID, "count", r.RemindCount)
	case verbExtend:
		b.openExtend(ctx, ic, actor, act.Value)
	case verbRevoke:
		g, err := b.svc.RevokeNow(ctx, actor.ID, act.Value, "done, via Slack")
		if err != nil {
			b.tell(ctx, ic, "Not removed", b.errorText(ctx, err))
			return
		}
		b.tell(ctx, ic, "Removing access", "🔒 Removing your access now. I'll confirm when it's gone.")
		b.refreshHomes(ctx, g.UserID)
	case verbTaskDone:
		g, err := b.svc.CompleteTask(ctx, actor.ID, act.Value)
		if err != nil {
			b.tell(ctx, ic, "Not marked done", b.errorText(ctx, err))
			return
		}
		b.markDone(ctx, ic, actor)
		b.refreshHomes(ctx, g.UserID, actor.ID)
	case verbRequestAgain:
		b.requestAgain(ctx, ic, actor, act.Value)
	case verbAlertWatch, verbAlertIgnore:
		b.alertAction(ctx, ic, actor, act.Value, verb)
	default:
		b.log.DebugContext(ctx, "ignored slack action", "action", act.ActionID)
	}
}

// linkButton answers "Link my account" on the Home tab of a Slack user
// Sesame does not know (or confirms the link of one it knows).
func (b *Bot) linkButton(ctx context.Context, ic *slack.InteractionCallback) {
	if u, err := b.actor(ctx, ic.User.ID); err == nil {
		b.tell(ctx, ic, "Already linked", fmt.Sprintf("✅ Your Slack account is linked to *%s* in Sesame.", escape(u.Email)))
		return
	}
	link, err := b.linker.Start(WithSlackIdentity(ctx, ic.User.Name, ic.Team.Domain), ic.User.ID)
	if err != nil {
		b.tell(ctx, ic, "Cannot link", b.errorText(ctx, err))
		return
	}
	b.openView(ctx, ic, noticeModal(ic.User.ID, "Link your account", loginText(link)))
}

// openView opens a modal with the interaction's trigger.
func (b *Bot) openView(ctx context.Context, ic *slack.InteractionCallback, v slack.ModalViewRequest) {
	if _, err := b.api.OpenViewContext(ctx, ic.TriggerID, v); err != nil {
		b.log.WarnContext(ctx, "views.open failed", "callback", v.CallbackID, "err", err)
		if ic.Container.Type == "message" {
			b.tell(ctx, ic, "", "I couldn't open the form ("+slackErrorText(err)+"). Please try again.")
		}
	}
}

// afterChange refreshes what shows request r: its approvers' messages and
// the Home tabs of everyone involved (best effort; notifications follow).
func (b *Bot) afterChange(ctx context.Context, r *access.Request) {
	b.bg.goTimeout(ctx, "refresh request messages", 30*time.Second, func(ctx context.Context) error {
		return b.refreshCopies(ctx, r.ID, allCopies, "")
	})
	b.refreshHomes(ctx, append([]string{r.RequesterID}, r.Approvers()...)...)
}

// openDecide opens the approve or reject form, after checking (for a
// clear answer; the workflow checks again on submit) that the user may
// decide now. A click on a stale message explains what happened and
// brings that message up to date.
func (b *Bot) openDecide(ctx context.Context, ic *slack.InteractionCallback, actor *access.User, reqID, verb string) {
	ri, err := newLoader(b.st).requestByID(ctx, reqID)
	if err == nil && !workflow.CanView(actor, ri.Req) {
		err = access.Errorf(access.CodeNotFound, "request %s was not found", reqID)
	}
	if err != nil {
		b.tell(ctx, ic, "Request not found", b.errorText(ctx, err))
		return
	}
	if _, err := ri.Req.CheckDecider(actor); err != nil {
		text := b.errorText(ctx, err)
		if errors.Is(err, access.ErrInvalidTransition) || errors.Is(err, access.ErrAlreadyDecided) {
			text = "This request is no longer waiting for your decision. " + statusText(ri, actor)
		}
		b.tell(ctx, ic, "Nothing to decide", text)
		b.bg.goTimeout(ctx, "refresh stale message", 30*time.Second, func(ctx context.Context) error {
			return b.refreshCopies(ctx, reqID, recipientCopies(actor.ID), "")
		})
		return
	}
	m := meta{K: kindDecide, U: ic.User.ID, Req: reqID, Out: verb}
	if ic.Container.Type == "message" && slackIDPattern.MatchString(ic.Container.ChannelID) && tsPattern.MatchString(ic.Container.MessageTs) {
		m.Ch, m.TS = ic.Container.ChannelID, ic.Container.MessageTs
	}
	b.openView(ctx, ic, decideModal(m, ri))
}

// openExtend extends a grant: the holder gets the extension form (an
// extension request, see openExtension); admins and the app's owners get
// the extend form (workflow.Extend, at once).
func (b *Bot) openExtend(ctx context.Context, ic *slack.InteractionCallback, actor *access.User, grantID string) {
	g, err := b.st.GrantGetByID(ctx, grantID, false)
	if errors.Is(err, store.ErrNotFound) {
		err = access.Errorf(access.CodeNotFound, "grant %s was not found", grantID)
	}
	if err != nil {
		b.tell(ctx, ic, "Not found", b.errorText(ctx, err))
		return
	}
	l := newLoader(b.st)
	gi, err := l.grant(ctx, g)
	if err != nil {
		b.tell(ctx, ic, "Error", b.errorText(ctx, err))
		return
	}
	owner := slices.Contains(gi.App.Owners, actor.ID) && actor.ID != g.UserID
	switch {
	case actor.ID == g.UserID:
		b.openExtension(ctx, ic, actor, gi)
	case actor.HasRole(access.RoleAdmin) || owner:
		if g.State != access.GrantActive {
			b.tell(ctx, ic, "Not active", "This access is not active, so there is nothing to extend.")
			return
		}
		b.openView(ctx, ic, extendModal(meta{K: kindExtend, U: ic.User.ID, Grt: g.ID}, gi))
	default:
		b.tell(ctx, ic, "Not allowed", "Only the holder, an owner of the app or an admin can extend this access.")
	}
}

// requestAgain opens the request form prefilled like requestID.
func (b *Bot) requestAgain(ctx context.Context, ic *slack.InteractionCallback, actor *access.User, requestID string) {
	r, err := b.st.RequestGetByID(ctx, requestID, false)
	if err == nil && r.RequesterID != actor.ID {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		err = access.Errorf(access.CodeNotFound, "request %s was not found", requestID)
	}
	if err != nil {
		b.tell(ctx, ic, "Not found", b.errorText(ctx, err))
		return
	}
	app, err := b.st.AppGetByID(ctx, r.AppID)
	if err != nil {
		b.tell(ctx, ic, "Not found", b.errorText(ctx, fmt.Errorf("load app: %w", err)))
		return
	}
	f, err := b.formForApp(ctx, actor, meta{K: kindRequest, U: ic.User.ID}, app, r.EntitlementIDs)
	if err != nil {
		b.tell(ctx, ic, "Error", b.errorText(ctx, err))
		return
	}
	b.openView(ctx, ic, requestModal(f))
}

// markDone replaces the buttons of a manual-task message with who did it.
func (b *Bot) markDone(ctx context.Context, ic *slack.InteractionCallback, actor *access.User) {
	if ic.Container.Type != "message" {
		b.tell(ctx, ic, "Done", "✅ Marked as done.")
		return
	}
	var blocks []slack.Block
	for _, bl := range ic.Message.Blocks.BlockSet {
		if bl.BlockType() != slack.MBTAction {
			blocks = append(blocks, bl)
		}
	}
	blocks = append(blocks, contextText("done", "✅ Marked as done by "+who(actor, actor.ID)+"."))
	if _, _, _, err := b.api.UpdateMessageContext(ctx, ic.Container.ChannelID, ic.Container.MessageTs,
		slack.MsgOptionText(ic.Message.Text, false), slack.MsgOptionBlocks(blocks...)); err != nil {
		b.log.WarnContext(ctx, "update task message", "err", err)
		b.tell(ctx, ic, "Done", "✅ Marked as done.")
	}
}

// requestFormChanged re-renders the request form after the user chose an
// app, roles or a duration: change n of the view, run after the ack
// (refreshFormLater). views.update carries the view's hash, and a refresh
// is sent only while no newer change of the form arrived, so an older
// refresh never overwrites a newer one.
func (b *Bot) requestFormChanged(ctx context.Context, ic *slack.InteractionCallback, act *slack.BlockAction, n uint64) {
	m, err := decodeMeta(ic.View.PrivateMetadata)
	if err != nil || m.K != kindRequest || m.U != ic.User.ID {
		b.log.WarnContext(ctx, "request form with bad metadata", "user", ic.User.ID, "err", err)
		return
	}
	actor, err := b.actor(ctx, ic.User.ID)
	if err != nil {
		b.tell(ctx, ic, "Not linked", b.errorText(ctx, err))
		return
	}
	f, err := b.formFromState(ctx, actor, m, &ic.View, act)
	if err != nil {
		f.PlanError = b.errorText(ctx, err)
	}
	if !b.forms.current(ic.View.ID, n) {
		return // a newer change of this form follows
	}
	_, err = b.api.UpdateViewContext(ctx, requestModal(f), "", ic.View.Hash, ic.View.ID)
	if slackCode(err) == "hash_conflict" && b.forms.current(ic.View.ID, n) {
		// An earlier refresh landed after this change was sent; this one
		// read the newest state, so it replaces that refresh.
		_, err = b.api.UpdateViewContext(ctx, requestModal(f), "", "", ic.View.ID)
	}
	if err != nil && slackCode(err) != "hash_conflict" {
		b.log.WarnContext(ctx, "views.update of the request form failed", "err", err)
	}
}

// formFromState rebuilds the request form from the view's state after act.
func (b *Bot) formFromState(ctx context.Context, actor *access.User, m meta, v *slack.View, act *slack.BlockAction) (requestForm, error) {
	base := meta{K: kindRequest, U: m.U}
	appID := m.App
	switch act.ActionID {
	case actionChange:
		return requestForm{Meta: base}, nil
	case actionApp:
		appID = act.SelectedOption.Value
	}
	if appID == "" {
		return requestForm{Meta: base}, nil
	}
	app, err := b.lookupApp(ctx, appID)
	if err != nil {
		return requestForm{Meta: base}, err
	}
	if act.ActionID == actionApp {
		return b.formForApp(ctx, actor, base, app, nil)
	}
	f, err := b.formForApp(ctx, actor, base, app, nil)
	if err != nil {
		return f, err
	}
	_, chosen := stateValues(v, rolesBlockID(app.ID), actionRoles)
	for _, id := range chosen {
		if slices.ContainsFunc(f.Ents, func(e *access.Entitlement) bool { return e.ID == id }) {
			f.Selected = append(f.Selected, id)
		}
	}
	if len(f.Selected) == 0 {
		return f, nil
	}
	d, _ := stateDuration(v)
	b.fillPlan(ctx, actor, &f, d.value)
	return f, nil
}
