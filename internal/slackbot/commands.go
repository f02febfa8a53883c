package slackbot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// CommandKind is what a slash command asks for.
type CommandKind int

// Command kinds.
const (
	CmdRequest CommandKind = iota // open the request form, Query pre-filtering the apps
	CmdHelp
	CmdLogin
	CmdList
)

// Command is a parsed slash command text.
type Command struct {
	Kind CommandKind
	// Query is the app to look for (CmdRequest), trimmed; "" to browse.
	Query string
}

// maxQuery bounds the app query (Slack sends at most a few thousand
// characters; no app name is that long).
const maxQuery = 200

// ParseCommand reads the text after the slash command: "help", "login",
// "list", "request [app]", or an app to request. Subcommands take
// precedence; "request help" requests an app named help. Slack's HTML
// escapes (&amp; &lt; &gt;) are undone.
func ParseCommand(text string) Command {
	t := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(text)
	t = strings.Join(strings.Fields(t), " ")
	first, rest, _ := strings.Cut(t, " ")
	switch strings.ToLower(first) {
	case "help", "-h", "--help", "?":
		return Command{Kind: CmdHelp}
	case "login", "link":
		return Command{Kind: CmdLogin}
	case "list", "ls", "status":
		return Command{Kind: CmdList}
	case "request", "new":
		return Command{Kind: CmdRequest, Query: truncate(rest, maxQuery)}
	}
	return Command{Kind: CmdRequest, Query: truncate(t, maxQuery)}
}

// helpText is the answer to "/access help".
func helpText(command string) string {
	return fmt.Sprintf("*Sesame* gives you access to apps for as long as you need it.\n"+
		"• `%[1]s` opens the request form (same as `%[1]s request`).\n"+
		"• `%[1]s <app>` opens it for an app, matched by name or alias (e.g. `%[1]s github`).\n"+
		"• `%[1]s list` shows your open requests and the access you hold.\n"+
		"• `%[1]s login` links your Slack account to Sesame.\n"+
		"• `%[1]s help` shows this.\n"+
		"Requests waiting for your approval, your requests and your access are also on my *Home* tab.", command)
}

// runCommand serves a slash command (within the ack budget).
func (b *Bot) runCommand(ctx context.Context, cmd slack.SlashCommand) *message {
	c := ParseCommand(cmd.Text)
	switch c.Kind {
	case CmdHelp:
		return ephemeral(helpText(b.command))
	case CmdLogin:
		return b.cmdLogin(WithSlackIdentity(ctx, cmd.UserName, cmd.TeamDomain), cmd.UserID)
	default:
	}
	actor, err := b.actor(ctx, cmd.UserID)
	if err != nil {
		return ephemeral(b.errorText(ctx, err))
	}
	if c.Kind == CmdList {
		return b.cmdList(ctx, actor)
	}
	return b.cmdRequest(ctx, actor, cmd, c.Query)
}

func (b *Bot) cmdLogin(ctx context.Context, slackID string) *message {
	if u, err := b.actor(ctx, slackID); err == nil {
		return ephemeral(fmt.Sprintf("✅ Your Slack account is linked to *%s* in Sesame.", escape(u.Email)))
	}
	link, err := b.linker.Start(ctx, slackID)
	if err != nil {
		return ephemeral(b.errorText(ctx, err))
	}
	return ephemeral(loginText(link))
}

func loginText(link string) string {
	return fmt.Sprintf("🔗 <%s|Open this link> and sign in to link your Slack account to Sesame. It works once and expires in %s.\n"+
		"Open it yourself and never share it: your Slack account will act as whoever signs in with it. "+
		"If sign-in isn't set up yet, a Sesame admin can link you with `sesame slack link CODE --user EMAIL` (CODE is the end of the link).", link, humanDuration(LinkTTL))
}

// cmdList answers "/access list": open requests and held access.
func (b *Bot) cmdList(ctx context.Context, actor *access.User) *message {
	d, err := b.loadHome(ctx, actor)
	if err != nil {
		return ephemeral(b.errorText(ctx, err))
	}
	text, blocks := listMessage(d)
	return ephemeral(text, blocks...)
}

// listMessage shows a user's open requests and access (message limit: 50
// blocks).
func listMessage(d homeData) (string, []slack.Block) {
	var blocks []slack.Block
	var b strings.Builder
	b.WriteString("*Your open requests*\n")
	if len(d.Open) == 0 {
		b.WriteString("_None._\n")
	}
	for _, ri := range d.Open {
		fmt.Fprintf(&b, "• *%s* on *%s* for *%s*: %s\n", escape(ri.roles()), escape(appName(ri.App)),
			humanDuration(ri.Req.Duration), requestState(ri))
	}
	if d.MoreOpen {
		b.WriteString("_…and more; see my Home tab._\n")
	}
	blocks = append(blocks, section("open", b.String()))
	b.Reset()
	b.WriteString("*Your access*\n")
	if len(d.Grants) == 0 {
		b.WriteString("_None._\n")
	}
	for _, gi := range d.Grants {
		state := "being set up"
		if gi.Grant.State == access.GrantActive {
			state = "until " + when(gi.Grant.ExpiresAt)
		}
		fmt.Fprintf(&b, "• *%s* on *%s*: %s\n", escape(entName(gi.Ent)), escape(appName(gi.App)), state)
	}
	if d.MoreGrants {
		b.WriteString("_…and more; see my Home tab._\n")
	}
	blocks = append(blocks, section("access", b.String()))
	if len(d.Waiting) > 0 {
		blocks = append(blocks, contextText("waiting", fmt.Sprintf("%s waiting for your approval: see my Home tab or your messages.",
			plural(len(d.Waiting), "request is", "requests are"))))
	}
	return fmt.Sprintf("%s, %s", plural(len(d.Open), "open request", "open requests"), plural(len(d.Grants), "grant", "grants")), blocks
}

// cmdRequest opens the request form: with the app set when the query
// names one app, with a menu of the matches when it names several.
func (b *Bot) cmdRequest(ctx context.Context, actor *access.User, cmd slack.SlashCommand, query string) *message {
	m := meta{K: kindRequest, U: cmd.UserID}
	f := requestForm{Meta: m}
	if app, ok := b.exactApp(ctx, query); ok {
		var err error
		if f, err = b.formForApp(ctx, actor, m, app, nil); err != nil {
			return ephemeral(b.errorText(ctx, err))
		}
	} else if query != "" {
		matches, err := b.searchApps(ctx, query, maxOptions)
		if err != nil {
			return ephemeral(b.errorText(ctx, err))
		}
		if len(matches) == 0 {
			return ephemeral(fmt.Sprintf("No app matches “%s”. Run %#q to browse all apps, or check the name with your Sesame admin.",
				escape(query), b.command))
		}
		if app, ok := uniqueMatch(matches); ok {
			var err error
			f, err = b.formForApp(ctx, actor, m, app, nil)
			if err != nil {
				return ephemeral(b.errorText(ctx, err))
			}
		} else {
			f.Query = query
			for _, s := range matches {
				f.Choices = append(f.Choices, s.app)
			}
		}
	}
	if _, err := b.api.OpenViewContext(ctx, cmd.TriggerID, requestModal(f)); err != nil {
		b.log.WarnContext(ctx, "views.open for the request form failed", "err", err)
		return ephemeral("I couldn't open the request form (" + slackErrorText(err) + "). Please run the command again.")
	}
	return nil
}

// formForApp fills the request form for app, with prefill entitlements
// selected.
func (b *Bot) formForApp(ctx context.Context, actor *access.User, m meta, app *access.App, prefill []string) (requestForm, error) {
	m.App = app.ID
	m.Ent = prefill
	f := requestForm{Meta: m, App: app, Selected: prefill}
	ents, err := b.st.EntitlementListByApp(ctx, app.ID)
	if err != nil {
		return f, fmt.Errorf("list entitlements: %w", err)
	}
	for _, e := range ents {
		if e.Requestable {
			f.Ents = append(f.Ents, e)
		}
	}
	var selected []string
	for _, id := range prefill {
		for _, e := range f.Ents {
			if e.ID == id {
				selected = append(selected, id)
			}
		}
	}
	f.Selected = selected
	if len(selected) > 0 {
		b.fillPlan(ctx, actor, &f, 0)
	}
	return f, nil
}

// fillPlan asks the workflow for the policy of the selected entitlements,
// and notes the ones the user already holds.
func (b *Bot) fillPlan(ctx context.Context, actor *access.User, f *requestForm, chosen time.Duration) {
	plan, err := b.svc.Preview(ctx, actor.ID, f.Selected, chosen)
	if err != nil {
		text, unexpected := userMessage(err, b.command)
		if unexpected {
			text = b.errorText(ctx, err)
		}
		f.PlanError = text
		return
	}
	f.Plan = plan
	f.Duration = chosen
	if f.Duration <= 0 || (plan.MaxDuration > 0 && f.Duration > plan.MaxDuration) {
		f.Duration = plan.DefaultDuration
	}
	if f.Duration <= 0 || (plan.MaxDuration > 0 && f.Duration > plan.MaxDuration) {
		f.Duration = defaultDuration(plan.MaxDuration)
	}
	grants, _, err := b.st.GrantList(ctx, store.GrantListParams{UserID: actor.ID, AppID: f.App.ID,
		States: []access.GrantState{access.GrantActive}, Page: store.Page{Limit: 100}})
	if err != nil {
		b.log.WarnContext(ctx, "list held grants", "err", err)
		return
	}
	for _, g := range grants {
		if f.Holding == nil {
			f.Holding = map[string]time.Time{}
		}
		f.Holding[g.EntitlementID] = g.ExpiresAt
	}
}

// defaultDuration is offered when the policy names none: an hour, or the
// maximum when that is shorter.
func defaultDuration(maxD time.Duration) time.Duration {
	if maxD > 0 && maxD < time.Hour {
		return maxD
	}
	return time.Hour
}
