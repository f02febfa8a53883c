package policy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// Directory is how the engine reads people. store.Queries satisfies it.
// Get methods return an error wrapping store.ErrNotFound for an unknown
// user; UserListByGroup returns active and offboarded members.
type Directory interface {
	UserGetByID(ctx context.Context, id string) (*access.User, error)
	UserGetByEmail(ctx context.Context, email string) (*access.User, error)
	UserListByGroup(ctx context.Context, group string) ([]*access.User, error)
}

// Option configures New and Validate.
type Option func(*options)

type options struct {
	rotations []Rotation
	catalog   map[string]*access.Entitlement
	limits    Limits
}

// WithRotations gives the on-call rotations that approvers.oncall and the
// CEL oncall list refer to. Without it, any reference to a rotation is a
// problem.
func WithRotations(rs []Rotation) Option {
	return func(o *options) { o.rotations = slices.Clone(rs) }
}

// WithCatalog gives the known entitlements, so that the tie analysis can
// tell that a listed entitlement cannot match a risk or tags selector.
// Entitlements discovered later are not needed: evaluation refuses a tie
// it meets.
func WithCatalog(ents []*access.Entitlement) Option {
	return func(o *options) {
		o.catalog = make(map[string]*access.Entitlement, len(ents))
		for _, e := range ents {
			o.catalog[e.ID] = e
		}
	}
}

// WithLimits sets the CEL evaluation limits; zero fields keep the
// defaults.
func WithLimits(l Limits) Option {
	return func(o *options) { o.limits = l }
}

// Engine evaluates a validated set of policies. Safe for concurrent use;
// it is immutable once built.
type Engine struct {
	policies  []*compiled
	def       *compiled
	rotations []*rotation
	orgMax    time.Duration
	limits    Limits
	// byEnt, byApp and anyApp index the non-default policies by what they
	// select (entitlements, else apps, else neither), each list ordered by
	// specificity, highest first, then by position in the file.
	byEnt, byApp map[string][]*compiled
	anyApp       []*compiled
	usesManager  bool
	// scratch pools the maps that resolve steps (map[string]int).
	scratch sync.Pool
}

// compiled is a validated Policy, ready to match.
type compiled struct {
	Policy
	index       int
	spec        int
	sel         selector
	cond        *condition
	auto        []autoRule
	reason      *reasonCheck
	usesManager bool
}

type autoRule struct {
	name, qualified string
	cond            *condition
}

// New validates policies (see Validate) and returns an engine. orgMax is
// the org-wide maximum duration (zero: none).
func New(policies []Policy, orgMax time.Duration, opts ...Option) (*Engine, error) {
	return compile(policies, orgMax, opts)
}

func compile(policies []Policy, orgMax time.Duration, opts []Option) (*Engine, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	o.limits.Cost = cmp.Or(o.limits.Cost, DefaultCostLimit)
	o.limits.Timeout = cmp.Or(o.limits.Timeout, DefaultTimeout)
	var ps problems
	rots := compileRotations(o.rotations, ps.addf)
	env, err := newCELEnv(o.limits)
	if err != nil {
		return nil, err
	}
	e := &Engine{orgMax: orgMax, limits: o.limits, byEnt: map[string][]*compiled{}, byApp: map[string][]*compiled{}}
	seen := map[string]bool{}
	defaults := 0
	for i, p := range policies {
		if p.ID != "" && seen[p.ID] {
			ps.addf(fmt.Sprintf("policies[%d].id", i), "%q is used twice", p.ID)
		}
		seen[p.ID] = true
		if p.Default {
			defaults++
		}
		c := compilePolicy(i, p, env, rots, &ps)
		if c == nil {
			continue
		}
		c.spec = Specificity(p.Match)
		c.sel = newSelector(p.Match)
		e.policies = append(e.policies, c)
		e.usesManager = e.usesManager || c.usesManager
		if c.Default {
			e.def = c
		}
	}
	if defaults != 1 {
		ps.addf("policies", "exactly one policy must have default: true (found %d)", defaults)
	}
	if orgMax < 0 {
		ps.addf("org.max_duration", "must not be negative")
	}
	checkTies(e.policies, o.catalog, &ps)
	if len(ps) > 0 {
		return nil, validationErr(ps)
	}
	for _, r := range o.rotations {
		e.rotations = append(e.rotations, rots[r.ID])
	}
	for _, c := range e.policies {
		switch {
		case c.Default:
		case c.sel.ents != nil:
			for id := range c.sel.ents {
				e.byEnt[id] = append(e.byEnt[id], c)
			}
		case c.sel.apps != nil:
			for id := range c.sel.apps {
				e.byApp[id] = append(e.byApp[id], c)
			}
		default:
			e.anyApp = append(e.anyApp, c)
		}
	}
	for _, list := range e.byEnt {
		slices.SortFunc(list, bySpecificity)
	}
	for _, list := range e.byApp {
		slices.SortFunc(list, bySpecificity)
	}
	slices.SortFunc(e.anyApp, bySpecificity)
	return e, nil
}

// bySpecificity orders policies most specific first, then as written.
func bySpecificity(a, b *compiled) int {
	return cmp.Or(cmp.Compare(b.spec, a.spec), cmp.Compare(a.index, b.index))
}

// Policies returns a copy of the engine's policies, in their order.
func (e *Engine) Policies() []Policy {
	out := make([]Policy, len(e.policies))
	for i, c := range e.policies {
		out[i] = clonePolicy(c.Policy)
	}
	return out
}

// Rotations returns a copy of the engine's on-call rotations.
func (e *Engine) Rotations() []Rotation {
	out := make([]Rotation, len(e.rotations))
	for i, r := range e.rotations {
		out[i] = r.Rotation
		out[i].Members = slices.Clone(r.Members)
	}
	return out
}

// OnCall returns who is on call at now: rotation ID to email ("" before a
// rotation starts).
func (e *Engine) OnCall(now time.Time) map[string]string {
	out := make(map[string]string, len(e.rotations))
	for _, r := range e.rotations {
		out[r.ID] = r.onCall(now)
	}
	return out
}

// onCallFor lists the rotations email is on call for at now.
func (e *Engine) onCallFor(email string, now time.Time) []string {
	var out []string
	for _, r := range e.rotations {
		if m := r.onCall(now); m != "" && strings.EqualFold(m, email) {
			out = append(out, r.ID)
		}
	}
	return out
}

// candidates calls fn with the policies that may match an entitlement of
// app, most specific first, until fn returns false.
func (e *Engine) candidates(appID, entID string, fn func(c *compiled) bool) {
	// Merge the three sorted lists, taking the head that sorts first.
	lists := [][]*compiled{e.byEnt[entID], e.byApp[appID], e.anyApp}
	for {
		var best *compiled
		from := 0
		for k, list := range lists {
			if len(list) > 0 && (best == nil || bySpecificity(list[0], best) < 0) {
				best, from = list[0], k
			}
		}
		if best == nil {
			return
		}
		lists[from] = lists[from][1:]
		if !fn(best) {
			return
		}
	}
}

// Evaluate picks, for each entitlement of the request, the most specific
// matching policy (the default when none matches) and resolves its steps
// to active people other than the requester. It returns a coded error
// (access.CodeInvalid) when two equally specific policies match, when the
// entitlements of one request fall under different policies (they must be
// requested separately), or when a condition fails (cost limit, runtime
// error; a timeout is access.CodeUnavailable): it never falls back to a
// less specific policy. Evaluation reads people through dir and nothing
// else; it never reads the clock (Input.Now).
//
// A plan nobody could approve is returned without error: see
// Plan.Unapprovable.
func (e *Engine) Evaluate(ctx context.Context, dir Directory, in Input) (*Plan, error) {
	return e.evaluate(ctx, dir, in, nil)
}

func checkInput(in Input) error {
	if in.Requester == nil || in.App == nil || len(in.Entitlements) == 0 {
		return errors.New("policy: input needs a requester, an app and entitlements")
	}
	for _, ent := range in.Entitlements {
		if ent == nil || ent.AppID != in.App.ID {
			return errors.New("policy: every entitlement must belong to the input's app")
		}
	}
	return nil
}

func (e *Engine) evaluate(ctx context.Context, dir Directory, in Input, tr *trace) (*Plan, error) {
	if err := checkInput(in); err != nil {
		return nil, err
	}
	celCtx, cancel := context.WithTimeout(ctx, e.limits.Timeout)
	defer cancel()
	a := &activation{in: &in, duration: in.Duration, reason: strings.TrimSpace(in.Reason),
		oncall: e.onCallFor(in.Requester.Email, in.Now), entIDs: make([]string, len(in.Entitlements))}
	for i, ent := range in.Entitlements {
		a.entIDs[i] = ent.ID
	}
	if tr != nil {
		tr.act = a
	}
	if e.usesManager && in.Requester.ManagerID != "" {
		m, found, err := userByID(ctx, dir, in.Requester.ManagerID)
		if err != nil {
			return nil, err
		}
		if found {
			a.manager = m.Email
		}
	}
	var chosen *compiled
	var why []string
	for _, ent := range in.Entitlements {
		a.ent = ent
		c, w, err := e.choose(celCtx, a, tr)
		if err != nil {
			return nil, err
		}
		if chosen != nil && c != chosen {
			return nil, access.Errorf(access.CodeInvalid,
				"%s and %s fall under different approval policies (%s and %s): request them separately",
				in.Entitlements[0].ID, ent.ID, chosen.ID, c.ID)
		}
		chosen = c
		if len(in.Entitlements) > 1 {
			for i := range w {
				w[i] = ent.ID + ": " + w[i]
			}
		}
		why = append(why, w...)
	}
	plan := &Plan{
		PolicyID:        chosen.ID,
		Why:             why,
		MaxDuration:     e.maxDuration(chosen, in.Entitlements),
		DefaultDuration: chosen.DefaultDuration,
		PendingTimeout:  cmpOr(chosen.PendingTimeout, DefaultPendingTimeout),
		Reminders:       chosen.Reminders,
		Reason:          chosen.Reason,
		OnCall:          a.oncall,
		Extension:       chosen.Extension,
		reasonCheck:     chosen.reason,
	}
	if plan.MaxDuration > 0 && plan.DefaultDuration > plan.MaxDuration {
		plan.DefaultDuration = plan.MaxDuration
	}
	if tr != nil {
		tr.policy = chosen
	}
	if err := e.autoApprove(celCtx, chosen, plan, a, tr); err != nil {
		return nil, err
	}
	res := &resolver{ctx: ctx, dir: dir, in: &in, e: e, users: map[string]*access.User{}}
	for i, s := range chosen.Steps {
		var st *stepTrace
		if tr != nil {
			tr.steps = append(tr.steps, stepTrace{})
			st = &tr.steps[len(tr.steps)-1]
		}
		ps, err := res.step(s, st)
		if err != nil {
			return nil, fmt.Errorf("policy %s step %d: %w", chosen.ID, i+1, err)
		}
		plan.Steps = append(plan.Steps, ps)
	}
	return plan, nil
}

// conditionErr turns a failed condition into a coded error.
func conditionErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		return &access.Error{Code: access.CodeUnavailable, Err: err,
			Message: what + " took too long to evaluate; try again, or ask an admin to simplify it"}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &access.Error{Code: access.CodeInvalid, Err: err,
		Message: what + " cannot be evaluated for this request (" + err.Error() + "); ask an admin to fix it"}
}

// choose returns the policy for the entitlement a.ent and the lines of
// Plan.Why that explain it.
func (e *Engine) choose(ctx context.Context, a *activation, tr *trace) (*compiled, []string, error) {
	var best *compiled
	var ties []string
	var why []string
	var failed error
	e.candidates(a.in.App.ID, a.ent.ID, func(c *compiled) bool {
		if best != nil && c.spec < best.spec {
			return false
		}
		ok, reason, err := c.matches(ctx, a)
		if tr != nil {
			tr.record(a.ent.ID, c, ok, reason, err)
		}
		if err != nil {
			failed = conditionErr(ctx, "the condition of policy "+c.ID, err)
			return false
		}
		switch {
		case !ok:
			why = append(why, fmt.Sprintf("policy %s (specificity %d) does not match: %s", c.ID, c.spec, reason))
		case best == nil:
			best = c
		default:
			ties = append(ties, c.ID)
		}
		return true
	})
	if failed != nil {
		return nil, nil, failed
	}
	if len(ties) > 0 {
		return nil, nil, access.Errorf(access.CodeInvalid,
			"policies %s and %s both match %s equally (specificity %d): an admin must make one more specific",
			best.ID, strings.Join(ties, " and "), a.ent.ID, best.spec)
	}
	if best == nil {
		if tr != nil {
			tr.record(a.ent.ID, e.def, true, "", nil)
		}
		return e.def, append([]string{"no policy matches; the default policy " + e.def.ID + " applies"}, why...), nil
	}
	return best, append([]string{fmt.Sprintf("policy %s matches (specificity %d): %s", best.ID, best.spec, best.because(a))}, why...), nil
}

// matches reports whether c applies to the entitlement a.ent, and if not,
// why. A condition that fails is an error, not a mismatch.
func (c *compiled) matches(ctx context.Context, a *activation) (bool, string, error) {
	in, ent := a.in, a.ent
	switch {
	case c.sel.ents != nil && !c.sel.ents[ent.ID]:
		return false, "entitlement " + ent.ID + " is not one of " + strings.Join(c.Match.Entitlements, ", "), nil
	case c.sel.ents == nil && c.sel.apps != nil && !c.sel.apps[in.App.ID]:
		return false, "app " + in.App.ID + " is not one of " + strings.Join(c.Match.Apps, ", "), nil
	case c.sel.risks != nil && !c.sel.risks[string(ent.Risk)]:
		return false, fmt.Sprintf("entitlement %s has risk %s, not %s", ent.ID, ent.Risk, joinRisks(c.Match.Risk)), nil
	case c.sel.tags != nil && !anyShared(c.sel.tags, ent.Tags):
		if len(ent.Tags) == 0 {
			return false, "entitlement " + ent.ID + " has no tags (wanted one of " + strings.Join(c.Match.Tags, ", ") + ")", nil
		}
		return false, "entitlement " + ent.ID + " has none of the tags " + strings.Join(c.Match.Tags, ", "), nil
	case c.sel.groups != nil && !slices.ContainsFunc(c.sel.groups, in.Requester.InGroup):
		return false, "the requester is in none of the groups " + strings.Join(c.Match.Groups, ", "), nil
	}
	if c.cond != nil {
		ok, err := c.cond.eval(ctx, a)
		if err != nil {
			return false, "", err
		}
		if !ok {
			return false, "the condition is false", nil
		}
	}
	return true, "", nil
}

// because says why c matches a.ent.
func (c *compiled) because(a *activation) string {
	var parts []string
	switch {
	case c.sel.ents != nil:
		parts = append(parts, "entitlement "+a.ent.ID+" is listed")
	case c.sel.apps != nil:
		parts = append(parts, "app "+a.in.App.ID)
	}
	if c.sel.risks != nil {
		parts = append(parts, "risk "+string(a.ent.Risk))
	}
	if c.sel.tags != nil {
		for _, t := range c.sel.tags {
			if slices.Contains(a.ent.Tags, t) {
				parts = append(parts, "tagged "+t)
				break
			}
		}
	}
	if c.sel.groups != nil {
		for _, g := range c.sel.groups {
			if a.in.Requester.InGroup(g) {
				parts = append(parts, "requester in group "+g)
				break
			}
		}
	}
	if c.cond != nil {
		parts = append(parts, "the condition holds")
	}
	if len(parts) == 0 {
		return "it matches every request"
	}
	return strings.Join(parts, ", ")
}

func joinRisks(rs []access.Risk) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

// autoApprove sets plan.AutoApproveRule to the first rule of c whose
// condition holds for every entitlement. Rules are checked with the
// effective duration (the default when none was given), and never when
// that duration is zero or above the maximum. A failing rule approves
// nothing: it is skipped and explained.
func (e *Engine) autoApprove(ctx context.Context, c *compiled, plan *Plan, a *activation, tr *trace) error {
	if len(c.auto) == 0 {
		return nil
	}
	d := cmpOr(a.in.Duration, plan.DefaultDuration)
	a.duration = d
	if d <= 0 || (plan.MaxDuration > 0 && d > plan.MaxDuration) {
		note := "auto-approve rules not checked: no duration was given and the policy has no default"
		if d > 0 {
			note = fmt.Sprintf("auto-approve rules not checked: %s is longer than the maximum (%s)",
				access.FormatDuration(d), access.FormatDuration(plan.MaxDuration))
		}
		plan.Why = append(plan.Why, note)
		if tr != nil {
			for _, r := range c.auto {
				tr.auto = append(tr.auto, RuleResult{Name: r.qualified, Reason: strings.TrimPrefix(note, "auto-approve rules ")})
			}
		}
		return nil
	}
	for _, r := range c.auto {
		ok, reason := true, ""
		for _, ent := range a.in.Entitlements {
			a.ent = ent
			holds, err := r.cond.eval(ctx, a)
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return err
				}
				ok, reason = false, "failed: "+err.Error()
				plan.Why = append(plan.Why, "auto-approve rule "+r.qualified+" failed and approves nothing: "+err.Error())
				break
			}
			if !holds {
				ok, reason = false, "the condition is false"
				if len(a.in.Entitlements) > 1 {
					reason += " for " + ent.ID
				}
				break
			}
		}
		if tr != nil {
			if ok {
				reason = "the condition holds"
			}
			tr.auto = append(tr.auto, RuleResult{Name: r.qualified, Approves: ok, Reason: reason})
		}
		if ok {
			plan.AutoApproveRule = r.qualified
			plan.Why = append(plan.Why, "auto-approved by rule "+r.qualified)
			return nil
		}
	}
	return nil
}

// maxDuration is the smallest positive limit among org, policy and
// entitlements (zero if none is set).
func (e *Engine) maxDuration(p *compiled, ents []*access.Entitlement) time.Duration {
	out := smallest(e.orgMax, p.MaxDuration)
	for _, ent := range ents {
		out = smallest(out, ent.MaxDuration)
	}
	return out
}

// smallest returns the smaller positive limit (zero: none).
func smallest(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0:
		return a
	}
	return min(a, b)
}
