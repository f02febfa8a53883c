package ui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/web/signin"
)

func TestTruncate(t *testing.T) {
	t.Parallel()
	require.Equal(t, "short", truncate("short", 10))
	got := truncate(strings.Repeat("é", 200), 51)
	require.LessOrEqual(t, len(got), 51)
	require.True(t, utf8.ValidString(got), "cut on a rune boundary")
	require.True(t, strings.HasSuffix(got, "…"))
}

// TestFlashNeverDropped: a flash longer than maxFlash is shown cut, not
// dropped (a bulk decision's results used to vanish).
func TestFlashNeverDropped(t *testing.T) {
	t.Parallel()
	h := &Handler{cfg: Config{Sessions: signin.NewSessions(nil, nil, "http://sesame.test", 0)}}
	long := "12 decided. " + strings.Repeat("req_01ABCDEFGHJKMNPQRSTVWXYZ0: not an approver; ", 20)
	r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/approvals", nil)
	r.AddCookie(&http.Cookie{Name: flashCookie, Value: url.QueryEscape(long)}) //nolint:gosec // G124: a request's cookie has no flags
	msg := h.takeFlash(httptest.NewRecorder(), r)
	require.True(t, strings.HasPrefix(msg, "12 decided. req_01"), msg)
	require.LessOrEqual(t, len(msg), maxFlash)

	// Done stores at most maxFlash bytes.
	c := &Ctx{h: h, R: httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/approvals", nil)}
	rec := httptest.NewRecorder()
	require.NoError(t, c.Done(rec, "/approvals", long))
	cks := rec.Result().Cookies() //nolint:bodyclose // a recorder's body
	require.Len(t, cks, 1)
	v, err := url.QueryUnescape(cks[0].Value)
	require.NoError(t, err)
	require.LessOrEqual(t, len(v), maxFlash)
	require.True(t, strings.HasPrefix(v, "12 decided."), v)
}

func TestBulkSummary(t *testing.T) {
	t.Parallel()
	require.Equal(t, "3 decided.", bulkSummary(3, nil))
	var failed []string
	for range 200 {
		failed = append(failed, "req_01ABCDEFGHJKMNPQRSTVWXYZ0: "+strings.Repeat("you may not approve this request ", 10))
	}
	got := bulkSummary(0, failed)
	require.LessOrEqual(t, len(got), maxFlash, got)
	require.Contains(t, got, "0 decided. 200 not decided: req_01ABCDEFGHJKMNPQRSTVWXYZ0 (you may not approve")
	require.Contains(t, got, "and 197 more; they are still on /approvals.")
}
