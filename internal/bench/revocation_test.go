package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/store/postgres"
)

func TestRevocationLag(t *testing.T) {
	t.Parallel()
	open := map[string]func(t *testing.T) *Stack{
		"sqlite": func(t *testing.T) *Stack {
			t.Helper()
			st, err := OpenSQLite(t.Context(), t.TempDir())
			require.NoError(t, err)
			return st
		},
		"postgres": func(t *testing.T) *Stack {
			t.Helper()
			st, err := OpenPostgres(t.Context(), postgres.TestURL(t))
			require.NoError(t, err)
			return st
		},
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			t.Cleanup(func() { require.NoError(t, st.Close()) })

			res, err := st.revocationLag(t.Context(), 6000, 300, 2*time.Second, 3*time.Second)
			require.NoError(t, err)
			require.Equal(t, 6000, res.Total)
			require.Positive(t, res.Seed)
			require.Positive(t, res.P50)
			require.LessOrEqual(t, res.P50, res.P99)
			require.LessOrEqual(t, res.P99, res.Max)
			require.Less(t, res.Max, 30*time.Second)

			plan, err := st.ExplainDue(t.Context())
			require.NoError(t, err)
			require.Contains(t, plan, "grants_state_expires_at", plan)
			t.Logf("%+v\n%s", *res, plan)
		})
	}
}

func TestRevocationLagRejectsBadCounts(t *testing.T) {
	t.Parallel()
	st := &Stack{}
	_, err := st.RevocationLag(t.Context(), 10, 11)
	require.Error(t, err)
	_, err = st.RevocationLag(t.Context(), 10, 0)
	require.Error(t, err)
}
