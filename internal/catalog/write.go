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
		if stored != nil {
			*want = *stored
		} else {
			want.ID = ids.New("usr", s.now)
		}
		want.Email, want.Groups, want.Roles = cu.Email, cu.Groups, cu.Roles
		if cu.Name != "" {
			want.Name = cu.Name
		}
		if cu.SlackUserID != "" {
			want.SlackUserID = cu.SlackUserID
		}
		s.userIDs[cu.Email] = want.ID
		list = append(list, pending{stored: stored, want: want, manager: cu.Manager})
	}
	for _, p := range list {
		p.want.ManagerID = ""
		if p.manager != "" {
			id, err := s.userID(ctx, p.manager)
			if err != nil {
				return fmt.Errorf("catalog sync: manager of %s: %w", p.want.Email, err)
			}
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
