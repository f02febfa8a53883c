package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func appID(a *access.App) string { return a.ID }

func testCatalog(t *testing.T, open Opener) {
	t.Helper()
	t.Run("AppRoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		a := b.app("github")
		require.NoError(t, b.st.AppUpsert(b.ctx, a))
		got, err := b.st.AppGetByID(b.ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, wantApp(a), got)

		empty := &access.App{ID: "bare", ConnectorSettings: map[string]string{}, Source: access.SourceDiscovered}
		require.NoError(t, b.st.AppUpsert(b.ctx, empty))
		got, err = b.st.AppGetByID(b.ctx, empty.ID)
		require.NoError(t, err)
		require.Equal(t, empty, got)
	})
	t.Run("AppUpsertReplaces", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		a := b.app("github", func(a *access.App) { a.Aliases = []string{"octo"} })
		require.NoError(t, b.st.AppUpsert(b.ctx, a))
		a.Name, a.Aliases, a.Watchlist, a.ConnectorSettings = "GitHub Enterprise", []string{"ghe"}, false, nil
		a.UpdatedAt = b.at(time.Second)
		require.NoError(t, b.st.AppUpsert(b.ctx, a))
		got, err := b.st.AppGetByID(b.ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, wantApp(a), got)

		// The search follows the new name and aliases.
		for query, want := range map[string][]string{"ghe": {"github"}, "enterprise": {"github"}, "octo": nil} {
			list, _, err := b.st.AppList(b.ctx, store.AppListParams{Query: query})
			require.NoError(t, err)
			require.Equal(t, want, nilIfEmpty(ids(list, appID)), query)
		}
	})
	t.Run("AppNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, err := b.st.AppGetByID(b.ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("AppListQuery", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for _, a := range []*access.App{
			b.app("github", func(a *access.App) { a.Name, a.Aliases = "GitHub", []string{"gh", "Code"} }),
			b.app("aws-prod", func(a *access.App) { a.Name, a.Aliases = "AWS Production", []string{"Amazon"} }),
			b.app("pg", func(a *access.App) { a.Name, a.Aliases = "Postgres 100%", []string{"db_main"} }),
			b.app("ldap", func(a *access.App) { a.Name, a.Aliases = "Directory", nil }),
		} {
			require.NoError(t, b.st.AppUpsert(b.ctx, a))
		}
		for _, tt := range []struct {
			query string
			want  []string
		}{
			{"", []string{"aws-prod", "github", "ldap", "pg"}},
			{"GIT", []string{"github"}},
			{"hub", []string{"github"}},
			{"code", []string{"github"}},
			{"AMAZON", []string{"aws-prod"}},
			{"prod", []string{"aws-prod"}},
			{"  dir ", []string{"ldap"}},
			{"o", []string{"aws-prod", "github", "ldap", "pg"}},
			{"%", []string{"pg"}},   // a literal percent sign, not a wildcard
			{"_", []string{"pg"}},   // a literal underscore
			{"b_m", []string{"pg"}}, // db_main
			{"hubgh", nil},          // never across two names
			{"github\ngh", nil},
			{"zzz", nil},
		} {
			got, next, err := b.st.AppList(b.ctx, store.AppListParams{Query: tt.query})
			require.NoError(t, err, tt.query)
			require.Empty(t, next)
			require.Equal(t, tt.want, nilIfEmpty(ids(got, appID)), "query %q", tt.query)
		}
	})
	t.Run("AppListPages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		want := []string{"a1", "a2", "a3", "a4", "a5"}
		for _, id := range []string{"a3", "a1", "a5", "a2", "a4"} {
			require.NoError(t, b.st.AppUpsert(b.ctx, b.app(id)))
		}
		for _, limit := range []int{1, 2, 5} {
			got := collectPages(t, limit, func(p store.Page) ([]*access.App, string, error) {
				return b.st.AppList(b.ctx, store.AppListParams{Page: p})
			})
			require.Equal(t, want, ids(got, appID), "limit %d", limit)
		}
		got := collectPages(t, 1, func(p store.Page) ([]*access.App, string, error) {
			return b.st.AppList(b.ctx, store.AppListParams{Page: p, Query: "A"})
		})
		require.Equal(t, want, ids(got, appID))
	})
	t.Run("EntitlementRoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		e := b.entitlement("github", "admin")
		require.NoError(t, b.st.EntitlementUpsert(b.ctx, e))
		got, err := b.st.EntitlementGetByID(b.ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, wantEntitlement(e), got)

		e.Name, e.Requestable, e.MaxDuration, e.Tags, e.Risk = "Admin", false, 0, nil, access.RiskLow
		require.NoError(t, b.st.EntitlementUpsert(b.ctx, e))
		got, err = b.st.EntitlementGetByID(b.ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, wantEntitlement(e), got)
	})
	t.Run("EntitlementNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, err := b.st.EntitlementGetByID(b.ctx, "github:nope")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("EntitlementKeyConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.EntitlementUpsert(b.ctx, b.entitlement("github", "admin")))
		dup := b.entitlement("github", "admin", func(e *access.Entitlement) { e.ID = "other-id" })
		require.ErrorIs(t, b.st.EntitlementUpsert(b.ctx, dup), store.ErrConflict)
	})
	t.Run("EntitlementListByApp", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for _, key := range []string{"write", "admin", "read"} {
			require.NoError(t, b.st.EntitlementUpsert(b.ctx, b.entitlement("github", key)))
		}
		require.NoError(t, b.st.EntitlementUpsert(b.ctx, b.entitlement("aws", "admin")))
		got, err := b.st.EntitlementListByApp(b.ctx, "github")
		require.NoError(t, err)
		require.Equal(t, []string{"github:admin", "github:read", "github:write"},
			ids(got, func(e *access.Entitlement) string { return e.ID }))
		require.Equal(t, wantEntitlement(b.entitlement("github", "admin")), got[0])
		got, err = b.st.EntitlementListByApp(b.ctx, "unknown")
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
