package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/sqlite"
	"github.com/sesame-access/sesame/internal/web/signin"
)

func TestBootstrapAdmin(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := sqlite.OpenTest(t)
	clk := clock.NewFake(time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC))

	_, err := bootstrapAdmin(ctx, st, clk, "")
	require.ErrorContains(t, err, "no admin exists yet")
	_, err = bootstrapAdmin(ctx, st, clk, "not-an-email")
	require.ErrorContains(t, err, "not an email")

	res, err := bootstrapAdmin(ctx, st, clk, "first@example.com")
	require.NoError(t, err)
	require.True(t, res.created)
	require.True(t, res.user.HasRole(access.RoleAdmin))
	l, err := signin.RedeemLink(ctx, st, res.token, clk.Now().Add(14*time.Minute))
	require.NoError(t, err)
	require.Equal(t, res.user.ID, l.UserID)
	_, err = signin.RedeemLink(ctx, st, res.token, clk.Now().Add(14*time.Minute))
	require.ErrorIs(t, err, signin.ErrBadLink, "once")

	// Without --email: the first admin; a second link for them, no change.
	res2, err := bootstrapAdmin(ctx, st, clk, "")
	require.NoError(t, err)
	require.Equal(t, res.user.ID, res2.user.ID)
	require.False(t, res2.created || res2.promoted)
	_, err = signin.RedeemLink(ctx, st, res2.token, clk.Now().Add(15*time.Minute))
	require.ErrorIs(t, err, signin.ErrBadLink, "expired after 15 minutes")

	// An existing user is promoted, keeping their roles; offboarded users
	// are refused.
	now := clk.Now()
	require.NoError(t, st.UserUpsert(ctx, &access.User{ID: "usr_aud", Email: "aud@example.com", Name: "Aud", Roles: []access.Role{access.RoleAuditor},
		Status: access.UserActive, CreatedAt: now, UpdatedAt: now}))
	require.NoError(t, st.UserUpsert(ctx, &access.User{ID: "usr_gone", Email: "gone@example.com", Name: "Gone",
		Status: access.UserOffboarded, CreatedAt: now, UpdatedAt: now}))
	res3, err := bootstrapAdmin(ctx, st, clk, "aud@example.com")
	require.NoError(t, err)
	require.True(t, res3.promoted)
	require.Equal(t, []access.Role{access.RoleAuditor, access.RoleAdmin}, res3.user.Roles)
	_, err = bootstrapAdmin(ctx, st, clk, "gone@example.com")
	require.ErrorContains(t, err, "offboarded")

	events, _, err := st.EventList(ctx, store.EventListParams{Action: "user."})
	require.NoError(t, err)
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"user.login_link_issued", "user.admin_bootstrapped", "user.login_link_issued", "user.login_link_issued", "user.admin_bootstrapped"}, actions)
}
