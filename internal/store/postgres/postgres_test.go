package postgres_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
	"github.com/sesame-access/sesame/internal/store/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		t.Helper()
		return postgres.OpenTest(t)
	})
}

func TestFromPoolSharesPoolAndReopens(t *testing.T) {
	t.Parallel()
	testURL := postgres.TestURL(t)
	pool, err := postgres.OpenPool(t.Context(), testURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	st, err := postgres.FromPool(t.Context(), pool)
	require.NoError(t, err)
	require.NoError(t, st.AppUpsert(t.Context(), &access.App{ID: "github", Source: access.SourceConfig}))
	require.NoError(t, st.Close())
	require.NoError(t, pool.Ping(t.Context()), "closing the store leaves the pool open")

	// A second store on the same schema migrates nothing and sees the data.
	st, err = postgres.Open(t.Context(), testURL)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.Ping(t.Context()))
	_, err = st.AppGetByID(t.Context(), "github")
	require.NoError(t, err)

	// The tables live in the test schema, not in public.
	var schema string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT table_schema FROM information_schema.tables WHERE table_name = 'grants'
		AND table_schema = current_schema()`).Scan(&schema))
	require.Contains(t, testURL, "search_path="+schema)
}

func TestOpenMissingSchema(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(postgres.TestURL(t))
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", q.Get("search_path")+"_missing")
	u.RawQuery = q.Encode()
	_, err = postgres.Open(t.Context(), u.String())
	require.ErrorContains(t, err, "search_path")
}
