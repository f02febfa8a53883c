package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sesame-access/sesame/internal/connector"
)

// session is one bound connection, used for one operation and closed.
type session struct {
	cfg  *config
	conn *goldap.Conn
	// stop unhooks the context watcher that closes conn when the caller's
	// context ends.
	stop func() bool
}

// open dials, secures and binds a connection. Connecting (dial, TLS,
// StartTLS, bind) is bounded by the timeout setting and by ctx; each later
// request by the timeout setting, and the connection is closed when ctx
// ends. Errors are classified (see classify).
func (c *Connector) open(ctx context.Context) (*session, error) {
	cfg := c.cfg
	setupCtx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	var d net.Dialer
	raw, err := d.DialContext(setupCtx, "tcp", cfg.addr)
	if err != nil {
		return nil, classify(fmt.Errorf("ldap: connect to %s: %w", cfg.addr, err))
	}
	// Until setup is done, a stalled server is cut off when setupCtx ends.
	unhookSetup := context.AfterFunc(setupCtx, func() { _ = raw.Close() })
	netConn := raw
	if cfg.ldaps {
		tc := tls.Client(raw, cfg.tls.Clone())
		if err := tc.HandshakeContext(setupCtx); err != nil {
			unhookSetup()
			_ = raw.Close()
			return nil, classify(fmt.Errorf("ldap: TLS with %s: %w", cfg.addr, err))
		}
		netConn = tc
	}
	conn := goldap.NewConn(netConn, cfg.ldaps)
	conn.Start()
	conn.SetTimeout(cfg.timeout)
	fail := func(step string, err error) (*session, error) {
		unhookSetup()
		_ = conn.Close()
		if ctxErr := setupCtx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%w)", err, ctxErr)
		}
		return nil, classify(fmt.Errorf("ldap: %s %s: %w", step, cfg.addr, err))
	}
	if cfg.startTLS {
		if err := conn.StartTLS(cfg.tls.Clone()); err != nil {
			return fail("StartTLS with", err)
		}
	}
	// Bind's error names the DN but never the password.
	if err := conn.Bind(cfg.bindDN, cfg.bindPassword); err != nil {
		return fail("bind as "+cfg.bindDN+" to", err)
	}
	if !unhookSetup() {
		return fail("connect to", context.DeadlineExceeded)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	return &session{cfg: cfg, conn: conn, stop: stop}, nil
}

// close ends the session.
func (s *session) close() {
	s.stop()
	_ = s.conn.Close()
}

// permanentCodes are LDAP result codes that retrying will not fix: bad
// credentials or permissions, entries or attributes that do not exist or
// do not fit the schema, a server that refuses by policy. Every other
// code (busy, unavailable, time limits, "other", client-side network
// errors) is retryable.
var permanentCodes = []uint16{ //nolint:gochecknoglobals // a constant list
	goldap.LDAPResultProtocolError,
	goldap.LDAPResultAuthMethodNotSupported,
	goldap.LDAPResultStrongAuthRequired,
	goldap.LDAPResultReferral,
	goldap.LDAPResultConfidentialityRequired,
	goldap.LDAPResultNoSuchAttribute,
	goldap.LDAPResultUndefinedAttributeType,
	goldap.LDAPResultInappropriateMatching,
	goldap.LDAPResultConstraintViolation,
	goldap.LDAPResultInvalidAttributeSyntax,
	goldap.LDAPResultNoSuchObject,
	goldap.LDAPResultInvalidDNSyntax,
	goldap.LDAPResultInappropriateAuthentication,
	goldap.LDAPResultInvalidCredentials,
	goldap.LDAPResultInsufficientAccessRights,
	goldap.LDAPResultUnwillingToPerform,
	goldap.LDAPResultNamingViolation,
	goldap.LDAPResultObjectClassViolation,
	goldap.LDAPResultNotAllowedOnNonLeaf,
	goldap.LDAPResultNotAllowedOnRDN,
	goldap.LDAPResultObjectClassModsProhibited,
	goldap.ErrorFilterCompile,
	goldap.ErrorEmptyPassword,
}

// classify marks err permanent when retrying cannot help: an LDAP result
// code in permanentCodes, or a server certificate that does not verify
// (the ca_cert setting or the server's certificate must change). Network
// errors, timeouts, busy (51) and unavailable (52) stay retryable.
func classify(err error) error {
	if err == nil || connector.IsPermanent(err) {
		return err
	}
	if isCertificateError(err) {
		return connector.Permanent(err)
	}
	if le, ok := errors.AsType[*goldap.Error](err); ok && slices.Contains(permanentCodes, le.ResultCode) {
		return connector.Permanent(err)
	}
	return err
}

// isCertificateError reports whether err is a failed verification of the
// server's certificate. go-ldap's StartTLS flattens the handshake error
// into text, hence the string match besides errors.As.
func isCertificateError(err error) bool {
	var verr *tls.CertificateVerificationError
	return errors.As(err, &verr) || strings.Contains(err.Error(), "tls: failed to verify certificate")
}
