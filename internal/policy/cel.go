package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/sesame-access/sesame/internal/access"
)

// Limits bound the evaluation of one CEL condition.
type Limits struct {
	// Cost is the CEL runtime cost limit of one condition (cel.CostLimit);
	// default 100,000, far above what a policy condition needs.
	Cost uint64
	// Timeout bounds all the conditions of one Evaluate call; default
	// 50ms. A condition stopped by either limit fails the evaluation.
	Timeout time.Duration
}

// Default limits.
const (
	DefaultCostLimit = 100_000
	DefaultTimeout   = 50 * time.Millisecond
	// MaxConditionLength bounds a condition's source, in bytes.
	MaxConditionLength = 4096
)

// Variable is one variable CEL conditions may use.
type Variable struct {
	Name string
	Type string
	Doc  string
}

// Variables lists what a condition can read. Durations are CEL durations
// (google.protobuf.Duration: compare with duration("1h")), times are
// timestamps.
func Variables() []Variable {
	out := make([]Variable, len(celVariables()))
	for i, v := range celVariables() {
		out[i] = Variable{Name: v.name, Type: v.typ.String(), Doc: v.doc}
	}
	return out
}

type celVariable struct {
	name string
	typ  *cel.Type
	doc  string
}

func celVariables() []celVariable {
	strs := cel.ListType(cel.StringType)
	return []celVariable{
		{"request.duration", cel.DurationType, "the requested duration; in auto_approve conditions, the policy's default_duration when the requester gave none"},
		{"request.reason", cel.StringType, "the reason, spaces trimmed"},
		{"request.entitlements", strs, "IDs of every entitlement of the request"},
		{"requester.id", cel.StringType, "the requester's user ID"},
		{"requester.email", cel.StringType, "the requester's email (lowercase)"},
		{"requester.name", cel.StringType, "the requester's name"},
		{"requester.groups", strs, "the requester's groups"},
		{"requester.manager", cel.StringType, "the email of the requester's manager, \"\" when none"},
		{"app.id", cel.StringType, "the app's ID"},
		{"app.name", cel.StringType, "the app's name"},
		{"app.tags", strs, "the app's tags (Input.AppTags)"},
		{"entitlement.id", cel.StringType, "the entitlement's ID (app:key); a condition is checked for each entitlement of the request"},
		{"entitlement.key", cel.StringType, "the entitlement's key"},
		{"entitlement.name", cel.StringType, "the entitlement's name"},
		{"entitlement.risk", cel.StringType, "low, medium or high"},
		{"entitlement.tags", strs, "the entitlement's tags"},
		{"now", cel.TimestampType, "the time of evaluation"},
		{"oncall", strs, "IDs of the rotations the requester is on call for now"},
	}
}

// celEnv compiles conditions. zones holds the time zones named by the
// compiled conditions, loaded at compile time so that evaluation reads no
// files; it is only read once compilation is over.
type celEnv struct {
	env    *cel.Env
	zones  map[string]*time.Location
	limits Limits
}

func newCELEnv(l Limits) (*celEnv, error) {
	c := &celEnv{zones: map[string]*time.Location{"UTC": time.UTC}, limits: l}
	opts := []cel.EnvOption{
		cel.ParserExpressionSizeLimit(MaxConditionLength),
		cel.ParserRecursionLimit(64),
		cel.CrossTypeNumericComparisons(true),
	}
	for _, v := range celVariables() {
		opts = append(opts, cel.Variable(v.name, v.typ))
	}
	hour := func(t time.Time, loc *time.Location) ref.Val { return types.Int(t.In(loc).Hour()) }
	weekday := func(t time.Time, loc *time.Location) ref.Val {
		return types.String(strings.ToLower(t.In(loc).Weekday().String()))
	}
	for name, fn := range map[string]func(time.Time, *time.Location) ref.Val{"hour": hour, "weekday": weekday} {
		out := cel.IntType
		if name == "weekday" {
			out = cel.StringType
		}
		opts = append(opts, cel.Function(name,
			cel.MemberOverload("timestamp_"+name, []*cel.Type{cel.TimestampType}, out,
				cel.UnaryBinding(func(ts ref.Val) ref.Val {
					t, ok := ts.(types.Timestamp)
					if !ok {
						return types.MaybeNoSuchOverloadErr(ts)
					}
					return fn(t.Time, time.UTC)
				})),
			cel.MemberOverload("timestamp_"+name+"_string", []*cel.Type{cel.TimestampType, cel.StringType}, out,
				cel.BinaryBinding(func(ts, zone ref.Val) ref.Val {
					t, ok := ts.(types.Timestamp)
					z, zok := zone.(types.String)
					if !ok || !zok {
						return types.MaybeNoSuchOverloadErr(ts)
					}
					loc := c.zones[string(z)]
					if loc == nil {
						return types.NewErr("time zone %q was not loaded", string(z))
					}
					return fn(t.Time, loc)
				}))))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	c.env = env
	return c, nil
}

// condition is a compiled CEL condition.
type condition struct {
	src string
	prg cel.Program
	// usesManager is true when the condition reads requester.manager (a
	// directory lookup).
	usesManager bool
}

// builtinZoneFunc reports whether name is one of CEL's timestamp
// accessors; with a time zone argument they load it at every evaluation,
// so conditions must use hour() and weekday() instead.
func builtinZoneFunc(name string) bool {
	switch name {
	case "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate",
		"getDayOfWeek", "getHours", "getMinutes", "getSeconds", "getMilliseconds":
		return true
	}
	return false
}

// compile parses and type-checks src, which must be a bool expression.
// Errors are one line each, positions within src included.
func (c *celEnv) compile(src string) (*condition, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("is empty")
	}
	if len(src) > MaxConditionLength {
		return nil, fmt.Errorf("is longer than %d bytes", MaxConditionLength)
	}
	checked, iss := c.env.Compile(src)
	if iss.Err() != nil {
		return nil, issuesError(src, iss)
	}
	if !checked.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("must be true or false, not %s", checked.OutputType())
	}
	var problems []string
	ast.PreOrderVisit(ast.NavigateAST(checked.NativeRep()), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		call := e.AsCall()
		name := call.FunctionName()
		switch {
		case (name == "hour" || name == "weekday") && len(call.Args()) == 1:
			arg := call.Args()[0]
			if arg.Kind() != ast.LiteralKind {
				problems = append(problems, name+"(): the time zone must be a quoted name like \"Europe/Paris\"")
				return
			}
			z, ok := arg.AsLiteral().(types.String)
			if !ok {
				return
			}
			loc, err := loadZone(string(z))
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s(): %q is not a time zone name like Europe/Paris", name, string(z)))
				return
			}
			c.zones[string(z)] = loc
		case builtinZoneFunc(name) && call.IsMemberFunction() && len(call.Args()) == 1:
			problems = append(problems, name+"() with a time zone is not allowed: use now.hour(\"Europe/Paris\") or now.weekday(\"Europe/Paris\")")
		}
	}))
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	prg, err := c.env.Program(checked,
		cel.CostLimit(c.limits.Cost),
		cel.InterruptCheckFrequency(64),
		cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("cannot be prepared: %w", err)
	}
	cond := &condition{src: src, prg: prg}
	for _, r := range checked.NativeRep().ReferenceMap() {
		if r.Name == "requester.manager" {
			cond.usesManager = true
		}
	}
	return cond, nil
}

// issuesError formats CEL's issues as one line: "line 1, column 5: ...".
func issuesError(src string, iss *cel.Issues) error {
	multiline := strings.Contains(src, "\n")
	var parts []string
	for _, e := range iss.Errors() {
		msg := e.Message
		if strings.HasPrefix(msg, "undeclared reference to") && !strings.Contains(msg, "did you mean") {
			msg += " (variables: " + variableNames() + ")"
		}
		loc := e.Location
		switch {
		case loc == nil || loc.Line() <= 0:
		case multiline:
			msg = fmt.Sprintf("line %d, column %d: %s", loc.Line(), loc.Column()+1, msg)
		default:
			msg = fmt.Sprintf("column %d: %s", loc.Column()+1, msg)
		}
		parts = append(parts, msg)
	}
	if len(parts) == 0 {
		return iss.Err()
	}
	return errors.New(strings.Join(parts, "; "))
}

func variableNames() string {
	names := make([]string, 0, len(celVariables()))
	for _, v := range celVariables() {
		names = append(names, v.name)
	}
	return strings.Join(names, ", ")
}

// eval runs the condition. An error (cost limit, timeout, a runtime error
// such as a missing map key) is returned, never read as false.
func (c *condition) eval(ctx context.Context, a *activation) (bool, error) {
	out, _, err := c.prg.ContextEval(ctx, a)
	if err != nil {
		return false, fmt.Errorf("condition failed: %w", err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("condition gave %s, not true or false", out.Type())
	}
	return bool(b), nil
}

// activation binds the CEL variables for one entitlement of a request.
type activation struct {
	in       *Input
	ent      *access.Entitlement
	duration time.Duration
	reason   string
	entIDs   []string
	manager  string
	oncall   []string
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "request.duration":
		return a.duration, true
	case "request.reason":
		return a.reason, true
	case "request.entitlements":
		return a.entIDs, true
	case "requester.id":
		return a.in.Requester.ID, true
	case "requester.email":
		return a.in.Requester.Email, true
	case "requester.name":
		return a.in.Requester.Name, true
	case "requester.groups":
		return nonNil(a.in.Requester.Groups), true
	case "requester.manager":
		return a.manager, true
	case "app.id":
		return a.in.App.ID, true
	case "app.name":
		return a.in.App.Name, true
	case "app.tags":
		return nonNil(a.in.AppTags), true
	case "entitlement.id":
		return a.ent.ID, true
	case "entitlement.key":
		return a.ent.Key, true
	case "entitlement.name":
		return a.ent.Name, true
	case "entitlement.risk":
		return string(a.ent.Risk), true
	case "entitlement.tags":
		return nonNil(a.ent.Tags), true
	case "now":
		return a.in.Now, true
	case "oncall":
		return nonNil(a.oncall), true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
