package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func tokenID(t *access.Token) string { return t.ID }

func testTokens(t *testing.T, open Opener) {
	t.Helper()
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		tok := b.token(1, func(tok *access.Token) { tok.RevokedAt = b.now })
		require.NoError(t, b.st.TokenCreate(b.ctx, tok))
		got, err := b.st.TokenGetByID(b.ctx, tok.ID)
		require.NoError(t, err)
		require.Equal(t, wantToken(tok), got)
		got, err = b.st.TokenGetByHash(b.ctx, tok.Hash)
		require.NoError(t, err)
		require.Equal(t, wantToken(tok), got)

		bare := &access.Token{ID: "tok_0002", Hash: "h2"}
		require.NoError(t, b.st.TokenCreate(b.ctx, bare))
		got, err = b.st.TokenGetByID(b.ctx, bare.ID)
		require.NoError(t, err)
		require.Equal(t, bare, got)
	})
	t.Run("Conflicts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.TokenCreate(b.ctx, b.token(1)))
		sameHash := b.token(2, func(tok *access.Token) { tok.Hash = b.token(1).Hash })
		require.ErrorIs(t, b.st.TokenCreate(b.ctx, sameHash), store.ErrConflict)
		sameID := b.token(1, func(tok *access.Token) { tok.Hash = "other" })
		require.ErrorIs(t, b.st.TokenCreate(b.ctx, sameID), store.ErrConflict)
	})
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, err := b.st.TokenGetByID(b.ctx, "tok_404")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.st.TokenGetByHash(b.ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, b.st.TokenUpdate(b.ctx, b.token(404)), store.ErrNotFound)
	})
	t.Run("List", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n, user := range map[int]string{1: "usr_a", 2: "usr_b", 3: "usr_a", 4: "usr_a"} {
			require.NoError(t, b.st.TokenCreate(b.ctx, b.token(n, func(tok *access.Token) { tok.UserID = user })))
		}
		got, err := b.st.TokenList(b.ctx, "usr_a")
		require.NoError(t, err)
		require.Equal(t, []string{"tok_0004", "tok_0003", "tok_0001"}, ids(got, tokenID))
		got, err = b.st.TokenList(b.ctx, "")
		require.NoError(t, err)
		require.Equal(t, []string{"tok_0004", "tok_0003", "tok_0002", "tok_0001"}, ids(got, tokenID))
		require.Equal(t, wantToken(b.token(4, func(tok *access.Token) { tok.UserID = "usr_a" })), got[0])
		got, err = b.st.TokenList(b.ctx, "usr_none")
		require.NoError(t, err)
		require.Empty(t, got)
	})
	t.Run("UpdateSavesUseAndRevocation", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		tok := b.token(1)
		require.NoError(t, b.st.TokenCreate(b.ctx, tok))
		changed := *tok
		changed.LastUsedAt, changed.RevokedAt = b.at(time.Minute), b.at(2*time.Minute)
		changed.Name, changed.Hash, changed.UserID = "renamed", "other", "usr_other"
		require.NoError(t, b.st.TokenUpdate(b.ctx, &changed))

		want := wantToken(tok)
		want.LastUsedAt, want.RevokedAt = tr(changed.LastUsedAt), tr(changed.RevokedAt)
		got, err := b.st.TokenGetByID(b.ctx, tok.ID)
		require.NoError(t, err)
		require.Equal(t, want, got, "only LastUsedAt and RevokedAt change")
		require.False(t, got.Valid(b.at(3*time.Minute)))

		changed.LastUsedAt = time.Time{}
		require.NoError(t, b.st.TokenUpdate(b.ctx, &changed))
		got, err = b.st.TokenGetByID(b.ctx, tok.ID)
		require.NoError(t, err)
		require.True(t, got.LastUsedAt.IsZero())
	})
}
