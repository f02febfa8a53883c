package bench

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/store/postgres"
)

func TestProvisionPostgres(t *testing.T) {
	t.Parallel()
	res, err := ProvisionPostgres(t.Context(), postgres.TestURL(t), 40, 4)
	require.NoError(t, err)
	require.Equal(t, 40, res.N)
	require.Positive(t, res.GrantsPerSecond())
	require.Positive(t, res.RevokesPerSecond())
	require.LessOrEqual(t, res.GrantP50, res.GrantP99)
	t.Logf("%+v grants/s %.0f revokes/s %.0f", *res, res.GrantsPerSecond(), res.RevokesPerSecond())
}
