package sshca_test

import (
	"crypto/ed25519"
	"encoding/pem"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
	"github.com/sesame-access/sesame/internal/connector/sshca"
)

var splitSecret = sshca.SplitSecret // used by parseCreds

var epoch = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

type testBundle struct {
	ca       testCA
	clk      *clock.Fake
	stateDir string
	revoked  string
	settings map[string]string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	dir := t.TempDir()
	b := &testBundle{ca: newCA(t, "ed25519"), clk: clock.NewFake(epoch), stateDir: filepath.Join(dir, "state"), revoked: filepath.Join(dir, "revoked_keys")}
	b.settings = map[string]string{"ca_private_key": b.ca.privatePEM, "state_dir": b.stateDir, "revoked_keys_file": b.revoked}
	return b
}

func (b *testBundle) open(t *testing.T, settings map[string]string) *sshca.Connector {
	t.Helper()
	c, err := sshca.NewWithClock(settings, b.clk.Now)
	require.NoError(t, err)
	return c
}

func with(settings map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	maps.Copy(out, settings)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func target(i int) connector.Target {
	return connector.Target{
		GrantID: fmt.Sprint("grt_", i), Email: fmt.Sprintf("user%d@example.com", i), AppID: "servers",
		EntitlementKey: []string{"deploy", "ubuntu,admin"}[i], ExpiresAt: epoch.Add(4 * time.Hour),
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	connectortest.Run(t, connectortest.Harness{
		Factory: func(s map[string]string) (connector.Connector, error) {
			return sshca.NewWithClock(s, b.clk.Now)
		},
		Settings: b.settings,
		Target:   func(_ *testing.T, i int) connector.Target { return target(i) },
		Has: func(t *testing.T, tg connector.Target) bool {
			t.Helper()
			return hasAccess(t, b.stateDir, b.revoked, tg, b.clk.Now())
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "no key", Settings: with(b.settings, "ca_private_key", ""), WantInError: "ca_private_key"},
			{Name: "garbage key", Settings: with(b.settings, "ca_private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), WantInError: "ca_private_key"},
			{Name: "public key", Settings: with(b.settings, "ca_private_key", string(ssh.MarshalAuthorizedKey(b.ca.public))), WantInError: "ca_private_key"},
			{Name: "max validity", Settings: with(b.settings, "max_validity", "forever"), WantInError: "max_validity"},
			{Name: "key type", Settings: with(b.settings, "key_type", "dsa"), WantInError: "key_type"},
			{Name: "placeholder", Settings: with(b.settings, "principals_template", "{user}"), WantInError: "principals_template"},
			{Name: "relative state dir", Settings: with(b.settings, "state_dir", "state"), WantInError: "state_dir"},
			{Name: "revoked file without state", Settings: with(b.settings, "state_dir", ""), WantInError: "revoked_keys_file"},
			{Name: "unknown", Settings: with(b.settings, "colour", "red"), WantInError: "colour"},
		},
		// A CA signs locally: there is no target to be down, and no remote
		// permission to lack. TestLogin checks what hosts make of the
		// certificates.
		DownSettings:      nil,
		ForbiddenSettings: nil,
	})
}

func TestIssueGrant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	tg := target(1)

	creds, err := c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	require.Equal(t, sshca.CredentialsKind, creds.Kind)
	require.Equal(t, "ubuntu", creds.Username)
	require.Contains(t, creds.Hint, "ssh -i ~/.ssh/id_ed25519-sesame ubuntu@")
	require.Contains(t, creds.Hint, "2026-11-02T13:00:00Z")

	// The secret is the PEM block, then the certificate line.
	pemPart, certPart, ok := strings.Cut(creds.Secret, "-----END OPENSSH PRIVATE KEY-----\n")
	require.True(t, ok)
	require.True(t, strings.HasPrefix(pemPart, "-----BEGIN OPENSSH PRIVATE KEY-----\n"))
	require.True(t, strings.HasPrefix(certPart, "ssh-ed25519-cert-v01@openssh.com "))
	require.Equal(t, 1, strings.Count(certPart, "\n"))
	require.True(t, strings.HasSuffix(certPart, "\n"))

	signer, cert := parseCreds(t, creds.Secret)
	require.Equal(t, signer.PublicKey().Marshal(), cert.Key.Marshal())
	require.Equal(t, uint32(ssh.UserCert), cert.CertType)
	require.Equal(t, "sesame:grt_1:user1@example.com", cert.KeyId)
	require.Equal(t, []string{"ubuntu", "admin"}, cert.ValidPrincipals)
	require.Equal(t, epoch.Add(-time.Minute), certTime(cert.ValidAfter))
	require.Equal(t, epoch.Add(4*time.Hour), certTime(cert.ValidBefore), "ExpiresAt within max_validity")
	require.Equal(t, b.ca.public.Marshal(), cert.SignatureKey.Marshal())
	require.Contains(t, cert.Extensions, "permit-pty")
	require.Empty(t, cert.CriticalOptions)

	checker := ssh.CertChecker{
		IsUserAuthority: func(k ssh.PublicKey) bool { return string(k.Marshal()) == string(b.ca.public.Marshal()) },
		Clock:           b.clk.Now,
	}
	_, err = checker.Authenticate(connMeta{user: "admin"}, cert)
	require.NoError(t, err)
	_, err = checker.Authenticate(connMeta{user: "root"}, cert)
	require.Error(t, err, "not a principal")

	again, err := c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	_, cert2 := parseCreds(t, again.Secret)
	require.NotEqual(t, cert.Key.Marshal(), cert2.Key.Marshal(), "a fresh key each time")
	require.NotEqual(t, cert.Serial, cert2.Serial)

	st := readState(t, b.stateDir, tg.GrantID)
	require.NotNil(t, st)
	require.Len(t, st.Certificates, 2)
	require.Equal(t, []string{"ubuntu", "admin"}, st.Principals)
	require.NotContains(t, fmt.Sprint(st), "PRIVATE", "the state never holds private keys")
}

func TestValidity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, with(b.settings, "max_validity", "8h"))

	tg := target(0)
	tg.ExpiresAt = epoch.Add(72 * time.Hour)
	creds, err := c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	_, cert := parseCreds(t, creds.Secret)
	require.Equal(t, epoch.Add(8*time.Hour), certTime(cert.ValidBefore), "capped at max_validity")

	tg.ExpiresAt = time.Time{}
	creds, err = c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	_, cert = parseCreds(t, creds.Secret)
	require.Equal(t, epoch.Add(8*time.Hour), certTime(cert.ValidBefore), "no expiry: max_validity")

	tg.ExpiresAt = epoch
	_, err = c.IssueGrant(t.Context(), tg)
	require.True(t, connector.IsPermanent(err), "an expired grant: %v", err)

	// ListGrants forgets certificates once they expire.
	grants, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	require.Len(t, grants, 1)
	require.Equal(t, connector.GrantRecord{Account: "deploy", AccountEmail: "user0@example.com", EntitlementKey: "deploy"}, grants[0])
	b.clk.Advance(8 * time.Hour)
	grants, err = c.ListGrants(t.Context())
	require.NoError(t, err)
	require.Empty(t, grants)
}

func TestKeyTypes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ caKind, keyType, certType string }{
		{"ed25519", sshca.KeyTypeED25519, ssh.CertAlgoED25519v01},
		{"ed25519", sshca.KeyTypeECDSA, ssh.CertAlgoECDSA256v01},
		{"rsa", sshca.KeyTypeRSA, ssh.CertAlgoRSAv01},
	} {
		t.Run(tc.caKind+"/"+tc.keyType, func(t *testing.T) {
			t.Parallel()
			ca := newCA(t, tc.caKind)
			c, err := sshca.NewWithClock(map[string]string{"ca_private_key": ca.privatePEM, "key_type": tc.keyType}, clock.NewFake(epoch).Now)
			require.NoError(t, err)
			creds, err := c.IssueGrant(t.Context(), target(0))
			require.NoError(t, err)
			_, cert := parseCreds(t, creds.Secret)
			require.Equal(t, tc.certType, cert.Type())
			if tc.caKind == "rsa" {
				require.Contains(t, []string{ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512}, cert.Signature.Format, "never SHA-1 ssh-rsa signatures")
			}
		})
	}
}

func TestWithoutStateDir(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, map[string]string{"ca_private_key": b.ca.privatePEM})
	_, err := c.IssueGrant(t.Context(), target(0))
	require.NoError(t, err)
	require.NoError(t, c.Revoke(t.Context(), target(0)), "expiry is the control")
	_, err = c.ListGrants(t.Context())
	require.ErrorIs(t, err, sshca.ErrStateDirRequired)
	require.True(t, connector.IsPermanent(err))
}

func TestRevokeWritesRevokedKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	tg := target(0)
	var keys [][]byte
	for range 2 {
		creds, err := c.IssueGrant(t.Context(), tg)
		require.NoError(t, err)
		_, cert := parseCreds(t, creds.Secret)
		keys = append(keys, cert.Key.Marshal())
	}
	other, err := c.IssueGrant(t.Context(), target(1))
	require.NoError(t, err)
	_, otherCert := parseCreds(t, other.Secret)

	require.NoError(t, c.Revoke(t.Context(), tg))
	require.NoError(t, c.Revoke(t.Context(), tg))
	revoked := revokedKeys(t, b.revoked)
	require.Len(t, revoked, 2, "both of the grant's keys, once each")
	for _, k := range keys {
		require.True(t, revoked[string(k)])
	}
	require.False(t, revoked[string(otherCert.Key.Marshal())])
}

func TestSettingsErrorsHideTheKey(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "ed25519")
	broken := strings.Replace(ca.privatePEM, "AAAA", "AAA!", 1)
	_, err := sshca.New(map[string]string{"ca_private_key": broken})
	require.Error(t, err)
	for line := range strings.Lines(ca.privatePEM) {
		if len(line) > 20 {
			require.NotContains(t, err.Error(), strings.TrimSpace(line)[:20])
		}
	}

	_, caPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(caPriv, "", []byte("pass"))
	require.NoError(t, err)
	_, err = sshca.New(map[string]string{"ca_private_key": string(pem.EncodeToMemory(block))})
	require.ErrorContains(t, err, "encrypted")
}

func TestPrincipalsTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		template, key, email string
		want                 []string
		wantErr              bool
	}{
		{"", "deploy", "a@example.com", []string{"deploy"}, false},
		{"", " deploy , ubuntu,deploy ,", "a@example.com", []string{"deploy", "ubuntu"}, false},
		{"{email_local}", "ignored", "Jane.Doe@example.com", []string{"jane.doe"}, false},
		{"{email_local},{key}", "deploy", "jane@example.com", []string{"jane", "deploy"}, false},
		{"{email}", "", "jane@example.com", []string{"jane@example.com"}, false},
		{"", "", "a@example.com", nil, true},
		{"", "root shell", "a@example.com", nil, true},
		{"{email_local}", "", "jane+x@example.com", nil, true},
	} {
		c := b.open(t, with(b.settings, "principals_template", tc.template))
		tg := connector.Target{GrantID: "g", Email: tc.email, EntitlementKey: tc.key}
		creds, err := c.IssueGrant(t.Context(), tg)
		if tc.wantErr {
			require.Error(t, err, "%+v", tc)
			require.True(t, connector.IsPermanent(err))
			require.Empty(t, c.AccountFor(tg))
			continue
		}
		require.NoError(t, err, "%+v", tc)
		_, cert := parseCreds(t, creds.Secret)
		require.Equal(t, tc.want, cert.ValidPrincipals, "%+v", tc)
		require.Equal(t, tc.want[0], c.AccountFor(tg))
	}
}

func TestSplitSecretRejects(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	one, err := c.IssueGrant(t.Context(), target(0))
	require.NoError(t, err)
	two, err := c.IssueGrant(t.Context(), target(0))
	require.NoError(t, err)
	keyOne, _, ok := strings.Cut(one.Secret, "-----END OPENSSH PRIVATE KEY-----\n")
	require.True(t, ok)
	_, certTwo, ok := strings.Cut(two.Secret, "-----END OPENSSH PRIVATE KEY-----\n")
	require.True(t, ok)

	for name, secret := range map[string]string{
		"empty":     "",
		"no cert":   keyOne + "-----END OPENSSH PRIVATE KEY-----\n",
		"mixed":     keyOne + "-----END OPENSSH PRIVATE KEY-----\n" + certTwo,
		"plain key": keyOne + "-----END OPENSSH PRIVATE KEY-----\n" + string(ssh.MarshalAuthorizedKey(b.ca.public)),
		"cert only": certTwo,
		"two certs": keyOne + "-----END OPENSSH PRIVATE KEY-----\n" + certTwo + certTwo,
	} {
		_, _, err := sshca.SplitSecret(secret)
		require.Error(t, err, name)
	}
}

// certTime converts a certificate timestamp.
func certTime(v uint64) time.Time {
	return time.Unix(int64(v), 0).UTC() //nolint:gosec // test certificates hold times near 2026
}

// connMeta is the bit of ssh.ConnMetadata CertChecker reads.
type connMeta struct {
	ssh.ConnMetadata
	user string
}

func (m connMeta) User() string { return m.user }

func TestExtendGrantReissues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, with(b.settings, "max_validity", "8h"))
	tg := target(1)
	first, err := c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	_, cert1 := parseCreds(t, first.Secret)

	b.clk.Advance(time.Hour)
	tg.ExpiresAt = epoch.Add(6 * time.Hour)
	more, err := c.ExtendGrant(t.Context(), tg)
	require.NoError(t, err)
	require.NotNil(t, more, "a certificate cannot move: a new one is issued")
	_, cert2 := parseCreds(t, more.Secret)
	require.Equal(t, epoch.Add(6*time.Hour), certTime(cert2.ValidBefore), "valid until the new expiry")
	require.Equal(t, cert1.ValidPrincipals, cert2.ValidPrincipals)
	require.NotEqual(t, cert1.Serial, cert2.Serial)
	require.Len(t, readState(t, b.stateDir, tg.GrantID).Certificates, 2)

	require.NoError(t, c.Revoke(t.Context(), tg))
	for _, cs := range readState(t, b.stateDir, tg.GrantID).Certificates {
		require.False(t, cs.RevokedAt.IsZero(), "revoking the grant revokes every certificate it had")
	}
}
