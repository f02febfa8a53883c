package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBenchRejectsUnknownOnly(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"bench", "--only", "mysql"}, &stdout, &stderr, func(string) string { return "" })
	require.Equal(t, 2, code)
	require.Contains(t, stderr.String(), "--only must be sqlite or postgres")
	require.Empty(t, stdout.String())
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 10483: "10,483", 1_000_000: "1,000,000", -1234: "-1,234"} {
		require.Equal(t, want, thousands(n))
	}
}
