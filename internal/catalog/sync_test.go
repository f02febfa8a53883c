package catalog_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/catalog"
	"github.com/sesame-access/sesame/internal/config"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

// openers are the stores the tests run on; PostgreSQL is skipped unless
// SESAME_TEST_POSTGRES_URL is set.
var openers = map[string]func(t *testing.T) store.Store{
	"sqlite":   func(t *testing.T) store.Store { return sqlite.OpenTest(t) },
	"postgres": func(t *testing.T) store.Store { return postgres.OpenTest(t) },
}

type testBundle struct {
	st  store.Store
	ctx context.Context
	now time.Time
}

// forEachStore runs test as parallel subtests, one per store.
func forEachStore(t *testing.T, test func(t *testing.T, b *testBundle)) {
	t.Helper()
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, &testBundle{st: open(t), ctx: t.Context(),
				now: time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)})
		})
	}
}

// parse loads a configuration or fails the test.
func parse(t *testing.T, doc string) *config.Config {
	t.Helper()
	c, err := config.Parse("t.yaml", []byte(doc), nil)
	require.NoError(t, err)
	return c
}

func demo(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Load("", nil)
	require.NoError(t, err)
	require.True(t, c.Demo)
	return c
}

// events returns the catalog sync events, oldest first.
func events(t *testing.T, b *testBundle) []*access.Event {
	t.Helper()
	evs, _, err := b.st.EventList(b.ctx, store.EventListParams{Action: catalog.Action})
	require.NoError(t, err)
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

func TestSyncCreatesTheDemo(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, b *testBundle) {
		sum, err := catalog.Sync(b.ctx, b.st, demo(t), b.now)
		require.NoError(t, err)
		require.Equal(t, catalog.Counts{Created: 5}, sum.Users)
		require.Equal(t, catalog.Counts{Created: 4}, sum.Apps)
		require.Equal(t, catalog.Counts{Created: 10}, sum.Entitlements)
		require.Len(t, sum.Changes, 19)
		require.Equal(t, "user alice@example.com created", sum.Changes[0])

		alice, err := b.st.UserGetByEmail(b.ctx, "alice@example.com")
		require.NoError(t, err)
		bob, err := b.st.UserGetByEmail(b.ctx, "bob@example.com")
		require.NoError(t, err)
		carol, err := b.st.UserGetByEmail(b.ctx, "carol@example.com")
		require.NoError(t, err)
		require.Regexp(t, `^usr_[0-9A-Z]{26}$`, alice.ID)
		require.Equal(t, bob.ID, alice.ManagerID, "a manager created after the user is resolved")
		require.Equal(t, carol.ID, bob.ManagerID)
		require.Empty(t, carol.ManagerID)
		require.Equal(t, access.UserActive, alice.Status)
		require.Equal(t, []access.Role{access.RoleAdmin}, carol.Roles)
		require.Equal(t, "Alice Anders", alice.Name)
		require.True(t, b.now.Truncate(time.Microsecond).Equal(alice.CreatedAt))

		gh, err := b.st.AppGetByID(b.ctx, "github")
		require.NoError(t, err)
		erin, err := b.st.UserGetByEmail(b.ctx, "erin@example.com")
		require.NoError(t, err)
		require.Equal(t, []string{bob.ID, erin.ID}, gh.Owners)
		require.Equal(t, access.SourceConfig, gh.Source)
		require.Equal(t, []string{"gh", "git"}, gh.Aliases)
		require.Equal(t, "fake", gh.ConnectorType)

		graf, err := b.st.AppGetByID(b.ctx, "grafana")
		require.NoError(t, err)
		require.Equal(t, map[string]string{"instructions": "Change the role in Grafana > Administration > Users"}, graf.ConnectorSettings)

		admin, err := b.st.EntitlementGetByID(b.ctx, "github:admin")
		require.NoError(t, err)
		require.Equal(t, "github", admin.AppID)
		require.Equal(t, "admin", admin.Key)
		require.Equal(t, access.RiskHigh, admin.Risk)
		require.Equal(t, 4*time.Hour, admin.MaxDuration)
		require.True(t, admin.Requestable)

		evs := events(t, b)
		require.Len(t, evs, 1)
		require.Equal(t, access.SystemActor, evs[0].ActorID)
		require.Equal(t, "catalog", evs[0].SubjectType)
		var data catalog.Summary
		require.NoError(t, json.Unmarshal(evs[0].Data, &data))
		require.Equal(t, sum, data)
	})
}

func TestSyncTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, b *testBundle) {
		cfg := demo(t)
		_, err := catalog.Sync(b.ctx, b.st, cfg, b.now)
		require.NoError(t, err)
		before := snapshot(t, b)

		sum, err := catalog.Sync(b.ctx, b.st, cfg, b.now.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, catalog.Summary{
			Users:        catalog.Counts{Unchanged: 5},
			Apps:         catalog.Counts{Unchanged: 4},
			Entitlements: catalog.Counts{Unchanged: 10},
		}, sum)
		require.False(t, sum.Changed())
		require.Equal(t, before, snapshot(t, b), "nothing was rewritten, not even UpdatedAt")
		require.Len(t, events(t, b), 1, "no second audit event")
	})
}

// snapshot reads every user, app and entitlement as JSON, timestamps
// included.
func snapshot(t *testing.T, b *testBundle) string {
	t.Helper()
	users, _, err := b.st.UserList(b.ctx, store.UserListParams{Page: store.Page{Limit: 500}})
	require.NoError(t, err)
	apps, _, err := b.st.AppList(b.ctx, store.AppListParams{Page: store.Page{Limit: 500}})
	require.NoError(t, err)
	var ents []*access.Entitlement
	for _, a := range apps {
		e, err := b.st.EntitlementListByApp(b.ctx, a.ID)
		require.NoError(t, err)
		ents = append(ents, e...)
	}
	out, err := json.Marshal([]any{users, apps, ents})
	require.NoError(t, err)
	return string(out)
}

const small = `catalog:
  apps:
    - id: app
      name: App
      connector: {type: fake, settings: {delay: 1s}}
      owners: [owner@example.com]
      entitlements:
        - {key: read, owners: [owner@example.com]}
users:
  - {email: owner@example.com, name: Owner}
  - {email: linked@example.com, name: Linked, manager: owner@example.com, groups: [eng]}
policies:
  - {id: default, default: true, steps: [{approvers: {app_owners: true}}]}
`

func TestSyncUpdates(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, b *testBundle) {
		// A user who exists already (from an earlier identity sync), with a
		// linked Slack account and an offboarded status.
		earlier := b.now.Add(-24 * time.Hour)
		existing := &access.User{ID: "usr_existing", Email: "linked@example.com", Name: "Old name",
			Status: access.UserOffboarded, SlackUserID: "U0LINKED", CreatedAt: earlier, UpdatedAt: earlier}
		require.NoError(t, b.st.UserUpsert(b.ctx, existing))

		sum, err := catalog.Sync(b.ctx, b.st, parse(t, small), b.now)
		require.NoError(t, err)
		require.Equal(t, catalog.Counts{Created: 1, Updated: 1}, sum.Users)
		owner, err := b.st.UserGetByEmail(b.ctx, "owner@example.com")
		require.NoError(t, err)
		linked, err := b.st.UserGetByID(b.ctx, "usr_existing")
		require.NoError(t, err)
		require.Equal(t, "Linked", linked.Name)
		require.Equal(t, owner.ID, linked.ManagerID)
		require.Equal(t, []string{"eng"}, linked.Groups)
		require.Equal(t, "U0LINKED", linked.SlackUserID, "a linked Slack account is kept")
		require.Equal(t, access.UserOffboarded, linked.Status, "the status is not the configuration's")
		require.True(t, earlier.Truncate(time.Microsecond).Equal(linked.CreatedAt))
		require.True(t, b.now.Truncate(time.Microsecond).Equal(linked.UpdatedAt))

		// The configuration changes: the app is renamed, an entitlement is
		// added, the old one's risk changes, a user is dropped.
		later := b.now.Add(time.Hour)
		changed := parse(t, `catalog:
  apps:
    - id: app
      name: The App
      connector: {type: fake, settings: {delay: 1s}}
      owners: [owner@example.com]
      entitlements:
        - {key: read, risk: medium, owners: [owner@example.com]}
        - {key: write}
users:
  - {email: owner@example.com, name: Owner}
policies:
  - {id: default, default: true, steps: [{approvers: {app_owners: true}}]}
`)
		sum, err = catalog.Sync(b.ctx, b.st, changed, later)
		require.NoError(t, err)
		require.Equal(t, catalog.Summary{
			Users:        catalog.Counts{Unchanged: 1},
			Apps:         catalog.Counts{Updated: 1},
			Entitlements: catalog.Counts{Created: 1, Updated: 1},
			Changes:      []string{"app app updated", "entitlement app:read updated", "entitlement app:write created"},
		}, sum)
		app, err := b.st.AppGetByID(b.ctx, "app")
		require.NoError(t, err)
		require.Equal(t, "The App", app.Name)
		require.True(t, b.now.Truncate(time.Microsecond).Equal(app.CreatedAt), "CreatedAt is kept")
		require.True(t, later.Truncate(time.Microsecond).Equal(app.UpdatedAt))
		read, err := b.st.EntitlementGetByID(b.ctx, "app:read")
		require.NoError(t, err)
		require.Equal(t, access.RiskMedium, read.Risk)
		require.Equal(t, []string{owner.ID}, read.Owners)
		_, err = b.st.UserGetByID(b.ctx, "usr_existing")
		require.NoError(t, err, "users dropped from the configuration are kept")

		evs := events(t, b)
		require.Len(t, evs, 2)
		var data catalog.Summary
		require.NoError(t, json.Unmarshal(evs[1].Data, &data))
		require.Equal(t, sum, data)
	})
}

func TestSyncClaimsADiscoveredApp(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, b *testBundle) {
		discovered := &access.App{ID: "app", Name: "App", ConnectorType: "fake", ConnectorSettings: map[string]string{"delay": "1s"},
			Source: access.SourceDiscovered, CreatedAt: b.now, UpdatedAt: b.now}
		require.NoError(t, b.st.AppUpsert(b.ctx, discovered))
		cfg := parse(t, small)
		sum, err := catalog.Sync(b.ctx, b.st, cfg, b.now.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, catalog.Counts{Updated: 1}, sum.Apps)
		app, err := b.st.AppGetByID(b.ctx, "app")
		require.NoError(t, err)
		require.Equal(t, access.SourceConfig, app.Source)
	})
}

func TestSyncRollsBackOnError(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, b *testBundle) {
		// Config built by hand, not validated: an owner who is nobody.
		cfg := parse(t, small)
		cfg.Catalog.Apps[0].Entitlements[0].Owners = []string{"ghost@example.com"}
		sum, err := catalog.Sync(b.ctx, b.st, cfg, b.now)
		require.ErrorContains(t, err, "catalog sync: entitlement app:read: owner ghost@example.com is not a user")
		require.Equal(t, catalog.Summary{}, sum)
		_, err = b.st.UserGetByEmail(b.ctx, "owner@example.com")
		require.ErrorIs(t, err, store.ErrNotFound, "the users written before the error were rolled back")
		require.Empty(t, events(t, b))
	})
}

func TestSyncResolvesOwnersAlreadyInTheStore(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, b *testBundle) {
		stored := &access.User{ID: "usr_stored", Email: "stored@example.com", Status: access.UserActive, CreatedAt: b.now, UpdatedAt: b.now}
		require.NoError(t, b.st.UserUpsert(b.ctx, stored))
		cfg := parse(t, small)
		cfg.Catalog.Apps[0].Owners = []string{"stored@example.com", "owner@example.com"}
		_, err := catalog.Sync(b.ctx, b.st, cfg, b.now)
		require.NoError(t, err)
		app, err := b.st.AppGetByID(b.ctx, "app")
		require.NoError(t, err)
		require.Equal(t, "usr_stored", app.Owners[0])
	})
}

// TestSyncLeavesSCIMFieldsToTheProvider: for a person both in the file and
// managed over SCIM, the sync sets the file's roles and Slack ID, keeps the
// provider's name and manager, merges the groups, and two restarts write
// nothing.
func TestSyncLeavesSCIMFieldsToTheProvider(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, b *testBundle) {
		cfg := parse(t, `catalog:
  apps:
    - id: app
      name: App
      connector: {type: fake}
      owners: [owner@example.com]
users:
  - {email: owner@example.com, name: Owner}
  - {email: boss@example.com, name: Boss}
  - {email: both@example.com, name: File Name, manager: owner@example.com, groups: [from-file, shared], roles: [auditor], slack_user_id: U42}
policies:
  - {id: default, default: true, steps: [{approvers: {app_owners: true}}]}
`)
		_, err := catalog.Sync(b.ctx, b.st, cfg, b.now)
		require.NoError(t, err)
		both, err := b.st.UserGetByEmail(b.ctx, "both@example.com")
		require.NoError(t, err)
		boss, err := b.st.UserGetByEmail(b.ctx, "boss@example.com")
		require.NoError(t, err)

		// The identity provider adopts the person: its name, manager and
		// groups (mirrored into the user as the SCIM server does).
		require.NoError(t, b.st.DirectoryUserCreate(b.ctx, &store.DirectoryUser{UserID: both.ID, UserName: "both@example.com",
			ClientID: "scc_test", Resource: json.RawMessage(`{"userName":"both@example.com"}`), CreatedAt: b.now, UpdatedAt: b.now}))
		for _, name := range []string{"from-idp", "shared"} {
			g := &store.DirectoryGroup{ID: "grp_" + name, DisplayName: name, ClientID: "scc_test", CreatedAt: b.now, UpdatedAt: b.now}
			require.NoError(t, b.st.DirectoryGroupCreate(b.ctx, g))
			_, err := b.st.DirectoryMemberAdd(b.ctx, g.ID, []string{both.ID})
			require.NoError(t, err)
		}
		both.Name, both.ManagerID = "IdP Name", boss.ID
		both.Groups = []string{"from-file", "shared", "from-idp"}
		both.Roles, both.SlackUserID = nil, ""
		require.NoError(t, b.st.UserUpsert(b.ctx, both))

		// The first restart puts back what the file owns: roles, Slack ID.
		sum, err := catalog.Sync(b.ctx, b.st, cfg, b.now.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, []string{"user both@example.com updated"}, sum.Changes)
		got, err := b.st.UserGetByEmail(b.ctx, "both@example.com")
		require.NoError(t, err)
		require.Equal(t, "IdP Name", got.Name, "the provider's name stays")
		require.Equal(t, boss.ID, got.ManagerID, "the provider's manager stays")
		require.Equal(t, []string{"from-file", "shared", "from-idp"}, got.Groups)
		require.Equal(t, []access.Role{access.RoleAuditor}, got.Roles)
		require.Equal(t, "U42", got.SlackUserID)
		n := len(events(t, b))

		// Two more restarts write nothing.
		for i := range 2 {
			sum, err := catalog.Sync(b.ctx, b.st, cfg, b.now.Add(time.Duration(i+2)*time.Hour))
			require.NoError(t, err)
			require.False(t, sum.Changed(), "restart %d: %v", i, sum.Changes)
		}
		require.Len(t, events(t, b), n)
		again, err := b.st.UserGetByEmail(b.ctx, "both@example.com")
		require.NoError(t, err)
		require.Equal(t, got, again)

		// A group dropped from the file goes, unless the provider has it;
		// a new file group is added.
		cfg.Users[2].Groups = []string{"shared", "new"}
		_, err = catalog.Sync(b.ctx, b.st, cfg, b.now.Add(5*time.Hour))
		require.NoError(t, err)
		got, err = b.st.UserGetByEmail(b.ctx, "both@example.com")
		require.NoError(t, err)
		require.Equal(t, []string{"shared", "from-idp", "new"}, got.Groups)
	})
}
