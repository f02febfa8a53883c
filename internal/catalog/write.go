package catalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/config"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
)

// users writes the configured users in two passes: every user's fields
// and ID first, then managers, which may name users created in the same
// sync.
func (s *syncer) users(ctx context.Context, users []config.User) error {
	type pending struct {
		stored, want *access.User
		manager      string
		// scim is set for a person the identity provider manages: their
		// name and manager are the provider's.
		scim bool
	}
	list := make([]pending, 0, len(users))
	for _, cu := range users {
		stored, err := s.q.UserGetByEmail(ctx, cu.Email)
		switch {
		case errors.Is(err, store.ErrNotFound):
			stored = nil
		case err != nil:
			return fmt.Errorf("catalog sync: user %s: %w", cu.Email, err)
		}
		want := &access.User{Status: access.UserActive, CreatedAt: s.now}
		var scimGroups []string
		if stored != nil {
			*want = *stored
			scimGroups, err = s.scimGroups(ctx, stored.ID)
			if err != nil {
				return fmt.Errorf("catalog sync: user %s: %w", cu.Email, err)
			}
		} else {
			want.ID = ids.New("usr", s.now)
		}
		scim := scimGroups != nil
		want.Email, want.Roles = cu.Email, cu.Roles
		if scim {
			want.Groups = mergeGroups(stored.Groups, cu.Groups, scimGroups)
		} else {
			want.Groups = cu.Groups
			if cu.Name != "" {
				want.Name = cu.Name
			}
		}
		if cu.SlackUserID != "" {
			want.SlackUserID = cu.SlackUserID
		}
		s.userIDs[cu.Email] = want.ID
		list = append(list, pending{stored: stored, want: want, manager: cu.Manager, scim: scim})
	}
	for _, p := range list {
		id := ""
		if p.manager != "" {
			var err error
			if id, err = s.userID(ctx, p.manager); err != nil {
				return fmt.Errorf("catalog sync: manager of %s: %w", p.want.Email, err)
			}
		}
		if !p.scim {
			// A person the identity provider manages keeps the provider's
			// manager; the file's is only checked.
			p.want.ManagerID = id
		}
		changed := p.stored != nil && !sameUser(p.stored, p.want)
		if p.stored == nil || changed {
			p.want.UpdatedAt = s.now
			if err := s.q.UserUpsert(ctx, p.want); err != nil {
				return fmt.Errorf("catalog sync: user %s: %w", p.want.Email, err)
			}
		}
		s.count(&s.sum.Users, p.stored == nil, changed, "user "+p.want.Email)
	}
	return nil
}

// scimGroups returns the names of the SCIM groups userID is a member of
// (empty, not nil, when none), or nil when the identity provider does not
// manage userID (no directory row).
func (s *syncer) scimGroups(ctx context.Context, userID string) ([]string, error) {
	if _, err := s.q.DirectoryUserGet(ctx, userID); errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	names := []string{}
	for off := 0; ; off += maxGroupPage {
		groups, total, err := s.q.DirectoryGroupList(ctx, store.DirectoryListParams{Member: userID, Offset: off, Limit: maxGroupPage})
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			names = append(names, g.DisplayName)
		}
		if off+maxGroupPage >= total || len(groups) == 0 {
			return names, nil
		}
	}
}

// maxGroupPage is the store's largest directory page.
const maxGroupPage = 1000

// mergeGroups is the groups of a person both in the file and managed over
// SCIM: the file's and the provider's, in the stored order (so that an
// unchanged merge writes nothing), new ones appended; a stored group in
// neither is dropped.
func mergeGroups(stored, file, scim []string) []string {
	want := make(map[string]bool, len(file)+len(scim))
	for _, g := range file {
		want[g] = true
	}
	for _, g := range scim {
		want[g] = true
	}
	out := make([]string, 0, len(want))
	seen := make(map[string]bool, len(want))
	add := func(g string) {
		if want[g] && !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	for _, list := range [][]string{stored, file, scim} {
		for _, g := range list {
			add(g)
		}
	}
	return out
}

// app writes one app, then its entitlements.
func (s *syncer) app(ctx context.Context, ca config.App) error {
	stored, err := s.q.AppGetByID(ctx, ca.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		stored = nil
	case err != nil:
		return fmt.Errorf("catalog sync: app %s: %w", ca.ID, err)
	}
	owners, err := s.userIDList(ctx, ca.Owners)
	if err != nil {
		return fmt.Errorf("catalog sync: app %s: owner %w", ca.ID, err)
	}
	want := &access.App{ID: ca.ID, Name: ca.Name, Description: ca.Description, ConnectorType: ca.Connector.Type,
		ConnectorSettings: maps.Clone(ca.Connector.Settings), Owners: owners, Aliases: ca.Aliases,
		Watchlist: ca.Watchlist, Source: access.SourceConfig, CreatedAt: s.now, UpdatedAt: s.now}
	if stored != nil {
		want.CreatedAt = stored.CreatedAt
	}
	changed := stored != nil && !sameApp(stored, want)
	if s.box != nil && stored != nil {
		// Stored secrets are sealed: compare what they open to.
		opened, err := s.box.OpenSettings(stored.ConnectorSettings)
		if err != nil {
			return fmt.Errorf("catalog sync: app %s: %w", ca.ID, err)
		}
		cmp := *stored
		cmp.ConnectorSettings = opened
		changed = !sameApp(&cmp, want)
	}
	if stored == nil || changed {
		if s.box != nil {
			sealed, err := s.box.SealSettings(want.ConnectorSettings, config.IsSecretSetting)
			if err != nil {
				return fmt.Errorf("catalog sync: app %s: %w", ca.ID, err)
			}
			want.ConnectorSettings = sealed
		}
		if err := s.q.AppUpsert(ctx, want); err != nil {
			return fmt.Errorf("catalog sync: app %s: %w", ca.ID, err)
		}
	}
	s.count(&s.sum.Apps, stored == nil, changed, "app "+ca.ID)
	for _, ce := range ca.Entitlements {
		if err := s.entitlement(ctx, ca.ID, ce); err != nil {
			return err
		}
	}
	return nil
}

func (s *syncer) entitlement(ctx context.Context, appID string, ce config.Entitlement) error {
	id := access.EntitlementID(appID, ce.Key)
	stored, err := s.q.EntitlementGetByID(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		stored = nil
	case err != nil:
		return fmt.Errorf("catalog sync: entitlement %s: %w", id, err)
	}
	owners, err := s.userIDList(ctx, ce.Owners)
	if err != nil {
		return fmt.Errorf("catalog sync: entitlement %s: owner %w", id, err)
	}
	want := &access.Entitlement{ID: id, AppID: appID, Key: ce.Key, Name: ce.Name, Description: ce.Description,
		MaxDuration: ce.MaxDuration, Requestable: ce.Requestable, Risk: ce.Risk, Tags: ce.Tags, Owners: owners,
		CreatedAt: s.now, UpdatedAt: s.now}
	if stored != nil {
		want.CreatedAt = stored.CreatedAt
	}
	changed := stored != nil && !sameEntitlement(stored, want)
	if stored == nil || changed {
		if err := s.q.EntitlementUpsert(ctx, want); err != nil {
			return fmt.Errorf("catalog sync: entitlement %s: %w", id, err)
		}
	}
	s.count(&s.sum.Entitlements, stored == nil, changed, "entitlement "+id)
	return nil
}

// The same* functions compare everything but the timestamps; a nil and an
// empty list or map are the same.

func sameUser(a, b *access.User) bool {
	return a.ID == b.ID && a.Email == b.Email && a.Name == b.Name && a.ManagerID == b.ManagerID &&
		slices.Equal(a.Groups, b.Groups) && slices.Equal(a.Roles, b.Roles) && a.Status == b.Status &&
		a.SlackUserID == b.SlackUserID
}

func sameApp(a, b *access.App) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Description == b.Description && a.ConnectorType == b.ConnectorType &&
		maps.Equal(a.ConnectorSettings, b.ConnectorSettings) && slices.Equal(a.Owners, b.Owners) &&
		slices.Equal(a.Aliases, b.Aliases) && a.Watchlist == b.Watchlist && a.Source == b.Source
}

func sameEntitlement(a, b *access.Entitlement) bool {
	return a.ID == b.ID && a.AppID == b.AppID && a.Key == b.Key && a.Name == b.Name && a.Description == b.Description &&
		a.MaxDuration == b.MaxDuration && a.Requestable == b.Requestable && a.Risk == b.Risk &&
		slices.Equal(a.Tags, b.Tags) && slices.Equal(a.Owners, b.Owners)
}
