package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServeRejectsNegativeListConcurrency(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	m := NewMain(&stdout, &stderr, func(string) string { return "" })
	err := m.ParseFlags([]string{"--list-concurrency", "-1"})
	require.ErrorContains(t, err, "--list-concurrency must be 0")
	m = NewMain(&stdout, &stderr, func(string) string { return "" })
	require.ErrorContains(t, m.ParseFlags([]string{"--list-concurrency", "5000"}), "--list-concurrency must be 0")
	m = NewMain(&stdout, &stderr, func(string) string { return "" })
	require.NoError(t, m.ParseFlags([]string{"--list-concurrency", "3"}))
	require.Equal(t, 3, m.ListConcurrency)
}

// TestServeListConcurrencyFromConfig checks server.list_concurrency (here
// from its environment variable) applies without the flag, and the flag
// wins over it.
func TestServeListConcurrencyFromConfig(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		switch k {
		case "SESAME_SERVER_LIST_CONCURRENCY":
			return "5"
		case "SESAME_DATA_DIR":
			return t.TempDir()
		}
		return ""
	}
	m := NewMain(&stdout, &stderr, getenv)
	require.NoError(t, m.ParseFlags(nil))
	require.Equal(t, 5, m.ListConcurrency)
	m = NewMain(&stdout, &stderr, getenv)
	require.NoError(t, m.ParseFlags([]string{"--list-concurrency", "2"}))
	require.Equal(t, 2, m.ListConcurrency)
	m = NewMain(&stdout, &stderr, getenv)
	require.NoError(t, m.ParseFlags([]string{"--list-concurrency", "0"}))
	require.Equal(t, 0, m.ListConcurrency, "0 on the command line asks for the database's default")
}
