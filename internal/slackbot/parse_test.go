package slackbot

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/slackfake"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Command{
		"":                      {Kind: CmdRequest},
		"   ":                   {Kind: CmdRequest},
		"help":                  {Kind: CmdHelp},
		"HELP me":               {Kind: CmdHelp},
		"?":                     {Kind: CmdHelp},
		"login":                 {Kind: CmdLogin},
		"link":                  {Kind: CmdLogin},
		"list":                  {Kind: CmdList},
		"request":               {Kind: CmdRequest},
		"request  github   ":    {Kind: CmdRequest, Query: "github"},
		"request help":          {Kind: CmdRequest, Query: "help"},
		"  GitHub  Enterprise":  {Kind: CmdRequest, Query: "GitHub Enterprise"},
		"R&amp;D &lt;tools&gt;": {Kind: CmdRequest, Query: "R&D <tools>"},
	} {
		require.Equal(t, want, ParseCommand(in), "%q", in)
	}
	require.Equal(t, maxQuery, utf8.RuneCountInString(ParseCommand(strings.Repeat("é", 500)).Query))
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "help", "request github", "list me", "a\x00b", "&amp;&lt;", strings.Repeat("x ", 300), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := ParseCommand(s)
		if c.Kind != CmdRequest && c.Query != "" {
			t.Fatalf("%q: query %q on a non-request", s, c.Query)
		}
		if c.Query != strings.TrimSpace(c.Query) || strings.Contains(c.Query, "  ") {
			t.Fatalf("%q: query %q not normalized", s, c.Query)
		}
		if utf8.RuneCountInString(c.Query) > maxQuery {
			t.Fatalf("%q: query too long", s)
		}
	})
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	m := meta{K: kindDecide, U: "UBOB", Req: "req_01ABC", Out: "approve", Ch: "DBOB", TS: "1793610000.000012"}
	got, err := decodeMeta(encodeMeta(m))
	require.NoError(t, err)
	m.V = metaVersion
	require.Equal(t, m, got)
	for _, bad := range []string{
		"", "{}", "null", `{"v":2,"k":"decide","u":"UBOB","req":"r","out":"approve"}`,
		`{"v":1,"k":"decide","u":"UBOB","req":"r"}`,
		`{"v":1,"k":"request","u":"bob"}`,
		`{"v":1,"k":"request","u":"UBOB","admin":true}`,
		`{"v":1,"k":"request","u":"UBOB","app":"../etc"}`,
		`{"v":1,"k":"request","u":"UBOB"} {}`,
		`{"v":1,"k":"decide","u":"UBOB","req":"r","out":"maybe"}`,
		`{"v":1,"k":"decide","u":"UBOB","req":"r","out":"approve","ts":"now"}`,
		strings.Repeat("x", 3001),
	} {
		_, err := decodeMeta(bad)
		require.ErrorIs(t, err, ErrBadMetadata, bad)
	}
}

func FuzzMetadata(f *testing.F) {
	f.Add(encodeMeta(meta{K: kindRequest, U: "UALICE", App: "github", Ent: []string{"github:admin"}}))
	f.Add(encodeMeta(meta{K: kindDecide, U: "UBOB", Req: "req_1", Out: "reject", Ch: "DBOB", TS: "1.2"}))
	f.Add(`{"v":1,"k":"extend","u":"UX","grt":"grt_1"}`)
	f.Add(`{"v":1,"k":"request","u":"UX","ent":["a","b"]}`)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := decodeMeta(s)
		if err != nil {
			if !errors.Is(err, ErrBadMetadata) {
				t.Fatalf("%q: uncoded error %v", s, err)
			}
			return
		}
		if err := m.validate(); err != nil {
			t.Fatalf("%q decoded but does not validate: %v", s, err)
		}
		back, err := decodeMeta(encodeMeta(m))
		if err != nil || back.K != m.K || back.U != m.U || back.Req != m.Req {
			t.Fatalf("round trip of %q: %+v, %v", s, back, err)
		}
	})
}

func FuzzDecodeInteraction(f *testing.F) {
	f.Add(`{"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"approve","value":"req_1","type":"button"}]}`)
	f.Add(`{"type":"view_submission","user":{"id":"U1"},"view":{"id":"V1","private_metadata":"{}","state":{"values":{"b":{"a":{"type":"plain_text_input","value":"x"}}}}}}`)
	f.Add(`{"type":"block_suggestion","user":{"id":"U1"},"action_id":"app","value":"git"}`)
	f.Add(`{"type":"block_actions","user":{"id":""}}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		ic, err := decodeInteraction([]byte(s))
		if err != nil {
			return
		}
		if ic.User.ID == "" {
			t.Fatal("decoded an interaction without a user")
		}
		// What the handlers read must not panic on any decoded payload.
		findState(&ic.View, blockRoles, actionRoles)
		stateDuration(&ic.View)
		if _, err := decodeMeta(ic.View.PrivateMetadata); err != nil && !errors.Is(err, ErrBadMetadata) {
			t.Fatalf("uncoded metadata error %v", err)
		}
		for _, a := range ic.ActionCallback.BlockActions {
			actionVerb(a.ActionID)
		}
	})
}

// TestVerifySignatureMatchesSlackGo checks our verifier (which reads the
// injected clock) agrees with slack.NewSecretsVerifier on current requests.
func TestVerifySignatureMatchesSlackGo(t *testing.T) {
	t.Parallel()
	now := clock.Real{}.Now()
	body := []byte("token=x&team_id=T1&user_id=U1&command=%2Faccess&text=github")
	for _, tc := range []struct {
		name, secret string
		ts           int64
		body         []byte
	}{
		{"good", "s3cr3t", now.Unix(), body},
		{"wrong secret", "other", now.Unix(), body},
		{"tampered body", "s3cr3t", now.Unix(), append([]byte("x"), body...)},
		{"stale", "s3cr3t", now.Add(-6 * time.Minute).Unix(), body},
	} {
		h := http.Header{}
		h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(tc.ts, 10))
		h.Set("X-Slack-Signature", slackfake.Sign(tc.secret, tc.ts, body))
		ours := verifySignature([]byte("s3cr3t"), h, tc.body, now)
		sv, err := slack.NewSecretsVerifier(h, "s3cr3t")
		if err == nil {
			_, err = sv.Write(tc.body)
			if err == nil {
				err = sv.Ensure()
			}
		}
		require.Equal(t, err == nil, ours == nil, "%s: ours %v, slack-go %v", tc.name, ours, err)
	}
}

func FuzzVerifySignature(f *testing.F) {
	f.Add("1793610000", "v0=abc", "body")
	f.Add("", "", "")
	f.Add("-1", "v0="+strings.Repeat("0", 64), "x")
	f.Add("99999999999999999999", "v1=00", "y")
	now := time.Unix(1793610000, 0)
	f.Fuzz(func(t *testing.T, ts, sig, body string) {
		h := http.Header{}
		h.Set("X-Slack-Request-Timestamp", ts)
		h.Set("X-Slack-Signature", sig)
		err := verifySignature([]byte("secret"), h, []byte(body), now)
		if err == nil && sig != slackfake.Sign("secret", mustInt(ts), []byte(body)) {
			t.Fatalf("accepted a wrong signature %q for ts %q", sig, ts)
		}
		if err != nil && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("uncoded error %v", err)
		}
	})
}

func mustInt(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func TestScoreApp(t *testing.T) {
	t.Parallel()
	gh := &access.App{ID: "github", Name: "GitHub", Aliases: []string{"gh"}}
	ghe := &access.App{ID: "github-enterprise", Name: "GitHub Enterprise"}
	pg := &access.App{ID: "pg-prod", Name: "PostgreSQL Production"}
	require.Equal(t, exactScore, scoreApp("github", gh))
	require.Equal(t, exactScore, scoreApp("gh", gh), "alias")
	require.Greater(t, scoreApp("github", gh), scoreApp("github", ghe))
	require.Positive(t, scoreApp("prod", pg))
	require.Positive(t, scoreApp("postgres", pg), "prefix of a word")
	require.Positive(t, scoreApp("pstgrs", pg), "subsequence")
	require.Positive(t, scoreApp("postgersql", pg), "typo")
	require.Zero(t, scoreApp("oracle", pg))
	ms := rank("git", []*access.App{ghe, pg, gh}, 10)
	require.Len(t, ms, 2)
	require.Equal(t, "github", ms[0].app.ID)
	_, unique := uniqueMatch(ms)
	require.False(t, unique)
	app, unique := uniqueMatch(rank("github", []*access.App{ghe, gh}, 10))
	require.True(t, unique)
	require.Equal(t, "github", app.ID)
}

func FuzzScoreApp(f *testing.F) {
	f.Add("git", "github", "GitHub", "gh")
	f.Add("", "", "", "")
	f.Add("ñandú", "ÑANDÚ", "x", "\xff")
	f.Fuzz(func(t *testing.T, q, id, name, alias string) {
		s := scoreApp(normalizeQuery(q), &access.App{ID: id, Name: name, Aliases: []string{alias}})
		if s < 0 || s > exactScore {
			t.Fatalf("score %d out of range", s)
		}
	})
}

func TestUserMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{access.Invalid("invalid request", access.FieldError{Field: "entitlements[0]", Message: "unknown entitlement"}), "Invalid request\n• roles: unknown entitlement"},
		{access.Errorf(access.CodeNotFound, "request r1 not found"), "Request r1 not found. It may have been removed"},
		{access.Errorf(access.CodeForbidden, "only the requester may cancel"), "You can't do that: only the requester may cancel."},
		{access.Errorf(access.CodeUnauthorized, "unknown user"), "Run `/access login`"},
		{access.Errorf(access.CodeConflict, "request r1 is approved, not pending"), "Request r1 is approved, not pending."},
		{access.Errorf(access.CodeRateLimited, "a reminder was sent at 9:00"), "Not yet: a reminder was sent at 9:00."},
		{access.Errorf(access.CodeUnavailable, "the connector is down"), "not answering (the connector is down)"},
	} {
		text, unexpected := userMessage(tc.err, "/access")
		require.False(t, unexpected)
		require.Contains(t, text, tc.want)
	}
	_, unexpected := userMessage(errors.New("disk on fire"), "/access")
	require.True(t, unexpected)
}

func TestManifest(t *testing.T) {
	t.Parallel()
	socket := Manifest(ModeSocket, "", "https://sesame.example.com")
	require.Contains(t, socket, "socket_mode_enabled: true")
	require.Contains(t, socket, "command: /access")
	require.NotContains(t, socket, "https://sesame.example.com")
	httpM := Manifest(ModeHTTP, "/sesame", "https://sesame.example.com/")
	require.Contains(t, httpM, "request_url: https://sesame.example.com/slack/interactions")
	require.Contains(t, httpM, "message_menu_options_url: https://sesame.example.com/slack/options")
	require.Contains(t, httpM, "url: https://sesame.example.com/slack/commands")
	require.Contains(t, httpM, "request_url: https://sesame.example.com/slack/events")
	require.NotContains(t, httpM, "socket_mode_enabled")
	require.Contains(t, Manifest(ModeHTTP, "", ""), "WARNING: Slack sends requests only to https URLs")
	for _, scope := range Scopes() {
		require.Contains(t, httpM, "- "+scope)
	}
}

// TestAckBudget: a handler slower than the budget is acknowledged in time
// with a "working on it" answer, and its outcome lands later.
func TestAckBudget(t *testing.T) {
	t.Parallel()
	b := setupWith(t, setupOpts{mode: ModeHTTP, ackBudget: time.Nanosecond})
	ack := b.command(t, "alice", "help")
	var msg map[string]any
	require.NoError(t, json.Unmarshal(ack.Body, &msg))
	require.Contains(t, msg["text"], "Working on it")
	b.noViolations(t)
}
