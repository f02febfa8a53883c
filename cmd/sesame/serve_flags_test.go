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
	require.NoError(t, m.ParseFlags([]string{"--list-concurrency", "3"}))
	require.Equal(t, 3, m.ListConcurrency)
}
