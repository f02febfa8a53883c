package slackbot

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/slack-go/slack"
)

// maxRequestBody bounds what Slack may send (a view with its state is at
// most a few hundred KB).
const maxRequestBody = 1 << 20

// HTTPHandler serves Slack's HTTP-mode requests; mount it at /slack/:
// POST /slack/commands, /slack/interactions, /slack/options and
// /slack/events. Every request's signature and timestamp are verified
// before anything in it is parsed; without a signing secret (socket mode)
// they are all refused. GET /slack/link is the page of /access login
// links, useful in both modes.
func (b *Bot) HTTPHandler() http.Handler {
	b.catalog.snapshot(context.Background()) // start loading the app catalog
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/commands", b.serveCommand)
	mux.HandleFunc("POST /slack/interactions", b.serveInteraction)
	mux.HandleFunc("POST /slack/options", b.serveInteraction)
	mux.HandleFunc("POST /slack/events", b.serveEvent)
	mux.HandleFunc("GET /slack/link", b.serveLinkPage)
	return mux
}

// linkPage is shown at the link of /access login. It binds nothing: it
// sends the person to the dashboard's /link/slack, where the signed-in
// user confirms and the dashboard calls CompleteLink with their email; an
// admin can also complete the code.
const linkPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Link your Slack account to Sesame</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Link your Slack account to Sesame</h1>
{{if .Valid}}<p><a href="/link/slack?code={{.Code}}" id="continue">Sign in to Sesame to link your account</a>. You confirm there, once signed in.</p>
<p>If you cannot sign in to the dashboard, send this code to a Sesame admin;
they link your account with <code>sesame slack link CODE --user YOUR-EMAIL</code>. The code expires soon.</p>
<pre style="white-space: pre-wrap; word-break: break-all; background: #eee; padding: 1em">{{.Code}}</pre>
{{else}}<p>This link is invalid or has expired. Run the <code>login</code> subcommand of Sesame's slash command in Slack to get a new one.</p>{{end}}
</body></html>
`

func (b *Bot) serveLinkPage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	valid := false
	if cl, ok := b.linker.(*CodeLinker); ok {
		_, err := cl.Verify(code)
		valid = err == nil
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if err := b.linkTmpl.Execute(w, map[string]any{"Valid": valid, "Code": code}); err != nil {
		b.log.WarnContext(r.Context(), "render link page", "err", err)
	}
}

// readVerified reads the body and checks Slack's signature; on failure it
// answers 401 (or 413) and returns false.
func (b *Bot) readVerified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if len(b.secret) == 0 {
		// Without a signing secret (socket mode) nothing can be verified:
		// refuse rather than accept requests signed with an empty key.
		http.Error(w, "slack http mode is not configured", http.StatusNotFound)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "cannot read request", http.StatusBadRequest)
		return nil, false
	}
	if err := verifySignature(b.secret, r.Header, body, b.now()); err != nil {
		b.log.WarnContext(r.Context(), "refused an unsigned or stale slack request", "path", r.URL.Path, "err", err)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

func (b *Bot) serveCommand(w http.ResponseWriter, r *http.Request) {
	body, ok := b.readVerified(w, r)
	if !ok {
		return
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	b.writeAck(w, r, b.handleCommand(r.Context(), commandFromForm(vals)))
}

// commandFromForm reads a slash command from its (verified) form.
func commandFromForm(v url.Values) slack.SlashCommand {
	return slack.SlashCommand{
		Token: v.Get("token"), TeamID: v.Get("team_id"), TeamDomain: v.Get("team_domain"),
		EnterpriseID: v.Get("enterprise_id"), ChannelID: v.Get("channel_id"), ChannelName: v.Get("channel_name"),
		UserID: v.Get("user_id"), UserName: v.Get("user_name"), Command: v.Get("command"), Text: v.Get("text"),
		ResponseURL: v.Get("response_url"), TriggerID: v.Get("trigger_id"), APIAppID: v.Get("api_app_id"),
		IsEnterpriseInstall: v.Get("is_enterprise_install") == "true",
	}
}

func (b *Bot) serveInteraction(w http.ResponseWriter, r *http.Request) {
	body, ok := b.readVerified(w, r)
	if !ok {
		return
	}
	// The payload is read from the verified body only, never from the
	// query string.
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	ic, err := decodeInteraction([]byte(vals.Get("payload")))
	if err != nil {
		b.log.WarnContext(r.Context(), "bad slack interaction payload", "err", err)
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	b.writeAck(w, r, b.interaction(r.Context(), ic))
}

func (b *Bot) serveEvent(w http.ResponseWriter, r *http.Request) {
	body, ok := b.readVerified(w, r)
	if !ok {
		return
	}
	retry, _ := strconv.Atoi(r.Header.Get("X-Slack-Retry-Num")) //nolint:errcheck // absent or bad means no retry
	challenge, err := b.event(r.Context(), body, retry)
	if err != nil {
		b.log.WarnContext(r.Context(), "bad slack event", "err", err)
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	if challenge != "" {
		b.writeAck(w, r, map[string]string{"challenge": challenge})
		return
	}
	w.WriteHeader(http.StatusOK)
}

// writeAck answers 200 with resp as JSON, or an empty body when resp is nil.
func (b *Bot) writeAck(w http.ResponseWriter, r *http.Request, resp any) {
	if resp == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	js, err := json.Marshal(resp)
	if err != nil {
		b.log.ErrorContext(r.Context(), "encode slack ack", "err", err)
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write(js); err != nil {
		b.log.DebugContext(r.Context(), "write slack ack", "err", err)
	}
}
