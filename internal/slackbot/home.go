package slackbot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// homeLimit is how many items each Home section lists (the tab holds at
// most 100 blocks).
const homeLimit = 10

// homeData is what a user's Home tab shows.
type homeData struct {
	User    *access.User
	Command string
	BaseURL string
	// Waiting are requests the user can decide now.
	Waiting     []*requestInfo
	MoreWaiting bool
	// Open are the user's pending and approved requests.
	Open     []*requestInfo
	MoreOpen bool
	// Grants are the user's active grants and those being set up.
	Grants     []*grantInfo
	MoreGrants bool
}

// homeView is the App Home tab of a linked user.
func homeView(d homeData) slack.HomeTabViewRequest {
	blocks := []slack.Block{
		header("title", "Sesame"),
		sectionWith("intro", fmt.Sprintf("Ask for access to apps for as long as you need it. You are *%s* in Sesame. Type `%s help` anywhere for commands.",
			escape(d.User.Email), d.Command), button(verbNewRequest, "Raise a Ticket", "new", slack.StylePrimary)),
		slack.NewDividerBlock(),
		header("waiting", "Waiting for your approval"),
	}
	if len(d.Waiting) == 0 {
		blocks = append(blocks, contextText("waiting_none", "Nothing is waiting for you."))
	}
	for i, ri := range d.Waiting {
		r := ri.Req
		n := strconv.Itoa(i)
		line := fmt.Sprintf("%s asks for *%s* on *%s* for *%s* (%s)\n%s", ri.who(r.RequesterID), escape(ri.roles()),
			escape(appName(ri.App)), humanDuration(r.Duration), stepText(r, r.CurrentStep), quote(truncate(r.Reason, 300)))
		if r.IsExtension() {
			line = fmt.Sprintf("%s asks for *more time* on *%s* on *%s* (%s)\n🔁 %s\n%s", ri.who(r.RequesterID), escape(ri.roles()),
				escape(appName(ri.App)), stepText(r, r.CurrentStep), extensionLine(ri), quote(truncate(r.Reason, 300)))
		}
		blocks = append(blocks,
			section("w"+n, line),
			slack.NewActionBlock("wa"+n,
				button(verbApprove+":"+n, "Approve", r.ID, slack.StylePrimary),
				button(verbReject+":"+n, "Reject", r.ID, slack.StyleDanger)))
	}
	if d.MoreWaiting {
		blocks = append(blocks, contextText("waiting_more", "More are waiting; decide these first, or open Sesame."))
	}
	blocks = append(blocks, slack.NewDividerBlock(), header("open", "Your open requests"))
	if len(d.Open) == 0 {
		blocks = append(blocks, contextText("open_none", "You have no open requests."))
	}
	for i, ri := range d.Open {
		r := ri.Req
		n := strconv.Itoa(i)
		line := fmt.Sprintf("*%s* on *%s* for *%s*\n%s", escape(ri.roles()), escape(appName(ri.App)), humanDuration(r.Duration), requestState(ri))
		if r.IsExtension() {
			line = fmt.Sprintf("More time on *%s* on *%s*: %s\n%s", escape(ri.roles()), escape(appName(ri.App)), extensionLine(ri), requestState(ri))
		}
		blocks = append(blocks, section("o"+n, line))
		if r.State == access.RequestPending {
			cancel := button(verbCancel+":"+n, "Cancel", r.ID, slack.StyleDanger)
			cancel.Confirm = slack.NewConfirmationBlockObject(plain("Cancel this request?"),
				plain("The approvers will no longer be asked."), plain("Cancel request"), plain("Keep it"))
			blocks = append(blocks, slack.NewActionBlock("oa"+n, button(verbRemind+":"+n, "Send reminder", r.ID, ""), cancel))
		}
	}
	if d.MoreOpen {
		blocks = append(blocks, contextText("open_more", "You have more open requests than fit here."))
	}
	blocks = append(blocks, slack.NewDividerBlock(), header("active", "Your active access"))
	if len(d.Grants) == 0 {
		blocks = append(blocks, contextText("active_none", "You hold no access through Sesame right now."))
	}
	for i, gi := range d.Grants {
		g := gi.Grant
		n := strconv.Itoa(i)
		line := fmt.Sprintf("*%s* on *%s*", escape(entName(gi.Ent)), escape(appName(gi.App)))
		if g.State == access.GrantActive {
			blocks = append(blocks, sectionWith("g"+n, line+"\nUntil "+when(g.ExpiresAt), button(verbExtend+":"+n, "Extend", g.ID, "")))
			continue
		}
		blocks = append(blocks, section("g"+n, line+"\n_Being set up…_"))
	}
	if d.MoreGrants {
		blocks = append(blocks, contextText("active_more", "You hold more access than fits here."))
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}, CallbackID: "home"}
}

// requestState says where one of the user's requests is.
func requestState(ri *requestInfo) string {
	r := ri.Req
	switch r.State {
	case access.RequestPending:
		st := r.Steps[r.CurrentStep]
		var asked []string
		for _, id := range st.Notified {
			asked = append(asked, ri.who(id))
		}
		return fmt.Sprintf("⏳ Pending: %s, %d of %d so far. Asked: %s.", stepText(r, r.CurrentStep),
			r.Approvals(r.CurrentStep), st.Required, joinMax(asked, 5))
	case access.RequestApproved:
		return "✅ Approved; access is being set up."
	default:
	}
	return string(r.State)
}

func joinMax(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:n], ", ") + fmt.Sprintf(" and %d more", len(xs)-n)
}

// unlinkedHomeView is the Home tab of a Slack user Sesame doesn't know.
func unlinkedHomeView(command string) slack.HomeTabViewRequest {
	blocks := []slack.Block{
		header("title", "Sesame"),
		sectionWith("unlinked", unlinkedText(command), button(verbLink, "Link my account", "link", slack.StylePrimary)),
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}, CallbackID: "home"}
}

// loadHome reads what user's Home tab shows.
func (b *Bot) loadHome(ctx context.Context, u *access.User) (homeData, error) {
	d := homeData{User: u, Command: b.command, BaseURL: b.baseURL}
	l := newLoader(b.st)
	waiting, _, err := b.st.RequestList(ctx, store.RequestListParams{ApproverID: u.ID,
		States: []access.RequestState{access.RequestPending}, Page: store.Page{Limit: 100}})
	if err != nil {
		return d, fmt.Errorf("list requests to approve: %w", err)
	}
	for _, r := range waiting {
		if _, err := r.CheckDecider(u); err != nil {
			continue
		}
		if len(d.Waiting) == homeLimit {
			d.MoreWaiting = true
			break
		}
		ri, err := l.request(ctx, r)
		if err != nil {
			return d, err
		}
		d.Waiting = append(d.Waiting, ri)
	}
	open, next, err := b.st.RequestList(ctx, store.RequestListParams{RequesterID: u.ID,
		States: []access.RequestState{access.RequestPending, access.RequestApproved}, Page: store.Page{Limit: homeLimit}})
	if err != nil {
		return d, fmt.Errorf("list open requests: %w", err)
	}
	d.MoreOpen = next != ""
	for _, r := range open {
		ri, err := l.request(ctx, r)
		if err != nil {
			return d, err
		}
		d.Open = append(d.Open, ri)
	}
	grants, next, err := b.st.GrantList(ctx, store.GrantListParams{UserID: u.ID,
		States: []access.GrantState{access.GrantActive, access.GrantPending, access.GrantProvisioning}, Page: store.Page{Limit: homeLimit}})
	if err != nil {
		return d, fmt.Errorf("list grants: %w", err)
	}
	d.MoreGrants = next != ""
	for _, g := range grants {
		gi, err := l.grant(ctx, g)
		if err != nil {
			return d, err
		}
		d.Grants = append(d.Grants, gi)
	}
	return d, nil
}

// publishHome renders and publishes the Home tab of Slack user slackID
// (linked to u, or nil for an unlinked user).
func (b *Bot) publishHome(ctx context.Context, slackID string, u *access.User) error {
	view := unlinkedHomeView(b.command)
	if u != nil {
		d, err := b.loadHome(ctx, u)
		if err != nil {
			return err
		}
		view = homeView(d)
	}
	_, err := b.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: slackID, View: view})
	if err != nil {
		return fmt.Errorf("views.publish for %s: %w", slackID, err)
	}
	return nil
}

// refreshHomes republishes the Home tabs of the given Sesame users in the
// background (after an action; best effort: the notifications that follow
// republish them durably).
func (b *Bot) refreshHomes(ctx context.Context, userIDs ...string) {
	seen := map[string]bool{}
	for _, id := range userIDs {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		b.bg.goTimeout(ctx, "refresh home", 15*time.Second, func(ctx context.Context) error {
			u, err := b.st.UserGetByID(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if u.SlackUserID == "" {
				return nil
			}
			return b.publishHome(ctx, u.SlackUserID, u)
		})
	}
}
