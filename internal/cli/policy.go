package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// policyCommands are the `sesame policy` subcommands that speak the API,
// and test, which cmd/sesame runs locally.
func policyCommands() []command {
	return []command{
		{"list", "show the approval policies in force (admins and auditors)", policyList},
		{"changes", "list policy changes (admins and auditors)", policyChanges},
		{"show", "show a policy change with its diff", policyShow},
		{"propose", "propose a new policy set from a YAML file (admins)", policyPropose},
		{"approve", "approve and apply a policy change proposed by another admin", policyApprove},
		{"reject", "reject (or withdraw) a proposed policy change", policyReject},
		{"test", "explain what the policies do with a request (runs locally: sesame policy test -h)", policyTest},
	}
}

// policyTest is listed for the group's help; `sesame policy test` itself
// runs in cmd/sesame, against the database, and never reaches Run.
func policyTest(context.Context, *env, []string) error {
	return usagef("policy test runs in the sesame binary, not through the API: sesame policy test -h")
}

// policyView is the part of a policy the tables show.
type policyView struct {
	ID      string `json:"id"`
	Default bool   `json:"default"`
	Match   struct {
		Apps         []string `json:"apps"`
		Entitlements []string `json:"entitlements"`
		Tags         []string `json:"tags"`
		Risk         []string `json:"risk"`
		Groups       []string `json:"groups"`
		Condition    string   `json:"condition"`
	} `json:"match"`
	Steps []struct {
		Name string `json:"name"`
	} `json:"steps"`
	AutoApprove []struct {
		Name string `json:"name"`
	} `json:"auto_approve"`
	MaxDuration string `json:"max_duration"`
}

// matchText summarises a policy's selectors.
func (p policyView) matchText() string {
	if p.Default {
		return "default"
	}
	var parts []string
	add := func(name string, vs []string) {
		if len(vs) > 0 {
			parts = append(parts, name+"="+strings.Join(vs, ","))
		}
	}
	add("apps", p.Match.Apps)
	add("entitlements", p.Match.Entitlements)
	add("tags", p.Match.Tags)
	add("risk", p.Match.Risk)
	add("groups", p.Match.Groups)
	if p.Match.Condition != "" {
		parts = append(parts, "condition")
	}
	if len(parts) == 0 {
		return "everything"
	}
	return strings.Join(parts, " ")
}

// policySetView is GET /policies.
type policySetView struct {
	Version   int64        `json:"version"`
	Source    string       `json:"source"`
	ChangeID  string       `json:"change_id"`
	UpdatedBy userRef      `json:"updated_by"`
	UpdatedAt time.Time    `json:"updated_at"`
	Policies  []policyView `json:"policies"`
}

// policyChangeView is a policy change.
type policyChangeView struct {
	ID              string       `json:"id"`
	State           string       `json:"state"`
	ProposedBy      userRef      `json:"proposed_by"`
	ProposedAt      time.Time    `json:"proposed_at"`
	Comment         string       `json:"comment"`
	BaseVersion     int64        `json:"base_version"`
	DecidedBy       *userRef     `json:"decided_by"`
	DecidedAt       time.Time    `json:"decided_at"`
	DecisionComment string       `json:"decision_comment"`
	SelfApproved    bool         `json:"self_approved"`
	AppliedAt       time.Time    `json:"applied_at"`
	AppliedVersion  int64        `json:"applied_version"`
	Diff            []string     `json:"diff"`
	After           []policyView `json:"after"`
}

func policyList(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("policy list", "policy list",
		"Show the approval policies in force and their version (admins and auditors). --json prints them in full, in the format `sesame policy propose` reads.",
		"sesame policy list", "sesame policy list --json")
	_, c, err := f.setup(e, args, 0, 0, "")
	if err != nil {
		return err
	}
	var s policySetView
	raw, err := c.call(ctx, http.MethodGet, "/policies", nil, nil, &s)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	from := s.Source
	if s.ChangeID != "" {
		from += " (change " + s.ChangeID + ")"
	}
	if err := kv(e.stdout, "Version", strconv.FormatInt(s.Version, 10), "Source", from,
		"Updated", fmtTime(s.UpdatedAt)+" by "+s.UpdatedBy.String()); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	t := newTable(e.stdout, "ID", "MATCH", "STEPS", "AUTO-APPROVE", "MAX")
	for _, p := range s.Policies {
		steps := make([]string, 0, len(p.Steps))
		for _, st := range p.Steps {
			steps = append(steps, st.Name)
		}
		rules := make([]string, 0, len(p.AutoApprove))
		for _, r := range p.AutoApprove {
			rules = append(rules, r.Name)
		}
		t.row(p.ID, p.matchText(), orDash(strings.Join(steps, ", ")), orDash(strings.Join(rules, ", ")), orDash(p.MaxDuration))
	}
	return t.flush()
}

func policyChanges(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("policy changes", "policy changes [--state S] [--all]",
		"List policy changes, newest first (admins and auditors).",
		"sesame policy changes --state proposed")
	var states listFlag
	f.fs.Var(&states, "state", "proposed, approved, rejected or applied (repeatable)")
	limit := f.fs.Int("limit", 0, "page size, 1 to 500 (default 50)")
	cursor := f.fs.String("cursor", "", "next_cursor of a previous page")
	all := f.fs.Bool("all", false, "fetch every page")
	_, c, err := f.setup(e, args, 0, 0, "")
	if err != nil {
		return err
	}
	q := url.Values{}
	setIf(q, "state", strings.Join(states, ","))
	setIf(q, "cursor", *cursor)
	if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	pg, raw, err := list[policyChangeView](ctx, c, "/policies/changes", q, *all)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	t := newTable(e.stdout, "ID", "STATE", "PROPOSED BY", "PROPOSED", "BASE", "CHANGES")
	for _, ch := range pg.Items {
		t.row(ch.ID, ch.State, ch.ProposedBy.String(), fmtTime(ch.ProposedAt), strconv.FormatInt(ch.BaseVersion, 10),
			orDash(strings.Join(ch.Diff, "; ")))
	}
	if err := t.flush(); err != nil {
		return err
	}
	moreHint(e.stderr, pg.NextCursor)
	return nil
}

func policyShow(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("policy show", "policy show CHANGE_ID",
		"Show a policy change and what it changes (admins and auditors). --json includes the sets before and after in full.",
		"sesame policy show pch_01J0...")
	pos, c, err := f.setup(e, args, 1, 1, "CHANGE_ID")
	if err != nil {
		return err
	}
	var ch policyChangeView
	raw, err := c.call(ctx, http.MethodGet, "/policies/changes/"+url.PathEscape(pos[0]), nil, nil, &ch)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	return printPolicyChange(e.stdout, &ch)
}

// printPolicyChange writes a change's review and its diff.
func printPolicyChange(w io.Writer, ch *policyChangeView) error {
	pairs := []string{"ID", ch.ID, "State", ch.State, "Proposed", fmtTime(ch.ProposedAt) + " by " + ch.ProposedBy.String(),
		"Comment", orDash(ch.Comment), "Base version", strconv.FormatInt(ch.BaseVersion, 10)}
	if ch.DecidedBy != nil {
		decided := fmtTime(ch.DecidedAt) + " by " + ch.DecidedBy.String()
		if ch.SelfApproved {
			decided += " (two-person rule off)"
		}
		if ch.DecisionComment != "" {
			decided += ": " + ch.DecisionComment
		}
		pairs = append(pairs, "Decided", decided)
	}
	if ch.AppliedVersion != 0 {
		pairs = append(pairs, "Applied", fmt.Sprintf("%s as version %d", fmtTime(ch.AppliedAt), ch.AppliedVersion))
	}
	if err := kv(w, pairs...); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nChanges:")
	if len(ch.Diff) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, d := range ch.Diff {
		fmt.Fprintf(w, "  %s\n", d)
	}
	return nil
}

func policyPropose(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("policy propose", "policy propose FILE [--comment TEXT]",
		"Propose FILE's policies as the whole new set (admins). FILE is YAML (or JSON) in the config file's format: "+
			"a list of policies, or a mapping whose policies: key is that list (a config file: only its policies are sent). "+
			"\"-\" reads standard input. With the two-person rule on, another admin must approve the change; off, it applies at once.",
		"sesame policy propose policies.yaml --comment \"github admins need two approvals\"",
		"sesame policy list --json | jq .policies | sesame policy propose -")
	comment := f.fs.String("comment", "", "why, for the reviewer and the audit log")
	pos, err := f.parse(args, 1, 1, "FILE")
	if err != nil {
		return err
	}
	data, err := readPolicyFile(pos[0])
	if err != nil {
		return err
	}
	policies, err := policiesJSON(data)
	if err != nil {
		return usagef("%s: %v", pos[0], err)
	}
	c, err := f.client(e)
	if err != nil {
		return err
	}
	var ch policyChangeView
	raw, err := c.call(ctx, http.MethodPost, "/policies/changes", nil,
		map[string]any{"policies": policies, "comment": *comment}, &ch)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	return reportPolicyChange(e.stdout, &ch)
}

// reportPolicyChange says what became of a change.
func reportPolicyChange(w io.Writer, ch *policyChangeView) error {
	switch ch.State {
	case "proposed":
		fmt.Fprintf(w, "Policy change %s is proposed: another admin must approve it (sesame policy approve %s).\n", ch.ID, ch.ID)
	case "applied":
		fmt.Fprintf(w, "Policy change %s is applied: version %d is in force.\n", ch.ID, ch.AppliedVersion)
	default:
		fmt.Fprintf(w, "Policy change %s is %s.\n", ch.ID, ch.State)
	}
	for _, d := range ch.Diff {
		fmt.Fprintf(w, "  %s\n", d)
	}
	return nil
}

// readPolicyFile reads path, or standard input for "-".
func readPolicyFile(path string) ([]byte, error) {
	if path == "-" {
		data, err := io.ReadAll(os.Stdin)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, usagef("policy propose: %s does not exist", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

func policyApprove(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("policy approve", "policy approve CHANGE_ID [--comment TEXT]",
		"Approve a policy change another admin proposed; it applies at once, unless the policies changed since it was proposed (then it must be proposed again).",
		"sesame policy approve pch_01J0... --comment lgtm")
	comment := f.fs.String("comment", "", "a comment for the audit log")
	pos, c, err := f.setup(e, args, 1, 1, "CHANGE_ID")
	if err != nil {
		return err
	}
	return policyDecide(ctx, e, f, c, pos[0], "approve", *comment)
}

func policyReject(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("policy reject", "policy reject CHANGE_ID [--comment TEXT]",
		"Reject a proposed policy change (admins; the proposer withdraws their own).",
		`sesame policy reject pch_01J0... --comment "the github policy would lock out on-call"`)
	comment := f.fs.String("comment", "", "why, for the proposer and the audit log")
	pos, c, err := f.setup(e, args, 1, 1, "CHANGE_ID")
	if err != nil {
		return err
	}
	return policyDecide(ctx, e, f, c, pos[0], "reject", *comment)
}

// policyDecide runs POST /policies/changes/{id}/<action>.
func policyDecide(ctx context.Context, e *env, f *flags, c *client, id, action, comment string) error {
	var ch policyChangeView
	raw, err := c.call(ctx, http.MethodPost, "/policies/changes/"+url.PathEscape(id)+"/"+action, nil,
		map[string]any{"comment": comment}, &ch)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	return reportPolicyChange(e.stdout, &ch)
}

// isDurationKey reports whether a policy key's value is a duration: sent
// as text whatever YAML made of it (max_duration: 0).
func isDurationKey(k string) bool {
	switch k {
	case "max_duration", "default_duration", "pending_timeout", "escalate_after", "after", "every":
		return true
	}
	return false
}

// policiesJSON converts a YAML (or JSON) policy file to the JSON array the
// API takes: the document is a list of policies, or a mapping whose
// "policies" key is one. Values keep their YAML types, except durations,
// which are text as in the config file.
func policiesJSON(data []byte) (json.RawMessage, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("empty: write a list of policies")
	}
	root := doc.Content[0]
	if root.Kind == yaml.MappingNode {
		var list *yaml.Node
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "policies" {
				list = root.Content[i+1]
			}
		}
		if list == nil {
			return nil, errors.New("no policies: write a list of policies, or a mapping with a policies: key")
		}
		root = list
	}
	if root.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: policies must be a list", root.Line)
	}
	v, err := yamlValue(root, false)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// yamlValue converts n to a value json.Marshal writes as the file means
// it; asText forces a scalar to a string.
func yamlValue(n *yaml.Node, asText bool) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias, asText)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c, false)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: keys must be text", k.Line)
			}
			v, err := yamlValue(n.Content[i+1], isDurationKey(k.Value))
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	case yaml.DocumentNode:
		return nil, fmt.Errorf("line %d: unexpected document", n.Line)
	case yaml.ScalarNode:
		if asText {
			return n.Value, nil
		}
		switch n.ShortTag() {
		case "!!null":
			return json.RawMessage("null"), nil
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			return v, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML", n.Line)
}
