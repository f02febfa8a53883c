package ui_test

import (
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/workflow"
)

var updatePages = flag.Bool("update", false, "rewrite testdata/*.golden") //nolint:gochecknoglobals // the test flag of golden files

// volatile are the parts of a page that change from run to run: CSRF
// tokens and the random part of IDs.
var volatile = []struct { //nolint:gochecknoglobals // constant table
	re  *regexp.Regexp
	out string
}{
	{regexp.MustCompile(`name="csrf" value="[^"]*"`), `name="csrf" value="CSRF"`},
	{regexp.MustCompile(`\b(req|grt|dec|evt)_[0-9A-Z]{20,}`), `${1}_ID`},
}

func golden(t *testing.T, name, page string) {
	t.Helper()
	for _, v := range volatile {
		page = v.re.ReplaceAllString(page, v.out)
	}
	path := filepath.Join("testdata", name+".golden")
	if *updatePages {
		require.NoError(t, os.MkdirAll("testdata", 0o750))
		require.NoError(t, os.WriteFile(path, []byte(page), 0o600))
		return
	}
	want, err := os.ReadFile(path) //nolint:gosec // G304: a fixed testdata path
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), page, "%s differs; review and run go test -update", path)
}

// TestPagesGolden keeps the markup of the main pages under review.
func TestPagesGolden(t *testing.T) {
	t.Parallel()
	b := setup(t)
	anon := &browser{t: t, b: b, c: &http.Client{}}
	_, page := anon.get("/login")
	golden(t, "login", page)

	req, err := b.env.Service.Submit(t.Context(), b.env.Alice.ID, workflow.SubmitParams{Entitlements: []string{"github:read"},
		Reason: "investigate the outage", Approvers: []string{b.env.Bob.ID}})
	require.NoError(t, err)
	alice := b.signIn(t, b.env.Alice)
	_, page = alice.get("/")
	golden(t, "home", page)
	_, page = alice.get("/requests/new?app=github")
	golden(t, "new_request", page)
	bob := b.signIn(t, b.env.Bob)
	_, page = bob.get("/requests/" + req.ID)
	golden(t, "request_approver", page)
	_, page = bob.get("/approvals")
	golden(t, "approvals", page)
	status, page := bob.post("/requests/"+req.ID+"/decide", url.Values{"outcome": {"approve"}, "csrf": {"forged"}})
	require.Equal(t, http.StatusForbidden, status)
	golden(t, "csrf_refused", page)
	_, err = b.env.Service.Decide(t.Context(), b.env.Bob.ID, workflow.DecideParams{RequestID: req.ID, Outcome: access.Reject, Comment: "not now"})
	require.NoError(t, err)
	_, page = alice.get("/requests/" + req.ID)
	golden(t, "request_rejected", page)
}
