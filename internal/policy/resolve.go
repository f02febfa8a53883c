package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// resolver turns approver rules into people for one evaluation.
type resolver struct {
	ctx context.Context
	dir Directory
	in  *Input
	e   *Engine
	// users caches UserGetByID for this evaluation (managers, owners).
	users map[string]*access.User
}

// userByID returns the user; found is false for an unknown ID (not an
// error: unknown people are left out).
func userByID(ctx context.Context, dir Directory, id string) (u *access.User, found bool, err error) {
	u, err = dir.UserGetByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("resolve user %s: %w", id, err)
	}
	return u, true, nil
}

// byID is userByID, cached for the evaluation; nil for an unknown ID.
func (r *resolver) byID(id string) (*access.User, error) {
	if u, ok := r.users[id]; ok {
		return u, nil
	}
	u, _, err := userByID(r.ctx, r.dir, id)
	if err != nil {
		return nil, err
	}
	r.users[id] = u
	return u, nil
}

// byEmail returns the user with email, or nil for an unknown one.
func (r *resolver) byEmail(email string) (*access.User, error) {
	u, err := r.dir.UserGetByEmail(r.ctx, strings.ToLower(email))
	switch {
	case errors.Is(err, store.ErrNotFound):
		u = nil
	case err != nil:
		return nil, fmt.Errorf("resolve user %s: %w", email, err)
	}
	return u, nil
}

// collector gathers eligible people: never the requester, never an
// inactive user, never one in skip; a person named twice gets both
// reasons.
type collector struct {
	requesterID string
	out         []Approver
	// pos indexes out by user ID; skip holds IDs to leave out.
	pos  map[string]int
	skip map[string]int
	// excluded, when tracing, records who was left out and why.
	excluded *[]Excluded
}

func (c *collector) exclude(who, why string) {
	if c.excluded == nil {
		return
	}
	for _, x := range *c.excluded {
		if x.Who == who && x.Why == why {
			return
		}
	}
	*c.excluded = append(*c.excluded, Excluded{Who: who, Why: why})
}

// grow makes room for n more people.
func (c *collector) grow(n int) { c.out = slices.Grow(c.out, n) }

func (c *collector) add(u *access.User, reason string) {
	switch {
	case u.ID == c.requesterID:
		c.exclude(u.Email, "is the requester: nobody approves their own request")
		return
	case !u.Active():
		c.exclude(u.Email, "is "+string(u.Status)+" ("+reason+")")
		return
	}
	if _, ok := c.skip[u.ID]; ok {
		return
	}
	if i, ok := c.pos[u.ID]; ok {
		if !strings.Contains(c.out[i].Reason, reason) {
			c.out[i].Reason += "; " + reason
		}
		return
	}
	c.pos[u.ID] = len(c.out)
	c.out = append(c.out, Approver{UserID: u.ID, Email: u.Email, Name: u.Name, Reason: reason})
}

// step resolves one step; st, when set, receives the exclusions.
func (r *resolver) step(s StepRule, st *stepTrace) (PlanStep, error) {
	ps := PlanStep{Name: s.Name, RequesterChooses: s.RequesterChooses, All: s.All, EscalateAfter: s.EscalateAfter}
	c := &collector{requesterID: r.in.Requester.ID, pos: r.e.scratchMap()}
	defer r.e.releaseMap(c.pos)
	if st != nil {
		c.excluded = &st.excluded
	}
	if err := r.collect(s.Approvers, c); err != nil {
		return ps, err
	}
	ps.Eligible = c.out
	if s.EscalateAfter > 0 {
		// c.pos holds the eligible: the escalation adds only others.
		esc := &collector{requesterID: r.in.Requester.ID, skip: c.pos, pos: r.e.scratchMap()}
		defer r.e.releaseMap(esc.pos)
		if st != nil {
			esc.excluded = &st.escalationExcluded
		}
		if err := r.collect(s.EscalateTo, esc); err != nil {
			return ps, err
		}
		ps.EscalateTo = esc.out
	}
	ps.Required = s.required()
	if s.All {
		ps.Required = max(1, len(ps.Eligible))
	}
	ps.Choose = s.Choose
	if ps.RequesterChooses && ps.Choose == 0 {
		ps.Choose = ps.Required
	}
	return ps, nil
}

// collect adds the people of rule to c, in the rule's order: users,
// groups, manager, manager's manager, app owners, entitlement owners,
// on-call.
func (r *resolver) collect(rule ApproverRule, c *collector) error {
	in := r.in
	for _, email := range rule.Users {
		u, err := r.byEmail(email)
		if err != nil {
			return err
		}
		if u == nil {
			c.exclude(email, "is not a known user")
			continue
		}
		c.add(u, "named in the policy")
	}
	for _, g := range rule.Groups {
		members, err := r.dir.UserListByGroup(r.ctx, g)
		if err != nil {
			return fmt.Errorf("resolve group %s: %w", g, err)
		}
		if len(members) == 0 {
			c.exclude("group "+g, "has no members")
		}
		c.grow(len(members))
		for _, u := range members {
			c.add(u, "member of group "+g)
		}
	}
	if rule.Manager || rule.ManagersManager {
		if err := r.managers(rule, c); err != nil {
			return err
		}
	}
	if rule.AppOwners {
		if len(in.App.Owners) == 0 {
			c.exclude("owners of "+in.App.Name, "the app has no owners")
		}
		if err := r.ids(in.App.Owners, "owner of "+in.App.Name, c); err != nil {
			return err
		}
	}
	if rule.EntitlementOwners {
		for _, ent := range in.Entitlements {
			if len(ent.Owners) == 0 {
				c.exclude("owners of "+ent.ID, "the entitlement has no owners")
			}
			if err := r.ids(ent.Owners, "owner of "+ent.Name, c); err != nil {
				return err
			}
		}
	}
	for _, id := range rule.OnCall {
		rot := r.e.rotation(id)
		email := ""
		if rot != nil {
			email = rot.onCall(in.Now)
		}
		if email == "" {
			c.exclude("on call for "+id, "nobody is on call at this time")
			continue
		}
		u, err := r.byEmail(email)
		if err != nil {
			return err
		}
		if u == nil {
			c.exclude(email, "is on call for "+id+" but is not a known user")
			continue
		}
		c.add(u, "on call for "+id)
	}
	return nil
}

// managers adds the requester's manager and/or manager's manager. The
// chain goes through an offboarded manager: their own manager is still
// the right person to ask.
func (r *resolver) managers(rule ApproverRule, c *collector) error {
	in := r.in
	if in.Requester.ManagerID == "" {
		c.exclude("the requester's manager", "the requester has no manager")
		return nil
	}
	m, err := r.byID(in.Requester.ManagerID)
	if err != nil {
		return err
	}
	if m == nil {
		c.exclude("the requester's manager", "user "+in.Requester.ManagerID+" is not a known user")
		return nil
	}
	if rule.Manager {
		c.add(m, "the requester's manager")
	}
	if !rule.ManagersManager {
		return nil
	}
	if m.ManagerID == "" {
		c.exclude("the requester's manager's manager", m.Email+" has no manager")
		return nil
	}
	mm, err := r.byID(m.ManagerID)
	if err != nil {
		return err
	}
	if mm == nil {
		c.exclude("the requester's manager's manager", "user "+m.ManagerID+" is not a known user")
		return nil
	}
	c.add(mm, "the requester's manager's manager")
	return nil
}

// ids adds the users with these IDs for reason.
func (r *resolver) ids(ids []string, reason string, c *collector) error {
	for _, id := range ids {
		u, err := r.byID(id)
		if err != nil {
			return err
		}
		if u == nil {
			c.exclude("user "+id, "is not a known user ("+reason+")")
			continue
		}
		c.add(u, reason)
	}
	return nil
}

// scratchMap returns an empty map from the engine's pool.
func (e *Engine) scratchMap() map[string]int {
	if m, ok := e.scratch.Get().(map[string]int); ok {
		return m
	}
	return make(map[string]int, 64)
}

// releaseMap returns m to the pool, emptied.
func (e *Engine) releaseMap(m map[string]int) {
	clear(m)
	e.scratch.Put(m)
}

// rotation returns the rotation with id, or nil.
func (e *Engine) rotation(id string) *rotation {
	for _, r := range e.rotations {
		if r.ID == id {
			return r
		}
	}
	return nil
}
