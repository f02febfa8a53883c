package integrations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// Message is a Slack message: Text is the fallback shown in
// notifications, Blocks the Block Kit layout (raw JSON; may be empty).
// The same payload is posted to an incoming webhook and, with a channel
// added, to chat.postMessage.
type Message struct {
	Text   string          `json:"text"`
	Blocks json.RawMessage `json:"blocks,omitempty"`
}

// Validate checks a message against the limits both Slack endpoints
// enforce: some text (at most 40,000 characters), at most 50 blocks.
func (m Message) Validate() error {
	if strings.TrimSpace(m.Text) == "" {
		return errors.New("message text is empty")
	}
	if utf8.RuneCountInString(m.Text) > 40000 {
		return errors.New("message text is longer than 40,000 characters")
	}
	if len(m.Blocks) > 0 {
		var blocks []json.RawMessage
		if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
			return fmt.Errorf("message blocks are not a JSON array: %w", err)
		}
		if len(blocks) > 50 {
			return fmt.Errorf("%d message blocks: at most 50", len(blocks))
		}
	}
	return nil
}

// escape makes text safe in mrkdwn (Slack reads &, < and > as controls).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// clip shortens s to n characters.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

type block = map[string]any

func section(text string) block {
	return block{"type": "section", "text": block{"type": "mrkdwn", "text": clip(text, 3000)}}
}

func contextBlock(text string) block {
	return block{"type": "context", "elements": []block{{"type": "mrkdwn", "text": clip(text, 2000)}}}
}

// newMessage builds a message of a headline section and a context line.
func newMessage(headline, detail, ctx string) Message {
	blocks := []block{section(headline)}
	if detail != "" {
		blocks = append(blocks, section(detail))
	}
	if ctx != "" {
		blocks = append(blocks, contextBlock(ctx))
	}
	raw, err := json.Marshal(blocks)
	if err != nil { // maps of strings always marshal
		raw = nil
	}
	return Message{Text: clip(plain(headline), 3000), Blocks: raw}
}

// plain strips mrkdwn emphasis for the fallback text.
func plain(s string) string { return strings.NewReplacer("*", "", "`", "").Replace(s) }

// facts are what a notification's message shows, loaded from the store.
type facts struct {
	req   *access.Request
	grant *access.Grant
	app   *access.App
	ents  []*access.Entitlement
	users map[string]*access.User
}

func (f *facts) name(id string) string {
	if u := f.users[id]; u != nil {
		if u.Name != "" {
			return u.Name
		}
		return u.Email
	}
	if id == access.SystemActor {
		return "Sesame"
	}
	return id
}

func (f *facts) entNames() string {
	var names []string
	for _, e := range f.ents {
		names = append(names, e.Name)
	}
	return strings.Join(names, ", ")
}

// tags returns the tags of the entitlements involved.
func (f *facts) tags() []string {
	var out []string
	for _, e := range f.ents {
		out = append(out, e.Tags...)
	}
	return out
}

// load reads what n is about. It returns ErrNotFound (wrapped) when the
// request, grant or app is gone.
func load(ctx context.Context, q store.Queries, n *access.Notification) (*facts, error) {
	f := &facts{users: map[string]*access.User{}}
	var err error
	appID := n.Data["app"]
	var entIDs []string
	if n.GrantID != "" {
		if f.grant, err = q.GrantGetByID(ctx, n.GrantID, false); err != nil {
			return nil, err
		}
		appID, entIDs = f.grant.AppID, []string{f.grant.EntitlementID}
	}
	if n.RequestID != "" {
		if f.req, err = q.RequestGetByID(ctx, n.RequestID, false); err != nil {
			return nil, err
		}
		appID = f.req.AppID
		if entIDs == nil {
			entIDs = f.req.EntitlementIDs
		}
	}
	if appID == "" {
		return nil, fmt.Errorf("notification %s names no app: %w", n.ID, store.ErrNotFound)
	}
	if f.app, err = q.AppGetByID(ctx, appID); err != nil {
		return nil, err
	}
	if key := n.Data["entitlement"]; entIDs == nil && key != "" {
		entIDs = []string{access.EntitlementID(appID, key)}
		if strings.Contains(key, ":") {
			entIDs = []string{key}
		}
	}
	for _, id := range entIDs {
		e, err := q.EntitlementGetByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			_, key, _ := access.SplitEntitlementID(id)
			f.ents = append(f.ents, &access.Entitlement{ID: id, AppID: appID, Key: key, Name: key})
			continue
		}
		if err != nil {
			return nil, err
		}
		f.ents = append(f.ents, e)
	}
	for _, id := range []string{reqUser(f.req), grantUser(f.grant), n.Data["by"], n.Data["user"]} {
		if id == "" || f.users[id] != nil {
			continue
		}
		u, err := q.UserGetByID(ctx, id)
		if err == nil {
			f.users[id] = u
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return f, nil
}

func reqUser(r *access.Request) string {
	if r == nil {
		return ""
	}
	return r.RequesterID
}

func grantUser(g *access.Grant) string {
	if g == nil {
		return ""
	}
	return g.UserID
}

// subject returns what the routing rules match: the app, and the tags of
// the entitlements involved.
func (f *facts) subject() Subject { return Subject{App: f.app, Tags: f.tags()} }

// render writes the channel message of n.
func render(n *access.Notification, f *facts, baseURL string) Message {
	app := "*" + escape(f.app.Name) + "*"
	ents := "*" + escape(f.entNames()) + "*"
	link := ""
	if f.req != nil {
		link = "Request `" + f.req.ID + "`"
		if baseURL != "" {
			link = fmt.Sprintf("Request %#q · <%s/requests/%s|Open in Sesame>", f.req.ID, baseURL, f.req.ID)
		}
	}
	reason := ""
	if f.req != nil && f.req.Reason != "" {
		reason = ">" + escape(clip(strings.ReplaceAll(f.req.Reason, "\n", " "), 500))
	}
	who := ""
	if f.req != nil {
		who = "*" + escape(f.name(f.req.RequesterID)) + "*"
	}
	holder := who
	if f.grant != nil {
		holder = "*" + escape(f.name(f.grant.UserID)) + "*"
	}
	by := escape(f.name(n.Data["by"]))
	switch n.Kind {
	case access.NotifyApprovalRequested:
		head := fmt.Sprintf(":raising_hand: %s requests %s on %s for %s", who, ents, app, access.FormatDuration(f.req.Duration))
		if n.Data["escalated"] == "true" {
			head = ":rotating_light: Escalated: " + head[len(":raising_hand: "):]
		}
		step := ""
		if s := n.Data["step"]; s != "" {
			step = " · step " + escape(s)
		}
		return newMessage(head, reason, link+step)
	case access.NotifyRequestApproved:
		head := fmt.Sprintf(":white_check_mark: %s's request for %s on %s was approved", who, ents, app)
		if n.Data["by"] != "" {
			head += " by " + by
		}
		return newMessage(head, reason, link)
	case access.NotifyRequestRejected:
		head := fmt.Sprintf(":no_entry: %s's request for %s on %s was rejected", who, ents, app)
		if n.Data["by"] != "" {
			head += " by " + by
		}
		detail := ""
		if c := n.Data["comment"]; c != "" {
			detail = ">" + escape(clip(c, 500))
		}
		return newMessage(head, detail, link)
	case access.NotifyRequestCancelled:
		return newMessage(fmt.Sprintf(":heavy_multiplication_x: %s's request for %s on %s was cancelled", who, ents, app), "", link)
	case access.NotifyRequestTimedOut:
		return newMessage(fmt.Sprintf(":hourglass: %s's request for %s on %s timed out without a decision", who, ents, app), "", link)
	case access.NotifyGrantActive:
		head := fmt.Sprintf(":unlock: %s now has %s on %s", holder, ents, app)
		if !f.grant.ExpiresAt.IsZero() {
			head += " until " + f.grant.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		return newMessage(head, "", link)
	case access.NotifyGrantExtended:
		head := fmt.Sprintf(":hourglass_flowing_sand: %s's access to %s on %s was extended", holder, ents, app)
		if !f.grant.ExpiresAt.IsZero() {
			head += " until " + f.grant.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		return newMessage(head, "", link)
	case access.NotifyExtensionFailed:
		return newMessage(fmt.Sprintf(":warning: Extending %s's access to %s on %s failed: it ends as it was", holder, ents, app),
			errDetail(n.Data["error"], nil), link)
	case access.NotifyGrantFailed:
		return newMessage(fmt.Sprintf(":warning: Granting %s on %s to %s failed", ents, app, holder),
			errDetail(n.Data["error"], f.grant), link)
	case access.NotifyGrantRevoked:
		return newMessage(fmt.Sprintf(":lock: %s no longer has %s on %s", holder, ents, app), "", link)
	case access.NotifyRevokeFailed:
		return newMessage(fmt.Sprintf(":rotating_light: Revoking %s on %s from %s failed: the access is still there", ents, app, holder),
			errDetail(n.Data["error"], f.grant), link)
	case access.NotifyDriftRevoked:
		return newMessage(fmt.Sprintf(":rotating_light: Expired access to %s on %s reappeared for %s and was revoked again", ents, app, holder),
			errDetail(n.Data["error"], nil), link)
	case access.NotifyUnmanagedAccess:
		return newMessage(fmt.Sprintf(":mag: %s has %s on %s, granted outside Sesame", "*"+escape(n.Data["account"])+"*", ents, app), "", "")
	default:
		return newMessage(fmt.Sprintf("%s on %s: %s", ents, app, n.Kind), "", link)
	}
}

func errDetail(msg string, g *access.Grant) string {
	if msg == "" && g != nil {
		msg = g.LastError
	}
	if msg == "" {
		return ""
	}
	return "Error: `" + escape(clip(strings.ReplaceAll(msg, "`", "'"), 500)) + "`"
}

// testMessage is what "send test message" posts.
func testMessage(i *store.Integration, by string, now time.Time) Message {
	return newMessage(fmt.Sprintf(":wave: Test message from Sesame for the integration *%s*", escape(i.Name)),
		fmt.Sprintf("Sent by %s at %s. It carries: %s.", escape(by), now.UTC().Format("2006-01-02 15:04:05 UTC"),
			escape(strings.Join(i.Categories, ", "))), "")
}

// healthMessage is the DM admins get when an integration starts failing
// (or recovers).
func healthMessage(i *store.Integration, failing bool, lastError, baseURL string) Message {
	link := ""
	if baseURL != "" {
		link = fmt.Sprintf("<%s/settings/integrations|Open integrations in Sesame>", baseURL)
	}
	if !failing {
		return newMessage(fmt.Sprintf(":large_green_circle: The integration *%s* delivers again", escape(i.Name)),
			"Messages held while it failed are being sent.", link)
	}
	return newMessage(fmt.Sprintf(":red_circle: The integration *%s* is failing", escape(i.Name)),
		fmt.Sprintf("Slack answered %#q. Its messages are kept and will be sent once it works again; fix the %s, then use *Send test message*.",
			escape(clip(lastError, 300)), destinationNoun(i)), link)
}

func destinationNoun(i *store.Integration) string {
	if i.Kind == KindChannel {
		return "channel (is the bot a member? is it archived?)"
	}
	return "webhook URL (revoked? channel archived?)"
}
