package slackfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// View is a modal or Home tab as the fake holds it: the definition the app
// sent plus what the user entered.
type View struct {
	ID              string
	Type            string // "modal" or "home"
	User            string
	CallbackID      string
	PrivateMetadata string
	ExternalID      string
	Hash            string
	RootViewID      string
	PreviousViewID  string
	// Def is the view definition as last set by the app, with generated
	// block_ids filled in.
	Def map[string]any
	// State holds the input values: block_id -> action_id -> Slack's state
	// value object ({"type": ..., "value"/"selected_option"/"selected_options": ...}).
	State map[string]map[string]map[string]any
	// Errors are the errors of the last response_action "errors", by block_id.
	Errors map[string]string
	// Closed is set when the modal was closed.
	Closed bool
}

// Title is the modal's title text.
func (v *View) Title() string {
	t, _ := v.Def["title"].(map[string]any)
	s, _ := t["text"].(string)
	return s
}

// Blocks returns the view's blocks as JSON.
func (v *View) Blocks() json.RawMessage {
	b, err := json.Marshal(v.Def["blocks"])
	if err != nil {
		return nil
	}
	return b
}

// Text returns the visible texts of the view's blocks.
func (v *View) Text() string { return BlockText(v.Blocks()) }

func (v *View) blocks() []any {
	bs, _ := v.Def["blocks"].([]any)
	return bs
}

func (v *View) clone() *View {
	cp := *v
	raw, err := json.Marshal(v.Def)
	if err == nil {
		cp.Def = nil
		_ = json.Unmarshal(raw, &cp.Def) //nolint:errcheck // it was just marshaled
	}
	cp.State = map[string]map[string]map[string]any{}
	for b, acts := range v.State {
		cp.State[b] = map[string]map[string]any{}
		for a, st := range acts {
			cp.State[b][a] = maps.Clone(st)
		}
	}
	cp.Errors = maps.Clone(v.Errors)
	return &cp
}

// payload returns the view object Slack sends in interaction payloads.
func (v *View) payload(teamID, appID string) map[string]any {
	out := maps.Clone(v.Def)
	out["id"] = v.ID
	out["team_id"] = teamID
	out["app_id"] = appID
	out["hash"] = v.Hash
	out["root_view_id"] = v.RootViewID
	out["previous_view_id"] = nilIfEmpty(v.PreviousViewID)
	out["bot_id"] = "B0BOT"
	out["private_metadata"] = v.PrivateMetadata
	out["callback_id"] = v.CallbackID
	out["external_id"] = v.ExternalID
	values := map[string]any{}
	for b, acts := range v.State {
		m := map[string]any{}
		for a, st := range acts {
			m[a] = st
		}
		values[b] = m
	}
	out["state"] = map[string]any{"values": values}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// statefulTypes are the elements whose values Slack reports in view state.
func statefulTypes() []string {
	return []string{"plain_text_input", "static_select", "external_select", "multi_static_select",
		"multi_external_select", "users_select", "multi_users_select", "datepicker", "number_input", "checkboxes", "radio_buttons"}
}

// elementRef locates an element in a view or message.
type elementRef struct {
	blockID  string
	block    map[string]any
	elem     map[string]any
	inInput  bool
	dispatch bool
}

// elements lists the interactive elements of blocks, in order.
func elements(blocks []any) []elementRef {
	var out []elementRef
	for _, raw := range blocks {
		b, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		id, _ := b["block_id"].(string)
		switch b["type"] {
		case "section":
			if e, ok := b["accessory"].(map[string]any); ok {
				out = append(out, elementRef{blockID: id, block: b, elem: e})
			}
		case "actions":
			els, _ := b["elements"].([]any)
			for _, x := range els {
				if e, ok := x.(map[string]any); ok {
					out = append(out, elementRef{blockID: id, block: b, elem: e})
				}
			}
		case "input":
			if e, ok := b["element"].(map[string]any); ok {
				d, _ := b["dispatch_action"].(bool)
				out = append(out, elementRef{blockID: id, block: b, elem: e, inInput: true, dispatch: d})
			}
		}
	}
	return out
}

func findElement(blocks []any, actionID string) (elementRef, bool) {
	for _, r := range elements(blocks) {
		if r.elem["action_id"] == actionID {
			return r, true
		}
	}
	return elementRef{}, false
}

// fillBlockIDs gives every block without a block_id a generated one, as
// Slack does.
func fillBlockIDs(blocks []any, gen func() string) {
	for _, raw := range blocks {
		if b, ok := raw.(map[string]any); ok {
			if _, has := b["block_id"]; !has {
				b["block_id"] = gen()
			}
		}
	}
}

// initialState returns the state value of a stateful element before the
// user touches it.
func initialState(e map[string]any) (map[string]any, bool) {
	t, _ := e["type"].(string)
	if !slices.Contains(statefulTypes(), t) {
		return nil, false
	}
	st := map[string]any{"type": t}
	switch t {
	case "plain_text_input", "number_input":
		if v, ok := e["initial_value"].(string); ok && v != "" {
			st["value"] = v
		} else {
			st["value"] = nil
		}
	case "static_select", "external_select", "radio_buttons":
		st["selected_option"] = e["initial_option"]
	case "multi_static_select", "multi_external_select", "checkboxes":
		if o, ok := e["initial_options"].([]any); ok {
			st["selected_options"] = o
		} else {
			st["selected_options"] = []any{}
		}
	case "users_select":
		st["selected_user"] = e["initial_user"]
	case "multi_users_select":
		st["selected_users"] = e["initial_users"]
	case "datepicker":
		st["selected_date"] = e["initial_date"]
	}
	return st, true
}

// rebuildState computes the state of a view whose definition changed:
// values the user entered survive when block_id, action_id and element
// type are unchanged (and a chosen static option still exists), as Slack
// preserves input across views.update.
func rebuildState(old map[string]map[string]map[string]any, blocks []any) map[string]map[string]map[string]any {
	out := map[string]map[string]map[string]any{}
	for _, r := range elements(blocks) {
		aid, _ := r.elem["action_id"].(string)
		init, ok := initialState(r.elem)
		if !ok || aid == "" {
			continue
		}
		st := init
		if prev, ok := old[r.blockID][aid]; ok && prev["type"] == init["type"] && stillValid(prev, r.elem) {
			st = prev
		}
		if out[r.blockID] == nil {
			out[r.blockID] = map[string]map[string]any{}
		}
		out[r.blockID][aid] = st
	}
	return out
}

// stillValid reports whether a static menu's selection is still offered.
func stillValid(st, elem map[string]any) bool {
	opts := optionsOf(elem)
	if opts == nil {
		return true
	}
	has := func(o any) bool {
		om, _ := o.(map[string]any)
		return slices.ContainsFunc(opts, func(k map[string]any) bool { return om != nil && sameOption(k, om) })
	}
	if so, ok := st["selected_option"]; ok && so != nil && !has(so) {
		return false
	}
	if sos, ok := st["selected_options"].([]any); ok {
		for _, o := range sos {
			if !has(o) {
				return false
			}
		}
	}
	return true
}

// optionsOf returns a static menu's options (nil for other elements).
func optionsOf(elem map[string]any) []map[string]any {
	t, _ := elem["type"].(string)
	if t != "static_select" && t != "multi_static_select" && t != "overflow" && t != "checkboxes" && t != "radio_buttons" {
		return nil
	}
	var out []map[string]any
	add := func(list any) {
		xs, _ := list.([]any)
		for _, x := range xs {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	add(elem["options"])
	if groups, ok := elem["option_groups"].([]any); ok {
		for _, g := range groups {
			if gm, ok := g.(map[string]any); ok {
				add(gm["options"])
			}
		}
	}
	return out
}

// missingRequired lists the labels of required inputs without a value:
// the Slack client refuses to submit such a modal.
func missingRequired(v *View) []string {
	var out []string
	for _, r := range elements(v.blocks()) {
		if !r.inInput {
			continue
		}
		if opt, _ := r.block["optional"].(bool); opt {
			continue
		}
		aid, _ := r.elem["action_id"].(string)
		st := v.State[r.blockID][aid]
		if !hasValue(st) {
			label, _ := r.block["label"].(map[string]any)
			s, _ := label["text"].(string)
			out = append(out, fmt.Sprintf("%s (%s)", s, r.blockID))
		}
	}
	return out
}

func hasValue(st map[string]any) bool {
	if st == nil {
		return false
	}
	for k, v := range st {
		if k == "type" {
			continue
		}
		switch x := v.(type) {
		case nil:
		case string:
			if strings.TrimSpace(x) != "" {
				return true
			}
		case []any:
			if len(x) > 0 {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// inputBlockIDs returns the block_ids of the view's input blocks.
func inputBlockIDs(v *View) []string {
	var out []string
	for _, r := range elements(v.blocks()) {
		if r.inInput {
			out = append(out, r.blockID)
		}
	}
	return out
}

// View returns a copy of the view with id.
func (s *Server) View(id string) (*View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[id]
	if !ok {
		return nil, false
	}
	return v.clone(), true
}

// Modal returns a copy of the top modal open for user, if any.
func (s *Server) Modal(userID string) (*View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stacks[userID]
	if len(st) == 0 {
		return nil, false
	}
	return s.views[st[len(st)-1]].clone(), true
}

// ModalStack returns copies of the modals open for user, bottom first.
func (s *Server) ModalStack(userID string) []*View {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*View
	for _, id := range s.stacks[userID] {
		out = append(out, s.views[id].clone())
	}
	return out
}

// Home returns a copy of the Home tab published for user, if any.
func (s *Server) Home(userID string) (*View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.homes[userID]
	if !ok {
		return nil, false
	}
	return s.views[id].clone(), true
}

// newView stores def as a new view for user. Call with s.mu held.
func (s *Server) newView(user string, def map[string]any) *View {
	id := fmt.Sprintf("V%08d", s.nextSeq())
	fillBlockIDs(blocksOf(def), s.genBlockID)
	t, _ := def["type"].(string)
	v := &View{ID: id, Type: t, User: user, RootViewID: id, Def: def}
	s.setDef(v, def)
	v.State = rebuildState(nil, v.blocks())
	s.views[id] = v
	return v
}

// setDef replaces v's definition (keeping entered values). Call with s.mu held.
func (s *Server) setDef(v *View, def map[string]any) {
	fillBlockIDs(blocksOf(def), s.genBlockID)
	v.Def = def
	v.CallbackID, _ = def["callback_id"].(string)
	v.PrivateMetadata, _ = def["private_metadata"].(string)
	v.ExternalID, _ = def["external_id"].(string)
	v.State = rebuildState(v.State, v.blocks())
	v.Hash = fmt.Sprintf("%d.%08x", s.clock.Now().Unix(), s.nextSeq())
	v.Errors = nil
}

func (s *Server) genBlockID() string { return fmt.Sprintf("gen%d", s.nextSeq()) }

func blocksOf(def map[string]any) []any {
	bs, _ := def["blocks"].([]any)
	return bs
}

// closeModal pops view id from its user's stack (and everything above it).
// Call with s.mu held.
func (s *Server) closeModal(id string) {
	v, ok := s.views[id]
	if !ok {
		return
	}
	st := s.stacks[v.User]
	i := slices.Index(st, id)
	if i < 0 {
		return
	}
	for _, x := range st[i:] {
		s.views[x].Closed = true
	}
	s.stacks[v.User] = st[:i]
}
