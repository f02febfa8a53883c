// Package connectortest is the conformance suite every connector passes:
// grant, grant again, sync sees it, revoke, revoke again, sync does not see
// it, bad settings give a clear error, a target that is down gives a
// retryable error, a permission error gives a permanent one.
package connectortest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-access/sesame/internal/connector"
)

// Harness adapts one connector to the suite.
type Harness struct {
	// Factory builds the connector under test.
	Factory connector.Factory
	// Settings are valid settings for a reachable target.
	Settings map[string]string
	// Target returns the i-th distinct target (0 and 1 are used): an account
	// that exists in the system (or will be created by Grant) and an
	// entitlement that exists.
	Target func(t *testing.T, i int) connector.Target
	// Has reports, from the target system itself (not through the
	// connector), whether t's access is present. Required.
	Has func(t *testing.T, tg connector.Target) bool
	// BadSettings each make Factory fail; the error must name the setting
	// (WantInError, matched case-insensitively).
	BadSettings []BadSettings
	// DownSettings point at a target that is not reachable (a closed port):
	// Grant must fail with a retryable error. Nil skips the check (say why
	// in the test).
	DownSettings map[string]string
	// ForbiddenSettings use credentials without the needed permission:
	// Grant must fail with a permanent error. Nil skips the check.
	ForbiddenSettings map[string]string
	// Timeout bounds each call (default 30s).
	Timeout time.Duration
}

// BadSettings is one invalid configuration.
type BadSettings struct {
	Name        string
	Settings    map[string]string
	WantInError string
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Factory == nil || h.Target == nil || h.Has == nil {
		t.Fatal("connectortest: Factory, Target and Has are required")
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctxFor := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		t.Cleanup(cancel)
		return ctx
	}
	grant := func(ctx context.Context, c connector.Connector, tg connector.Target) error {
		if ci, ok := c.(connector.CredentialIssuer); ok {
			creds, err := ci.IssueGrant(ctx, tg)
			if err == nil && creds.Secret == "" {
				return errors.New("IssueGrant returned no secret")
			}
			return err
		}
		return c.Grant(ctx, tg)
	}

	t.Run("lifecycle", func(t *testing.T) {
		ctx := ctxFor(t)
		c, err := h.Factory(h.Settings)
		if err != nil {
			t.Fatalf("factory with valid settings: %v", err)
		}
		tg, other := h.Target(t, 0), h.Target(t, 1)
		if h.Has(t, tg) {
			t.Fatal("target already has access before Grant")
		}
		if err := grant(ctx, c, tg); err != nil {
			t.Fatalf("grant: %v", err)
		}
		if !h.Has(t, tg) {
			t.Fatal("access missing after Grant")
		}
		if err := grant(ctx, c, tg); err != nil {
			t.Fatalf("second grant must succeed (idempotent): %v", err)
		}
		if !h.Has(t, tg) {
			t.Fatal("access missing after second Grant")
		}
		if h.Has(t, other) {
			t.Fatal("Grant gave access to another target")
		}
		if gl, ok := c.(connector.GrantLister); ok {
			has, err := syncHas(ctx, c, gl, tg)
			if err != nil {
				t.Fatal(err)
			}
			if !has {
				t.Fatal("ListGrants does not show the grant")
			}
		}
		if err := c.Revoke(ctx, tg); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if h.Has(t, tg) {
			t.Fatal("access still present after Revoke")
		}
		if err := c.Revoke(ctx, tg); err != nil {
			t.Fatalf("second revoke must succeed (idempotent): %v", err)
		}
		if gl, ok := c.(connector.GrantLister); ok {
			has, err := syncHas(ctx, c, gl, tg)
			if err != nil {
				t.Fatal(err)
			}
			if has {
				t.Fatal("ListGrants still shows the revoked grant")
			}
		}
		if err := c.Revoke(ctx, other); err != nil {
			t.Fatalf("revoking access never granted must succeed: %v", err)
		}
	})

	t.Run("optional capabilities", func(t *testing.T) {
		ctx := ctxFor(t)
		c, err := h.Factory(h.Settings)
		if err != nil {
			t.Fatalf("factory: %v", err)
		}
		if hc, ok := c.(connector.HealthChecker); ok {
			if err := hc.HealthCheck(ctx); err != nil {
				t.Fatalf("health check of a reachable target: %v", err)
			}
		}
		if al, ok := c.(connector.AccountLister); ok {
			if _, err := al.ListAccounts(ctx); err != nil {
				t.Fatalf("ListAccounts: %v", err)
			}
		}
		if el, ok := c.(connector.EntitlementLister); ok {
			ents, err := el.ListEntitlements(ctx)
			if err != nil {
				t.Fatalf("ListEntitlements: %v", err)
			}
			key := h.Target(t, 0).EntitlementKey
			if !slices.ContainsFunc(ents, func(e connector.Entitlement) bool { return e.Key == key }) {
				t.Fatalf("ListEntitlements does not list %q", key)
			}
		}
	})

	for _, bs := range h.BadSettings {
		t.Run("bad settings/"+bs.Name, func(t *testing.T) {
			_, err := h.Factory(bs.Settings)
			if err == nil {
				t.Fatal("factory accepted bad settings")
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(bs.WantInError)) {
				t.Fatalf("error %q does not name %q", err, bs.WantInError)
			}
		})
	}

	if h.DownSettings != nil {
		t.Run("target down is retryable", func(t *testing.T) {
			ctx := ctxFor(t)
			c, err := h.Factory(h.DownSettings)
			if err != nil {
				t.Fatalf("factory must not connect: %v", err)
			}
			err = grant(ctx, c, h.Target(t, 0))
			if err == nil {
				t.Fatal("grant against a down target succeeded")
			}
			if connector.IsPermanent(err) {
				t.Fatalf("a down target must be retryable, got permanent: %v", err)
			}
		})
	}
	if h.ForbiddenSettings != nil {
		t.Run("permission error is permanent", func(t *testing.T) {
			ctx := ctxFor(t)
			c, err := h.Factory(h.ForbiddenSettings)
			if err != nil {
				t.Fatalf("factory: %v", err)
			}
			err = grant(ctx, c, h.Target(t, 0))
			if err == nil {
				t.Fatal("grant without permission succeeded")
			}
			if !connector.IsPermanent(err) {
				t.Fatalf("a permission error must be permanent: %v", err)
			}
		})
	}
}

// syncHas reports whether ListGrants shows tg, matching the account by
// email or, for connectors that map accounts, by the mapped name.
func syncHas(ctx context.Context, c connector.Connector, gl connector.GrantLister, tg connector.Target) (bool, error) {
	gs, err := gl.ListGrants(ctx)
	if err != nil {
		return false, fmt.Errorf("ListGrants: %w", err)
	}
	account := ""
	if m, ok := c.(connector.AccountMapper); ok {
		account = m.AccountFor(tg)
	}
	return slices.ContainsFunc(gs, func(g connector.GrantRecord) bool {
		if g.EntitlementKey != tg.EntitlementKey {
			return false
		}
		return (g.AccountEmail != "" && strings.EqualFold(g.AccountEmail, tg.Email)) || (account != "" && g.Account == account)
	}), nil
}
