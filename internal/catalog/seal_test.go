package catalog_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/catalog"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

func TestSyncSealsSecretSettings(t *testing.T) {
	t.Parallel()
	st := sqlite.OpenTest(t)
	ctx := t.Context()
	box, err := secrets.New(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	cfg := demo(t)
	cfg.Catalog.Apps[0].Connector.Settings = map[string]string{"delay": "1ms", "password": "hunter2"}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sum, err := catalog.SyncWith(ctx, st, cfg, now, catalog.Options{Secrets: box})
	require.NoError(t, err)
	require.True(t, sum.Changed())
	app, err := st.AppGetByID(ctx, cfg.Catalog.Apps[0].ID)
	require.NoError(t, err)
	require.True(t, secrets.IsSealed(app.ConnectorSettings["password"]))
	require.Equal(t, "1ms", app.ConnectorSettings["delay"])
	opened, err := box.OpenSettings(app.ConnectorSettings)
	require.NoError(t, err)
	require.Equal(t, "hunter2", opened["password"])

	sum, err = catalog.SyncWith(ctx, st, cfg, now.Add(time.Hour), catalog.Options{Secrets: box})
	require.NoError(t, err)
	require.False(t, sum.Changed(), "an unchanged config writes nothing although seals differ")
}
