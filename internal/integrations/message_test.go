package integrations

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/slackfake"
	"github.com/sesame-access/sesame/internal/store"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden") //nolint:gochecknoglobals // the test flag of golden files

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		require.NoError(t, os.MkdirAll("testdata", 0o750))
		require.NoError(t, os.WriteFile(path, got, 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./internal/integrations -update to create %s", path)
	require.Equal(t, string(want), string(got), "%s differs; rerun with -update if the change is intended", path)
}

// TestMessagesGolden renders the channel message of each carried kind
// (and the test and health messages), checks each against Slack's Block
// Kit limits with the fake's validator, and compares it with its golden
// file.
func TestMessagesGolden(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f := &facts{
		req: &access.Request{ID: "req_1", RequesterID: "usr_alice", AppID: "aws-prod", Duration: 2 * time.Hour,
			Reason: "INC-42 <prod> & friends"},
		grant: &access.Grant{ID: "grt_1", UserID: "usr_alice", AppID: "aws-prod", EntitlementID: "aws-prod:admin",
			ExpiresAt: now.Add(2 * time.Hour), LastError: "AccessDenied"},
		app:   &access.App{ID: "aws-prod", Name: "AWS production"},
		ents:  []*access.Entitlement{{ID: "aws-prod:admin", Name: "Admin"}},
		users: map[string]*access.User{"usr_alice": {Name: "Alice"}, "usr_bob": {Name: "Bob"}},
	}
	kinds := []access.NotificationKind{access.NotifyApprovalRequested, access.NotifyRequestApproved, access.NotifyRequestRejected,
		access.NotifyRequestCancelled, access.NotifyRequestTimedOut, access.NotifyGrantActive, access.NotifyGrantFailed,
		access.NotifyGrantRevoked, access.NotifyRevokeFailed, access.NotifyGrantExtended, access.NotifyExtensionFailed, access.NotifyDriftRevoked, access.NotifyUnmanagedAccess}
	out := map[string]Message{}
	for _, k := range kinds {
		n := &access.Notification{Kind: k, RequestID: "req_1", GrantID: "grt_1",
			Data: map[string]string{"by": "usr_bob", "step": "Owner", "comment": "not now", "account": "mallory@example.com"}}
		out[string(k)] = render(n, f, "https://sesame.example.com")
	}
	i := &store.Integration{Name: "cloud", Kind: KindWebhook, Categories: []string{"grants", "alerts"}}
	out["test"] = testMessage(i, "Carol", now)
	out["failing"] = healthMessage(i, true, "channel_is_archived", "https://sesame.example.com")
	out["recovered"] = healthMessage(i, false, "", "https://sesame.example.com")
	for name, m := range out {
		require.NoError(t, m.Validate(), name)
		require.NoError(t, slackfake.ValidateMessage(m.Text, m.Blocks), name)
		require.NotContains(t, m.Text, "<prod>", "user text is escaped")
	}
	b, err := json.MarshalIndent(out, "", "  ")
	require.NoError(t, err)
	golden(t, "messages", append(b, '\n'))
}
