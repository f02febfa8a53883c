package secrets_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/secrets"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	key[0] = 7
	b, err := secrets.New(key)
	require.NoError(t, err)
	s1, err := b.Seal("hunter2")
	require.NoError(t, err)
	s2, err := b.Seal("hunter2")
	require.NoError(t, err)
	require.True(t, secrets.IsSealed(s1))
	require.NotEqual(t, s1, s2, "random nonces")
	require.NotContains(t, s1, "hunter2")
	p, err := b.Open(s1)
	require.NoError(t, err)
	require.Equal(t, "hunter2", p)
	again, err := b.Seal(s1)
	require.NoError(t, err)
	require.Equal(t, s1, again, "sealing is idempotent")
	plain, err := b.Open("not sealed")
	require.NoError(t, err)
	require.Equal(t, "not sealed", plain)

	other, err := secrets.New(make([]byte, 32))
	require.NoError(t, err)
	_, err = other.Open(s1)
	require.ErrorContains(t, err, "wrong key or tampered")
	tampered := s1[:len(s1)-2] + "AA"
	_, err = b.Open(tampered)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
	_, err = b.Open(secrets.Prefix + "%%%")
	require.ErrorContains(t, err, "malformed")

	_, err = secrets.New([]byte("short"))
	require.Error(t, err)
}

func TestSettings(t *testing.T) {
	t.Parallel()
	b, err := secrets.New(make([]byte, 32))
	require.NoError(t, err)
	in := map[string]string{"url": "postgres://db", "password": "pw", "token": ""}
	sealed, err := b.SealSettings(in, func(k string) bool { return strings.Contains(k, "password") || strings.Contains(k, "token") })
	require.NoError(t, err)
	require.Equal(t, "postgres://db", sealed["url"])
	require.True(t, secrets.IsSealed(sealed["password"]))
	require.Empty(t, sealed["token"], "empty values stay empty")
	opened, err := b.OpenSettings(sealed)
	require.NoError(t, err)
	require.Equal(t, in, opened)
	require.Equal(t, "pw", in["password"], "the input is not modified")
}

func TestKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "dir", "secret.key")
	_, _, err := secrets.LoadOrCreateKeyFile(path, false)
	require.Error(t, err)
	k1, created, err := secrets.LoadOrCreateKeyFile(path, true)
	require.NoError(t, err)
	require.True(t, created)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	k2, created, err := secrets.LoadOrCreateKeyFile(path, true)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, k1, k2)
	require.NoError(t, os.WriteFile(path, []byte("nope"), 0o600))
	_, _, err = secrets.LoadOrCreateKeyFile(path, true)
	require.ErrorContains(t, err, "base64")
}

func TestDeriveKey(t *testing.T) {
	t.Parallel()
	b, err := secrets.New(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	k1, k2 := b.DeriveKey("slack-link"), b.DeriveKey("other")
	require.Len(t, k1, 32)
	require.NotEqual(t, k1, k2)
	require.Equal(t, k1, b.DeriveKey("slack-link"), "deterministic")
	require.NotEqual(t, make([]byte, 32), k1)
}
