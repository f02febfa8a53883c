package baton

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/sesame-access/sesame/internal/connector"
)

// The types below read the protojson the baton CLI prints with
// --output-format json (baton.v1 GrantListOutput, EntitlementListOutput,
// ResourceListOutput; field names in lowerCamelCase).

type resourceID struct {
	ResourceType string `json:"resourceType"`
	Resource     string `json:"resource"`
}

type resource struct {
	ID          resourceID        `json:"id"`
	DisplayName string            `json:"displayName"`
	Annotations []json.RawMessage `json:"annotations"`
}

// emails returns the addresses of the resource's UserTrait annotation,
// the primary one first.
func (r resource) emails() []string {
	var out []string
	for _, a := range r.Annotations {
		var trait struct {
			Type   string `json:"@type"`
			Emails []struct {
				Address   string `json:"address"`
				IsPrimary bool   `json:"isPrimary"`
			} `json:"emails"`
		}
		if json.Unmarshal(a, &trait) != nil || !strings.HasSuffix(trait.Type, "c1.connector.v2.UserTrait") {
			continue
		}
		for _, e := range trait.Emails {
			if e.IsPrimary {
				out = append([]string{e.Address}, out...)
			} else {
				out = append(out, e.Address)
			}
		}
	}
	return out
}

type entitlementRef struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
}

// cli runs `<baton_path> -f <c1z> <args...> --output-format json` and
// decodes its answer into v.
func (c *Connector) cli(ctx context.Context, v any, args ...string) error {
	op := "baton " + args[0]
	out, err := c.exec(ctx, op, c.batonPath, append(append([]string{"-f", c.c1z}, args...), "--output-format", "json"))
	if err != nil {
		return err
	}
	return decodeJSON(op, out, v)
}

// resources lists the c1z's resources of the principal type.
func (c *Connector) resources(ctx context.Context) ([]resource, error) {
	var out struct {
		Resources []struct {
			Resource resource `json:"resource"`
		} `json:"resources"`
	}
	if err := c.cli(ctx, &out, "resources", "--resource-type", c.principalType); err != nil {
		return nil, err
	}
	rs := make([]resource, 0, len(out.Resources))
	for _, r := range out.Resources {
		rs = append(rs, r.Resource)
	}
	return rs, nil
}

// fresh syncs the c1z under the lock and runs f while still holding it.
func (s *SyncConnector) fresh(ctx context.Context, f func() error) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.syncLocked(ctx); err != nil {
		return err
	}
	return f()
}

// ListGrants implements connector.GrantLister: a fresh sync, then
// `baton grants`. Only grants to principals of principal_type are listed;
// Account is the principal id, AccountEmail its primary email when the
// connector reports one (UserTrait).
func (s *SyncConnector) ListGrants(ctx context.Context) ([]connector.GrantRecord, error) {
	var out []connector.GrantRecord
	err := s.fresh(ctx, func() error {
		rs, err := s.resources(ctx)
		if err != nil {
			return err
		}
		email := map[string]string{}
		for _, r := range rs {
			if es := r.emails(); len(es) > 0 {
				email[r.ID.Resource] = es[0]
			}
		}
		var gl struct {
			Grants []struct {
				Grant struct {
					Entitlement entitlementRef `json:"entitlement"`
					Principal   resource       `json:"principal"`
				} `json:"grant"`
				Entitlement entitlementRef `json:"entitlement"`
				Principal   resource       `json:"principal"`
			} `json:"grants"`
		}
		if err := s.cli(ctx, &gl, "grants"); err != nil {
			return err
		}
		for _, g := range gl.Grants {
			p := g.Principal.ID
			if p.Resource == "" {
				p = g.Grant.Principal.ID
			}
			ent := g.Grant.Entitlement.ID
			if ent == "" {
				ent = g.Entitlement.ID
			}
			if p.ResourceType != s.principalType {
				continue
			}
			rec := connector.GrantRecord{Account: p.Resource, AccountEmail: email[p.Resource], EntitlementKey: ent}
			if rec.AccountEmail == "" && s.principalFrom == fromEmail {
				rec.AccountEmail = p.Resource
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListEntitlements implements connector.EntitlementLister: a fresh sync,
// then `baton entitlements`; keys are baton entitlement ids.
func (s *SyncConnector) ListEntitlements(ctx context.Context) ([]connector.Entitlement, error) {
	var out []connector.Entitlement
	err := s.fresh(ctx, func() error {
		var el struct {
			Entitlements []struct {
				Entitlement entitlementRef `json:"entitlement"`
			} `json:"entitlements"`
		}
		if err := s.cli(ctx, &el, "entitlements"); err != nil {
			return err
		}
		for _, e := range el.Entitlements {
			out = append(out, connector.Entitlement{Key: e.Entitlement.ID, Name: e.Entitlement.DisplayName, Description: e.Entitlement.Description})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListAccounts implements connector.AccountLister: a fresh sync, then
// `baton resources --resource-type <principal_type>`.
func (s *SyncConnector) ListAccounts(ctx context.Context) ([]connector.Account, error) {
	var out []connector.Account
	err := s.fresh(ctx, func() error {
		rs, err := s.resources(ctx)
		if err != nil {
			return err
		}
		for _, r := range rs {
			a := connector.Account{ExternalID: r.ID.Resource, Name: r.DisplayName}
			if es := r.emails(); len(es) > 0 {
				a.Email = es[0]
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
