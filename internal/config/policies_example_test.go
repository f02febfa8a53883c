package config

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/policy"
)

// TestPoliciesExample checks that examples/policies.yaml, which uses every
// policy feature, passes validation and builds an engine.
func TestPoliciesExample(t *testing.T) {
	t.Parallel()

	c, err := LoadOptions{ConnectorTypes: []string{"fake"}}.Load("../../examples/policies.yaml", nil)
	require.NoError(t, err)
	require.True(t, c.Org.PolicyChanges.TwoPersonRule)
	require.Len(t, c.OnCall, 2)
	require.Len(t, c.Policies, 6)
	_, err = policy.New(c.Policies, c.Org.MaxDuration, c.PolicyOptions()...)
	require.NoError(t, err)
}
