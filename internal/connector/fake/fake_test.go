package fake_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
	"github.com/sesame-access/sesame/internal/connector/fake"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	b := fake.NewBackend()
	connectortest.Run(t, connectortest.Harness{
		Factory:  b.Factory(),
		Settings: map[string]string{},
		Target: func(_ *testing.T, i int) connector.Target {
			return connector.Target{GrantID: fmt.Sprint("grt_", i), Email: fmt.Sprintf("user%d@example.com", i), AppID: "app", EntitlementKey: "admin"}
		},
		Has: func(_ *testing.T, tg connector.Target) bool { return b.Has(tg.AppID, tg.Email, tg.EntitlementKey) },
		BadSettings: []connectortest.BadSettings{
			{Name: "unknown key", Settings: map[string]string{"colour": "red"}, WantInError: "colour"},
			{Name: "bad delay", Settings: map[string]string{"delay": "soon"}, WantInError: "delay"},
		},
		// The fake's "fail" setting stands for a target that is down.
		DownSettings:      map[string]string{"fail": "grant"},
		ForbiddenSettings: map[string]string{"deny": "grant"},
	})
}

// TestExtender checks the "expiry" setting: the connector is an
// ExpiryExtender (also narrowed to an app), records each expiry it is
// asked to set, and returns ExtendFunc's error instead.
func TestExtender(t *testing.T) {
	t.Parallel()
	b := fake.NewBackend()
	plain, err := b.Factory()(map[string]string{"expiry": "false"})
	require.NoError(t, err)
	_, ok := plain.(connector.ExpiryExtender)
	require.False(t, ok, "no expiry in the target unless asked")
	_, err = b.Factory()(map[string]string{"expiry": "yes"})
	require.ErrorContains(t, err, "expiry")

	c, err := b.Factory()(map[string]string{"expiry": "true"})
	require.NoError(t, err)
	scoped := c.(connector.AppScoped).ForApp("app")
	ext, ok := scoped.(connector.ExpiryExtender)
	require.True(t, ok, "ForApp keeps the extender")
	tg := connector.Target{GrantID: "grt_1", Email: "a@example.com", AppID: "app", EntitlementKey: "admin"}
	require.NoError(t, scoped.Grant(t.Context(), tg))
	require.True(t, b.Has("app", "a@example.com", "admin"))

	first, second := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 1, 3, 3, 4, 5, 0, time.UTC)
	for _, at := range []time.Time{first, second} {
		tg.ExpiresAt = at
		creds, err := ext.ExtendGrant(t.Context(), tg)
		require.NoError(t, err)
		require.Nil(t, creds)
	}
	require.Equal(t, []time.Time{first, second}, b.Expiries("grt_1"))
	require.Nil(t, b.Expiries("grt_2"))

	b.ExtendFunc = func(connector.Target) error { return connector.Permanent(errors.New("no")) }
	_, err = ext.ExtendGrant(t.Context(), tg)
	require.True(t, connector.IsPermanent(err))
	require.Len(t, b.Expiries("grt_1"), 2, "a refused extension records nothing")
}
