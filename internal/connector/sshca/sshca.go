package sshca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "ssh"

// CredentialsKind is Credentials.Kind for what IssueGrant returns.
const CredentialsKind = "ssh-certificate"

// clockSkew is how far back a certificate's validity starts, for hosts
// whose clocks run behind.
const clockSkew = time.Minute

// ErrStateDirRequired means a call needs the state_dir setting.
var ErrStateDirRequired = errors.New("ssh: this needs the state_dir setting")

// Connector is an SSH certificate authority: it signs short-lived user
// certificates with the CA key that hosts trust.
type Connector struct {
	cfg *config
	now func() time.Time
	// mu serialises read-modify-write of state files and the revoked keys
	// file within this process.
	mu sync.Mutex
}

var (
	_ connector.Connector         = (*Connector)(nil)
	_ connector.CredentialIssuer  = (*Connector)(nil)
	_ connector.AccountMapper     = (*Connector)(nil)
	_ connector.GrantLister       = (*Connector)(nil)
	_ connector.SettingsValidator = (*Connector)(nil)
)

// New is the connector.Factory; it reads the time from the system clock.
func New(settings map[string]string) (connector.Connector, error) {
	return NewWithClock(settings, clock.Real{}.Now)
}

// NewWithClock is New with a time source, for tests (certificates issued
// in the past, expiry). It validates settings and touches nothing.
func NewWithClock(settings map[string]string, now func() time.Time) (*Connector, error) {
	cfg, err := parseSettings(settings)
	if err != nil {
		return nil, err
	}
	return &Connector{cfg: cfg, now: now}, nil
}

// ValidateSettings implements connector.SettingsValidator: it parses the
// CA key and the other settings, without side effects.
func (*Connector) ValidateSettings(settings map[string]string) error {
	_, err := parseSettings(settings)
	return err
}

// AccountFor implements connector.AccountMapper: the first principal of
// the certificates t gets (the login), or "" when the template gives none.
func (c *Connector) AccountFor(t connector.Target) string {
	p, err := principals(c.cfg.template, t.EntitlementKey, t.Email)
	if err != nil {
		return ""
	}
	return p[0]
}

// Grant issues a certificate and throws it away: nobody can use it, but
// it exercises the same path as IssueGrant. Callers should use IssueGrant.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	_, err := c.IssueGrant(ctx, t)
	return err
}

// IssueGrant implements connector.CredentialIssuer. It generates a fresh
// user key pair of key_type and signs a user certificate for it:
//
//   - KeyId "sesame:<grant id>:<email>", a random serial;
//   - principals from principals_template (default: the entitlement key,
//     split on commas);
//   - valid from now-1m (clock skew) until t.ExpiresAt, capped at
//     now+max_validity (and max_validity from now when ExpiresAt is zero);
//   - the extensions ssh-keygen grants by default: permit-pty,
//     permit-agent-forwarding, permit-port-forwarding,
//     permit-X11-forwarding, permit-user-rc.
//
// With state_dir set it records the certificate (never the private key)
// before returning it, so Revoke can find it; a state that cannot be
// written is a retryable error and the certificate is discarded. Calling
// it again for the same grant issues another key and certificate.
//
// Credentials.Secret is the private key as an OpenSSH PEM block (ending
// in a newline) followed by one line holding the certificate in
// authorized_keys format (ending in a newline); SplitSecret parses it.
// An expiry already past, or principals the template cannot make, are
// permanent errors.
func (c *Connector) IssueGrant(ctx context.Context, t connector.Target) (connector.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return connector.Credentials{}, err
	}
	if t.GrantID == "" {
		return connector.Credentials{}, connector.Permanent(errors.New("ssh: the target has no grant id, which the certificate's key id needs"))
	}
	now := c.now().UTC()
	ps, err := principals(c.cfg.template, t.EntitlementKey, t.Email)
	if err != nil {
		return connector.Credentials{}, connector.Permanent(fmt.Errorf("ssh: %w", err))
	}
	validBefore := now.Add(c.cfg.maxValidity)
	if !t.ExpiresAt.IsZero() {
		if !t.ExpiresAt.After(now) {
			return connector.Credentials{}, connector.Permanent(fmt.Errorf("ssh: grant %s expired at %s", t.GrantID, t.ExpiresAt.UTC().Format(time.RFC3339)))
		}
		if t.ExpiresAt.Before(validBefore) {
			validBefore = t.ExpiresAt.UTC()
		}
	}
	validAfter := now.Add(-clockSkew)

	priv, err := generateKey(c.cfg.keyType)
	if err != nil {
		return connector.Credentials{}, fmt.Errorf("ssh: generate user key: %w", err)
	}
	userSigner, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return connector.Credentials{}, fmt.Errorf("ssh: user key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return connector.Credentials{}, err
	}
	keyID := "sesame:" + t.GrantID + ":" + t.Email
	cert := &ssh.Certificate{
		Key:             userSigner.PublicKey(),
		Serial:          serial,
		CertType:        ssh.UserCert,
		KeyId:           keyID,
		ValidPrincipals: ps,
		ValidAfter:      unixSeconds(validAfter),
		ValidBefore:     unixSeconds(validBefore),
		Permissions: ssh.Permissions{Extensions: map[string]string{
			"permit-X11-forwarding":   "",
			"permit-agent-forwarding": "",
			"permit-port-forwarding":  "",
			"permit-pty":              "",
			"permit-user-rc":          "",
		}},
	}
	if err := cert.SignCert(rand.Reader, c.cfg.ca); err != nil {
		return connector.Credentials{}, fmt.Errorf("ssh: sign certificate: %w", err)
	}

	if c.cfg.stateDir != "" {
		if err := c.record(t, ps, certState{
			Serial:      serial,
			KeyID:       keyID,
			PublicKey:   strings.TrimSpace(string(ssh.MarshalAuthorizedKey(userSigner.PublicKey()))),
			ValidAfter:  validAfter,
			ValidBefore: validBefore,
		}); err != nil {
			return connector.Credentials{}, err
		}
	}

	block, err := ssh.MarshalPrivateKey(priv, keyID)
	if err != nil {
		return connector.Credentials{}, fmt.Errorf("ssh: encode user key: %w", err)
	}
	file := "~/.ssh/" + keyFileName(c.cfg.keyType) + "-sesame"
	return connector.Credentials{
		Kind:     CredentialsKind,
		Username: ps[0],
		Secret:   string(pem.EncodeToMemory(block)) + string(ssh.MarshalAuthorizedKey(cert)),
		Hint: fmt.Sprintf("ssh -i %s %s@HOST (private key in %s, mode 0600; certificate in %s-cert.pub; valid until %s)",
			file, ps[0], file, file, validBefore.Format(time.RFC3339)),
	}, nil
}

// record adds a certificate to the grant's state.
func (c *Connector) record(t connector.Target, ps []string, cs certState) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, err := c.loadState(t.GrantID)
	if err != nil {
		return err
	}
	if g == nil {
		g = &grantState{GrantID: t.GrantID}
	}
	g.Email, g.EntitlementKey, g.Principals = t.Email, t.EntitlementKey, ps
	g.Certificates = append(g.Certificates, cs)
	return c.saveState(g)
}

// Revoke stops the grant's certificates from being used, as far as an SSH
// CA can: certificates cannot be recalled, and expiry is the control that
// always works. Without state_dir Revoke does nothing and succeeds. With
// state_dir it marks the grant's certificates revoked (ListGrants no
// longer shows them); with revoked_keys_file as well, it first appends
// their public keys to that file, which sshd's RevokedKeys reads, so hosts
// that use the file refuse them from the next login on. Revoking a grant
// this CA never issued succeeds.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.cfg.stateDir == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g, err := c.loadState(t.GrantID)
	if err != nil || g == nil {
		return err
	}
	var pending []certState
	for _, cs := range g.Certificates {
		if cs.RevokedAt.IsZero() {
			pending = append(pending, cs)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	if c.cfg.revokedKeysFile != "" {
		// The file first: if this fails the state still says "not
		// revoked" and a retry does it again.
		if err := appendRevokedKeys(c.cfg.revokedKeysFile, pending); err != nil {
			return err
		}
	}
	now := c.now().UTC()
	for i := range g.Certificates {
		if g.Certificates[i].RevokedAt.IsZero() {
			g.Certificates[i].RevokedAt = now
		}
	}
	return c.saveState(g)
}

// ListGrants implements connector.GrantLister from state_dir: one record
// per grant that has an unrevoked certificate not yet expired. Account is
// the first principal. Without state_dir it returns ErrStateDirRequired
// (permanent): the CA alone keeps no record.
func (c *Connector) ListGrants(ctx context.Context) ([]connector.GrantRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.cfg.stateDir == "" {
		return nil, connector.Permanent(ErrStateDirRequired)
	}
	c.mu.Lock()
	states, err := c.listStates()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	now := c.now()
	var out []connector.GrantRecord
	for _, g := range states {
		if !g.active(now) || len(g.Principals) == 0 {
			continue
		}
		out = append(out, connector.GrantRecord{Account: g.Principals[0], AccountEmail: g.Email, EntitlementKey: g.EntitlementKey})
	}
	return out, nil
}

// SplitSecret splits a Credentials.Secret from IssueGrant into the
// private key (an OpenSSH PEM block, to save as e.g. ~/.ssh/id_ed25519-sesame
// with mode 0600) and the certificate line (authorized_keys format, to save
// next to it as id_ed25519-sesame-cert.pub, where ssh looks for it). It
// checks that both parse and that the certificate is for that key.
func SplitSecret(secret string) (privateKeyPEM, certificate []byte, err error) {
	block, rest := pem.Decode([]byte(secret))
	if block == nil || block.Type != "OPENSSH PRIVATE KEY" {
		return nil, nil, errors.New("ssh: secret does not start with an OPENSSH PRIVATE KEY block")
	}
	privateKeyPEM = pem.EncodeToMemory(block)
	signer, err := ssh.ParsePrivateKey(privateKeyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh: secret's private key: %w", err)
	}
	certificate = []byte(strings.TrimSpace(string(rest)) + "\n")
	pub, _, _, rest2, err := ssh.ParseAuthorizedKey(certificate)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh: secret's certificate: %w", err)
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok || len(strings.TrimSpace(string(rest2))) != 0 {
		return nil, nil, errors.New("ssh: secret's second part is not one certificate line")
	}
	if string(cert.Key.Marshal()) != string(signer.PublicKey().Marshal()) {
		return nil, nil, errors.New("ssh: secret's certificate is for another key")
	}
	return privateKeyPEM, certificate, nil
}

// keyFileName is the file name ssh uses by default for a key type.
func keyFileName(keyType string) string {
	switch keyType {
	case KeyTypeECDSA:
		return "id_ecdsa"
	case KeyTypeRSA:
		return "id_rsa"
	default:
		return "id_ed25519"
	}
}

func generateKey(keyType string) (crypto.PrivateKey, error) {
	switch keyType {
	case KeyTypeECDSA:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyTypeRSA:
		return rsa.GenerateKey(rand.Reader, 3072)
	default:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
}

func randomSerial() (uint64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("ssh: random serial: %w", err)
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

// unixSeconds converts t to a certificate timestamp; times before 1970 are 0.
func unixSeconds(t time.Time) uint64 {
	if s := t.Unix(); s > 0 {
		return uint64(s)
	}
	return 0
}
