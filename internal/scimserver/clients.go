package scimserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/auth"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// TokenPrefix starts every SCIM bearer token, so that secret scanners (and
// people) recognise one.
const TokenPrefix = "sesame_scim_" //nolint:gosec // G101: a prefix, not a credential

// maxClientName is the longest client name.
const maxClientName = 64

// ClientView is a provisioning client as listed: never its token or hash.
type ClientView struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// View returns c without its hash.
func View(c *store.ScimClient) ClientView {
	return ClientView{ID: c.ID, Name: c.Name, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt, RevokedAt: c.RevokedAt}
}

// CreateClient makes a provisioning client named name (okta, entra...) and
// returns its bearer token, which is not stored and cannot be shown again.
// createdBy names who asked ("cli" for an operator). The creation is
// audited. A bad name is CodeInvalid; a name in use by a client that is not
// revoked is CodeConflict.
func CreateClient(ctx context.Context, st store.Store, name, createdBy string, now time.Time) (string, *store.ScimClient, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", nil, access.Invalid("invalid SCIM client", access.FieldError{Field: "name", Message: "is required"})
	case len(name) > maxClientName:
		return "", nil, access.Invalid("invalid SCIM client", access.FieldError{Field: "name", Message: fmt.Sprintf("must be at most %d characters", maxClientName)})
	case strings.ContainsFunc(name, unicode.IsControl):
		return "", nil, access.Invalid("invalid SCIM client", access.FieldError{Field: "name", Message: "must not contain control characters"})
	}
	secret := TokenPrefix + ids.Token(32)
	c := &store.ScimClient{ID: ids.New(strings.TrimSuffix(workflow.ScimActorPrefix, "_"), now), Name: name,
		Hash: auth.HashSecret(secret), CreatedBy: createdBy, CreatedAt: now}
	err := st.InTx(ctx, func(q store.Queries) error {
		list, err := q.ScimClientList(ctx)
		if err != nil {
			return err
		}
		for _, o := range list {
			if strings.EqualFold(o.Name, name) && o.RevokedAt.IsZero() {
				return access.Errorf(access.CodeConflict, "a SCIM client named %q exists (%s); revoke it first or pick another name", o.Name, o.ID)
			}
		}
		if err := q.ScimClientCreate(ctx, c); err != nil {
			return fmt.Errorf("store scim client: %w", err)
		}
		return auditAs(ctx, q, createdBy, now, "scim.client.created", "scim_client", c.ID, nil, View(c))
	})
	if err != nil {
		return "", nil, err
	}
	return secret, c, nil
}

// ListClients returns every client, newest first.
func ListClients(ctx context.Context, st store.Store) ([]ClientView, error) {
	list, err := st.ScimClientList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list scim clients: %w", err)
	}
	out := make([]ClientView, len(list))
	for i, c := range list {
		out[i] = View(c)
	}
	return out, nil
}

// RevokeClient revokes the client with id (or, when no ID matches, the one
// live client named id) so its token stops working at once. Revoking a
// revoked client changes nothing. Audited as by.
func RevokeClient(ctx context.Context, st store.Store, id, by string, now time.Time) (*store.ScimClient, error) {
	var out *store.ScimClient
	err := st.InTx(ctx, func(q store.Queries) error {
		c, err := q.ScimClientGetByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			list, lerr := q.ScimClientList(ctx)
			if lerr != nil {
				return lerr
			}
			for _, o := range list {
				if strings.EqualFold(o.Name, id) && o.RevokedAt.IsZero() {
					c, err = o, nil
					break
				}
			}
		}
		if errors.Is(err, store.ErrNotFound) {
			return access.Errorf(access.CodeNotFound, "SCIM client %s not found", id)
		}
		if err != nil {
			return err
		}
		out = c
		if !c.RevokedAt.IsZero() {
			return nil
		}
		before := View(c)
		c.RevokedAt = now
		if err := q.ScimClientUpdate(ctx, c); err != nil {
			return err
		}
		return auditAs(ctx, q, by, now, "scim.client.revoked", "scim_client", c.ID, before, View(c))
	})
	return out, err
}

func auditAs(ctx context.Context, q store.Queries, actor string, now time.Time, action, subjType, id string, before, after any) error {
	e := &access.Event{ID: ids.New("evt", now), Time: now, ActorID: actor, Action: action, SubjectType: subjType,
		SubjectID: id, Before: access.Snapshot(before), After: access.Snapshot(after)}
	if err := q.EventAppend(ctx, e); err != nil {
		return fmt.Errorf("append audit event %s: %w", action, err)
	}
	return nil
}
