package config

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
)

func TestDemo(t *testing.T) {
	t.Parallel()

	c, err := LoadOptions{ConnectorTypes: []string{"fake", "manual"}}.Load("", nil)
	require.NoError(t, err)
	require.True(t, c.Demo)

	var ids []string
	for _, a := range c.Catalog.Apps {
		ids = append(ids, a.ID)
	}
	require.Equal(t, []string{"github", "aws-prod", "postgres-prod", "grafana"}, ids)
	var emails []string
	for _, u := range c.Users {
		emails = append(emails, u.Email)
	}
	require.Equal(t, []string{"alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com"}, emails)
	var pids []string
	for _, p := range c.Policies {
		pids = append(pids, p.ID)
	}
	require.Equal(t, []string{"default", "high-risk", "sre-oncall-db"}, pids)
	require.Equal(t, Connector{Type: "manual", Settings: map[string]string{"instructions": "Change the role in Grafana > Administration > Users"}},
		c.Catalog.Apps[3].Connector)

	t.Run("only catalog, users and policies", func(t *testing.T) {
		t.Parallel()
		var top map[string]any
		require.NoError(t, yaml.Unmarshal(DemoYAML(), &top))
		require.Len(t, top, 3)
		require.Contains(t, top, "catalog")
		require.Contains(t, top, "users")
		require.Contains(t, top, "policies")
	})

	t.Run("a file with settings but no apps still runs the demo", func(t *testing.T) {
		t.Parallel()
		c, err := Parse("f.yaml", []byte("log: {level: debug}\ncatalog: {apps: []}\n"), nil)
		require.NoError(t, err)
		require.True(t, c.Demo)
		require.Equal(t, "debug", c.Log.Level)
		require.Len(t, c.Catalog.Apps, 4)
	})

	t.Run("every request has an approver other than the requester", func(t *testing.T) {
		t.Parallel()
		checkEveryRequestApprovable(t, c)
	})
}

// checkEveryRequestApprovable evaluates, for every user and every
// entitlement, the policy that applies, and requires each step to have
// enough eligible approvers (never the requester).
func checkEveryRequestApprovable(t *testing.T, c *Config) {
	t.Helper()
	ctx := t.Context()
	dir := directory{}
	for _, u := range c.Users {
		dir[u.Email] = &access.User{ID: u.Email, Email: u.Email, Name: u.Name, ManagerID: u.Manager,
			Groups: u.Groups, Roles: u.Roles, Status: access.UserActive}
	}
	engine, err := policy.New(c.Policies, c.Org.MaxDuration)
	require.NoError(t, err)
	for _, a := range c.Catalog.Apps {
		app := &access.App{ID: a.ID, Name: a.Name, Owners: a.Owners}
		for _, e := range a.Entitlements {
			ent := &access.Entitlement{ID: access.EntitlementID(a.ID, e.Key), AppID: a.ID, Key: e.Key, Name: e.Name,
				MaxDuration: e.MaxDuration, Requestable: e.Requestable, Risk: e.Risk, Owners: e.Owners}
			for _, u := range c.Users {
				plan, err := engine.Evaluate(ctx, dir, policy.Input{Requester: dir[u.Email], App: app,
					Entitlements: []*access.Entitlement{ent}, Duration: time.Hour, Now: time.Unix(0, 0)})
				require.NoError(t, err)
				for _, s := range plan.Steps {
					require.GreaterOrEqual(t, len(s.Eligible), s.Required, "%s asking for %s: policy %s step %q has %d eligible",
						u.Email, ent.ID, plan.PolicyID, s.Name, len(s.Eligible))
					for _, ap := range s.Eligible {
						require.NotEqual(t, u.Email, ap.UserID)
					}
				}
				require.Positive(t, plan.MaxDuration)
			}
		}
	}
}

// directory is policy.Directory over a map of users by ID.
type directory map[string]*access.User

func (d directory) UserGetByID(_ context.Context, id string) (*access.User, error) {
	if u, ok := d[id]; ok {
		return u, nil
	}
	return nil, store.ErrNotFound
}

func (d directory) UserGetByEmail(ctx context.Context, email string) (*access.User, error) {
	return d.UserGetByID(ctx, strings.ToLower(email))
}

func (d directory) UserListByGroup(_ context.Context, group string) ([]*access.User, error) {
	var out []*access.User
	for _, u := range d {
		if u.InGroup(group) {
			out = append(out, u)
		}
	}
	return out, nil
}
