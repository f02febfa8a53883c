package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/auth"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

type testBundle struct {
	st           store.Store
	now          time.Time
	alice, admin *access.User
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{st: sqlite.OpenTest(t), now: time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)}
	b.alice = &access.User{ID: "usr_alice", Email: "alice@example.com", Name: "Alice", Status: access.UserActive, CreatedAt: b.now, UpdatedAt: b.now}
	b.admin = &access.User{ID: "usr_admin", Email: "admin@example.com", Name: "Admin", Status: access.UserActive,
		Roles: []access.Role{access.RoleAdmin}, CreatedAt: b.now, UpdatedAt: b.now}
	for _, u := range []*access.User{b.alice, b.admin} {
		require.NoError(t, b.st.UserUpsert(t.Context(), u))
	}
	return b
}

func (b *testBundle) create(t *testing.T, userID string, expires time.Time) (string, *access.Token) {
	t.Helper()
	var secret string
	var tok *access.Token
	err := b.st.InTx(t.Context(), func(q store.Queries) error {
		var err error
		secret, tok, err = auth.CreateToken(t.Context(), q, userID, "ci", expires, b.now)
		return err
	})
	require.NoError(t, err)
	return secret, tok
}

func (b *testBundle) revoke(t *testing.T, actor *access.User, id string) error {
	t.Helper()
	return b.st.InTx(t.Context(), func(q store.Queries) error {
		_, err := auth.RevokeToken(t.Context(), q, actor, id, b.now)
		return err
	})
}

func requireUnauthorized(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, access.CodeUnauthorized, access.ErrorCode(err), err)
}

func TestCreateAndAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	secret, tok := b.create(t, b.alice.ID, time.Time{})
	require.True(t, strings.HasPrefix(secret, auth.TokenPrefix))
	require.Len(t, secret, 56)
	require.Equal(t, auth.HashSecret(secret), tok.Hash)
	require.NotContains(t, tok.Hash, secret[len(auth.TokenPrefix):])

	stored, err := b.st.TokenGetByID(t.Context(), tok.ID)
	require.NoError(t, err)
	require.Equal(t, tok.Hash, stored.Hash)

	u, got, err := auth.Authenticate(t.Context(), b.st, nil, secret, b.now)
	require.NoError(t, err)
	require.Equal(t, b.alice.ID, u.ID)
	require.Equal(t, tok.ID, got.ID)

	evs, _, err := b.st.EventList(t.Context(), store.EventListParams{Action: "token.created"})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, tok.ID, evs[0].SubjectID)
	require.NotContains(t, string(evs[0].After), tok.Hash, "the hash is not audited")

	for _, bad := range []string{"", "ses_", secret + "x", strings.ToUpper(secret), "Bearer " + secret, auth.TokenPrefix + strings.Repeat("a", 500)} {
		_, _, err := auth.Authenticate(t.Context(), b.st, nil, bad, b.now)
		requireUnauthorized(t, err)
	}
}

func TestLastUsedAtIsWrittenAtMostOncePerMinute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	secret, tok := b.create(t, b.alice.ID, time.Time{})
	lastUsed := func() time.Time {
		got, err := b.st.TokenGetByID(t.Context(), tok.ID)
		require.NoError(t, err)
		return got.LastUsedAt
	}
	require.True(t, lastUsed().IsZero())
	_, _, err := auth.Authenticate(t.Context(), b.st, nil, secret, b.now)
	require.NoError(t, err)
	require.Equal(t, b.now, lastUsed())
	_, _, err = auth.Authenticate(t.Context(), b.st, nil, secret, b.now.Add(59*time.Second))
	require.NoError(t, err)
	require.Equal(t, b.now, lastUsed())
	_, _, err = auth.Authenticate(t.Context(), b.st, nil, secret, b.now.Add(61*time.Second))
	require.NoError(t, err)
	require.Equal(t, b.now.Add(61*time.Second), lastUsed())
}

func TestRefusedTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)

	expiring, _ := b.create(t, b.alice.ID, b.now.Add(time.Hour))
	_, _, err := auth.Authenticate(t.Context(), b.st, nil, expiring, b.now.Add(59*time.Minute))
	require.NoError(t, err)
	_, _, err = auth.Authenticate(t.Context(), b.st, nil, expiring, b.now.Add(time.Hour))
	requireUnauthorized(t, err)

	revoked, tok := b.create(t, b.alice.ID, time.Time{})
	require.NoError(t, b.revoke(t, b.alice, tok.ID))
	_, _, err = auth.Authenticate(t.Context(), b.st, nil, revoked, b.now)
	requireUnauthorized(t, err)

	offboarded, _ := b.create(t, b.alice.ID, time.Time{})
	gone := *b.alice
	gone.Status = access.UserOffboarded
	require.NoError(t, b.st.UserUpsert(t.Context(), &gone))
	_, _, err = auth.Authenticate(t.Context(), b.st, nil, offboarded, b.now)
	requireUnauthorized(t, err)
}

func TestRevokeToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, tok := b.create(t, b.admin.ID, time.Time{})
	_, alices := b.create(t, b.alice.ID, time.Time{})

	err := b.revoke(t, b.alice, tok.ID)
	require.Equal(t, access.CodeNotFound, access.ErrorCode(err), "another user's token is not found")
	require.Equal(t, access.CodeNotFound, access.ErrorCode(b.revoke(t, b.alice, "tok_nope")))

	require.NoError(t, b.revoke(t, b.admin, alices.ID), "admins revoke anyone's token")
	require.NoError(t, b.revoke(t, b.alice, alices.ID), "revoking twice is a no-op")
	require.NoError(t, b.revoke(t, nil, tok.ID), "the system revokes anything")

	evs, _, err := b.st.EventList(t.Context(), store.EventListParams{Action: "token.revoked"})
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.Equal(t, access.SystemActor, evs[0].ActorID)
	require.Equal(t, b.admin.ID, evs[1].ActorID)

	all, err := auth.ListTokens(t.Context(), b.st, "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	for _, tk := range all {
		require.False(t, tk.RevokedAt.IsZero())
	}
}

func TestCreateTokenValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, c := range []struct {
		user, name string
		expires    time.Time
		code       access.Code
	}{
		{b.alice.ID, "", time.Time{}, access.CodeInvalid},
		{b.alice.ID, strings.Repeat("n", auth.MaxTokenName+1), time.Time{}, access.CodeInvalid},
		{b.alice.ID, "bad\nname", time.Time{}, access.CodeInvalid},
		{b.alice.ID, "ci", b.now, access.CodeInvalid},
		{"usr_nope", "ci", time.Time{}, access.CodeNotFound},
	} {
		err := b.st.InTx(t.Context(), func(q store.Queries) error {
			_, _, err := auth.CreateToken(t.Context(), q, c.user, c.name, c.expires, b.now)
			return err
		})
		require.Equal(t, c.code, access.ErrorCode(err), "%+v: %v", c, err)
	}
	ts, err := auth.ListTokens(t.Context(), b.st, b.alice.ID)
	require.NoError(t, err)
	require.Empty(t, ts)
}

// TestUseRecorderSavesInTheBackground: with a UseRecorder, Authenticate
// does not write; the recorder saves the uses of many tokens, keeps the
// latest use of each, never undoes a revocation, and Close waits for what
// it still has to save.
func TestUseRecorderSavesInTheBackground(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := auth.NewUseRecorder(b.st, nil)
	var secrets []string
	var toks []*access.Token
	for range 20 {
		s, tok := b.create(t, b.alice.ID, time.Time{})
		secrets, toks = append(secrets, s), append(toks, tok)
	}
	for i, s := range secrets {
		_, got, err := auth.Authenticate(t.Context(), b.st, rec, s, b.now.Add(time.Duration(i)*time.Second))
		require.NoError(t, err)
		require.Equal(t, b.now.Add(time.Duration(i)*time.Second), got.LastUsedAt, "the caller sees the use")
	}
	rec.Note(toks[0].ID, b.now.Add(-time.Hour)) // an older use does not win
	require.NoError(t, b.revoke(t, b.alice, toks[1].ID))
	rec.Note(toks[1].ID, b.now.Add(5*time.Minute))
	rec.Close()
	for i, tok := range toks {
		got, err := b.st.TokenGetByID(t.Context(), tok.ID)
		require.NoError(t, err)
		if i == 1 {
			// Saved before the revocation or skipped after it: either
			// way the revocation stands.
			require.False(t, got.RevokedAt.IsZero(), "the revocation stands")
			continue
		}
		require.Equal(t, b.now.Add(time.Duration(i)*time.Second), got.LastUsedAt, "token %d", i)
	}
	// After Close, uses are dropped rather than saved by a late goroutine.
	rec.Note(toks[2].ID, b.now.Add(time.Hour))
	got, err := b.st.TokenGetByID(t.Context(), toks[2].ID)
	require.NoError(t, err)
	require.Equal(t, b.now.Add(2*time.Second), got.LastUsedAt)
}
