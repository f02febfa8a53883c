package integrations

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
)

func TestParseTerm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Term
		err  string
	}{
		{in: "*", want: Term{Kind: TermAll}},
		{in: " watchlist ", want: Term{Kind: TermWatchlist}},
		{in: "app:aws-prod", want: Term{Kind: TermApp, Value: "aws-prod"}},
		{in: "connector:awsidc", want: Term{Kind: TermConnector, Value: "awsidc"}},
		{in: "tag:private-server", want: Term{Kind: TermTag, Value: "private-server"}},
		{in: "set:cloud-accounts", want: Term{Kind: TermSet, Value: "cloud-accounts"}},
		{in: "", err: "empty"},
		{in: "github", err: "want *"},
		{in: "group:eng", err: "unknown kind"},
		{in: "app:", err: "value must"},
		{in: "app:-x", err: "value must"},
		{in: "tag:a b", err: "value must"},
	} {
		got, err := ParseTerm(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
		require.Equal(t, got, must(ParseTerm(got.String())), "String parses back")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestSelectorCovers(t *testing.T) {
	t.Parallel()
	aws := &access.App{ID: "aws-prod", ConnectorType: "awsidc"}
	gcp := &access.App{ID: "gcp-prod", ConnectorType: "gcp"}
	ssh := &access.App{ID: "bastion", ConnectorType: "sshca", Watchlist: true}
	sets := must(ParseSets(map[string][]string{"cloud-accounts": {"connector:awsidc", "app:gcp-prod"}}))
	for _, tc := range []struct {
		name  string
		terms []string
		subj  Subject
		want  bool
	}{
		{"all", []string{"*"}, Subject{App: aws}, true},
		{"app match", []string{"app:aws-prod"}, Subject{App: aws}, true},
		{"app miss", []string{"app:aws-prod"}, Subject{App: gcp}, false},
		{"connector", []string{"connector:awsidc"}, Subject{App: aws}, true},
		{"set by connector", []string{"set:cloud-accounts"}, Subject{App: aws}, true},
		{"set by app", []string{"set:cloud-accounts"}, Subject{App: gcp}, true},
		{"set miss", []string{"set:cloud-accounts"}, Subject{App: ssh}, false},
		{"unknown set covers nothing", []string{"set:nope"}, Subject{App: aws}, false},
		{"tag of the entitlement", []string{"tag:gateway"}, Subject{App: ssh, Tags: []string{"gateway"}}, true},
		{"other tag", []string{"tag:gateway"}, Subject{App: ssh, Tags: []string{"private-server"}}, false},
		{"watchlist", []string{"watchlist"}, Subject{App: ssh}, true},
		{"not on watchlist", []string{"watchlist"}, Subject{App: aws}, false},
		{"any term", []string{"app:nope", "tag:gateway", "connector:gcp"}, Subject{App: gcp}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sel := must(ParseSelector(tc.terms))
			require.Equal(t, tc.want, sel.Covers(tc.subj, sets))
		})
	}
}

func TestSelectorErrors(t *testing.T) {
	t.Parallel()
	_, err := ParseSelector(nil)
	require.ErrorContains(t, err, "no selector terms")
	sel := must(ParseSelector([]string{"app:a", "app:a", "set:x"}))
	require.Equal(t, []string{"app:a", "set:x"}, sel.Strings(), "duplicates removed")
	require.ErrorContains(t, sel.Check(Sets{}), `no account set named "x"`)
	_, err = ParseSets(map[string][]string{"a": {"set:b"}})
	require.ErrorContains(t, err, "cannot include another set")
	_, err = ParseSets(map[string][]string{"bad name": {"*"}})
	require.ErrorContains(t, err, "the name must")
	_, err = ParseCategories([]string{"grants", "emails"})
	require.ErrorContains(t, err, `unknown category "emails"`)
	cs := must(ParseCategories([]string{"grants", "alerts", "grants"}))
	require.Equal(t, []Category{CategoryGrants, CategoryAlerts}, cs)
}

// FuzzParseSelector: any input parses or fails cleanly, and what parses
// prints back to terms that parse to the same selector.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"*", "app:github", "set:cloud-accounts", "tag:gateway,connector:awsidc", "watchlist", "app:", ":", "x:y:z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		terms := splitComma(in)
		sel, err := ParseSelector(terms)
		if err != nil {
			return
		}
		again, err := ParseSelector(sel.Strings())
		require.NoError(t, err)
		require.Equal(t, sel, again)
		subj := Subject{App: &access.App{ID: "x"}}
		_ = sel.Covers(subj, Sets{"s": Selector{{Kind: TermAll}}})
	})
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func TestWebhookURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://hooks.slack.com/services/T000/B000/XXXX", false, true},
		{"https://hooks.slack-gov.com/services/T000/B000/XXXX", false, true},
		{"http://hooks.slack.com/services/T000/B000/XXXX", false, false},
		{"https://evil.example.com/services/T000/B000/XXXX", false, false},
		{"https://hooks.slack.com/workflows/T000/B000/XXXX", false, false},
		{"https://hooks.slack.com/services/T000", false, false},
		{"https://hooks.slack.com:8443/services/T000/B000/XXXX", false, false},
		{"https://user@hooks.slack.com/services/T000/B000/XXXX", false, false},
		{"http://127.0.0.1:4567/services/T000/B000/XXXX", false, false},
		{"http://127.0.0.1:4567/services/T000/B000/XXXX", true, true},
		{"http://10.0.0.1/services/T000/B000/XXXX", true, false},
		{"not a url", false, false},
	} {
		err := CheckWebhookURL(tc.url, tc.loopback)
		require.Equal(t, tc.ok, err == nil, "%s: %v", tc.url, err)
	}
	require.Equal(t, "https://hooks.slack.com/services/T…/B…/••••", MaskWebhookURL("https://hooks.slack.com/services/T0123/B0456/abcdefSECRET"))
	require.NotContains(t, MaskWebhookURL("http://127.0.0.1:1/services/T1/B2/SECRET"), "SECRET")
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code   string
		status int
		class  string
	}{
		{"invalid_token", http.StatusForbidden, FailDestination},
		{"no_service", http.StatusNotFound, FailDestination},
		{"channel_is_archived", http.StatusGone, FailDestination},
		{"action_prohibited", http.StatusForbidden, FailDestination},
		{"posting_to_general_channel_denied", http.StatusForbidden, FailDestination},
		{"channel_not_found", http.StatusOK, FailDestination},
		{"not_in_channel", http.StatusOK, FailDestination},
		{"is_archived", http.StatusOK, FailDestination},
		{"no_text", http.StatusBadRequest, FailMessage},
		{"invalid_payload", http.StatusBadRequest, FailMessage},
		{"invalid_blocks", http.StatusOK, FailMessage},
		{"rate_limited", http.StatusTooManyRequests, FailTransient},
		{"rollup_error", http.StatusInternalServerError, FailTransient},
		{"http_503", http.StatusServiceUnavailable, FailTransient},
		{"internal_error", http.StatusOK, FailTransient},
		{"something_new", http.StatusTeapot, FailDestination},
	} {
		e := classify(tc.code, tc.status, time.Second)
		require.Equal(t, tc.class, e.Class, tc.code)
	}
}
