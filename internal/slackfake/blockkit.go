package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Surface is where blocks are shown; limits differ.
type Surface string

// Surfaces.
const (
	SurfaceMessage Surface = "message"
	SurfaceModal   Surface = "modal"
	SurfaceHome    Surface = "home"
)

// Block Kit limits from Slack's reference (docs.slack.dev/reference/block-kit).
const (
	MaxMessageBlocks     = 50
	MaxViewBlocks        = 100
	MaxMessageText       = 40000
	MaxSectionText       = 3000
	MaxSectionFields     = 10
	MaxFieldText         = 2000
	MaxHeaderText        = 150
	MaxContextElements   = 10
	MaxActionsElements   = 25
	MaxButtonText        = 75
	MaxButtonValue       = 2000
	MaxURL               = 3000
	MaxOptionText        = 75
	MaxOptionValue       = 150
	MaxOptionDescription = 75
	MaxOptions           = 100
	MaxOptionGroups      = 100
	MaxOverflowOptions   = 5
	MaxPlaceholder       = 150
	MaxLabel             = 2000
	MaxHint              = 2000
	MaxID                = 255
	MaxModalTitle        = 24
	MaxModalButton       = 24
	MaxPrivateMetadata   = 3000
	MaxInputLength       = 3000
	MaxConfirmTitle      = 100
	MaxConfirmText       = 300
	MaxConfirmButton     = 30
	MaxImageAlt          = 2000
)

type validator struct {
	surface   Surface
	errs      []string
	blockIDs  map[string]bool
	actionIDs map[string]bool
	hasInput  bool
}

func newValidator(s Surface) *validator {
	return &validator{surface: s, blockIDs: map[string]bool{}, actionIDs: map[string]bool{}}
}

// errorf records an error in Slack's format: "[ERROR] msg [json-pointer:/path]".
func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf("[ERROR] %s [json-pointer:%s]", fmt.Sprintf(format, args...), path))
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return &BlockError{Messages: v.errs}
}

// BlockError lists what Slack would reject in a view or message.
type BlockError struct{ Messages []string }

func (e *BlockError) Error() string { return "invalid blocks: " + strings.Join(e.Messages, "; ") }

// ValidateMessage checks a message (text and blocks) as chat.postMessage
// would.
func ValidateMessage(text string, blocks json.RawMessage) error {
	v := newValidator(SurfaceMessage)
	v.message(text, blocks)
	return v.err()
}

// ValidateView checks a modal or Home tab view (JSON) as views.open or
// views.publish would.
func ValidateView(view json.RawMessage) error {
	var m map[string]any
	if err := json.Unmarshal(view, &m); err != nil {
		return fmt.Errorf("invalid view json: %w", err)
	}
	switch m["type"] {
	case "modal":
		v := newValidator(SurfaceModal)
		v.modal(m)
		return v.err()
	case "home":
		v := newValidator(SurfaceHome)
		v.home(m)
		return v.err()
	}
	return errors.New("[ERROR] view type must be modal or home [json-pointer:/view/type]")
}

func (v *validator) message(text string, raw json.RawMessage) {
	if utf8.RuneCountInString(text) > MaxMessageText {
		v.errorf("/text", "must be less than %d characters", MaxMessageText+1)
	}
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var blocks []any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		v.errorf("/blocks", "must be an array of blocks")
		return
	}
	if len(blocks) > MaxMessageBlocks {
		v.errorf("/blocks", "must contain at most %d blocks", MaxMessageBlocks)
	}
	v.blocks("/blocks", blocks)
}

func (v *validator) modal(m map[string]any) {
	v.keys("/view", m, "type", "title", "blocks", "close", "submit", "private_metadata", "callback_id",
		"clear_on_close", "notify_on_close", "external_id", "submit_disabled")
	if m["title"] == nil {
		v.errorf("/view/title", "is required")
	} else {
		v.text("/view/title", m["title"], plainOnly, MaxModalTitle)
	}
	if m["close"] != nil {
		v.text("/view/close", m["close"], plainOnly, MaxModalButton)
	}
	if m["submit"] != nil {
		v.text("/view/submit", m["submit"], plainOnly, MaxModalButton)
	}
	v.viewCommon(m, MaxViewBlocks)
	if v.hasInput && m["submit"] == nil {
		v.errorf("/view/submit", "is required when the view has input blocks")
	}
}

func (v *validator) home(m map[string]any) {
	v.keys("/view", m, "type", "blocks", "private_metadata", "callback_id", "external_id")
	v.viewCommon(m, MaxViewBlocks)
}

func (v *validator) viewCommon(m map[string]any, maxBlocks int) {
	v.optString("/view/private_metadata", m["private_metadata"], 0, MaxPrivateMetadata)
	v.optString("/view/callback_id", m["callback_id"], 0, MaxID)
	v.optString("/view/external_id", m["external_id"], 0, MaxID)
	blocks, ok := m["blocks"].([]any)
	if !ok {
		v.errorf("/view/blocks", "is required and must be an array")
		return
	}
	if len(blocks) > maxBlocks {
		v.errorf("/view/blocks", "must contain at most %d blocks", maxBlocks)
	}
	v.blocks("/view/blocks", blocks)
}

func (v *validator) blocks(path string, blocks []any) {
	for i, b := range blocks {
		v.block(fmt.Sprintf("%s/%d", path, i), b)
	}
}

func (v *validator) block(path string, raw any) {
	b, ok := raw.(map[string]any)
	if !ok {
		v.errorf(path, "must be an object")
		return
	}
	if id, ok := b["block_id"]; ok {
		s, isStr := id.(string)
		switch {
		case !isStr || s == "":
			v.errorf(path+"/block_id", "must be a non-empty string")
		case utf8.RuneCountInString(s) > MaxID:
			v.errorf(path+"/block_id", "must be less than %d characters", MaxID+1)
		case v.blockIDs[s]:
			v.errorf(path+"/block_id", "duplicate block_id %q", s)
		default:
			v.blockIDs[s] = true
		}
	}
	switch t, _ := b["type"].(string); t {
	case "section":
		v.keys(path, b, "type", "block_id", "text", "fields", "accessory", "expand")
		fields, hasFields := b["fields"].([]any)
		if b["text"] == nil && !hasFields {
			v.errorf(path, "a section needs text or fields")
		}
		if b["text"] != nil {
			v.text(path+"/text", b["text"], anyText, MaxSectionText)
		}
		if hasFields {
			if len(fields) == 0 || len(fields) > MaxSectionFields {
				v.errorf(path+"/fields", "must have 1 to %d items", MaxSectionFields)
			}
			for i, f := range fields {
				v.text(fmt.Sprintf("%s/fields/%d", path, i), f, anyText, MaxFieldText)
			}
		}
		if b["accessory"] != nil {
			v.element(path+"/accessory", b["accessory"], accessoryTypes())
		}
	case "divider":
		v.keys(path, b, "type", "block_id")
	case "header":
		v.keys(path, b, "type", "block_id", "text")
		v.text(path+"/text", b["text"], plainOnly, MaxHeaderText)
	case "context":
		v.keys(path, b, "type", "block_id", "elements")
		els, _ := b["elements"].([]any)
		if len(els) == 0 || len(els) > MaxContextElements {
			v.errorf(path+"/elements", "must have 1 to %d items", MaxContextElements)
		}
		for i, e := range els {
			p := fmt.Sprintf("%s/elements/%d", path, i)
			if m, ok := e.(map[string]any); ok && m["type"] == "image" {
				v.image(p, m)
				continue
			}
			v.text(p, e, anyText, MaxSectionText)
		}
	case "actions":
		v.keys(path, b, "type", "block_id", "elements")
		els, _ := b["elements"].([]any)
		if len(els) == 0 || len(els) > MaxActionsElements {
			v.errorf(path+"/elements", "must have 1 to %d items", MaxActionsElements)
		}
		for i, e := range els {
			v.element(fmt.Sprintf("%s/elements/%d", path, i), e, actionsTypes())
		}
	case "input":
		v.hasInput = true
		v.keys(path, b, "type", "block_id", "label", "element", "hint", "optional", "dispatch_action")
		v.text(path+"/label", b["label"], plainOnly, MaxLabel)
		if b["hint"] != nil {
			v.text(path+"/hint", b["hint"], plainOnly, MaxHint)
		}
		v.optBool(path+"/optional", b["optional"])
		v.optBool(path+"/dispatch_action", b["dispatch_action"])
		if b["element"] == nil {
			v.errorf(path+"/element", "is required")
		} else {
			v.element(path+"/element", b["element"], inputTypes())
		}
	case "image":
		v.image(path, b)
	default:
		v.errorf(path+"/type", "unsupported block type %q", t)
	}
}

func (v *validator) image(path string, m map[string]any) {
	v.keys(path, m, "type", "block_id", "image_url", "alt_text", "title")
	v.optString(path+"/image_url", m["image_url"], 1, MaxURL)
	v.optString(path+"/alt_text", m["alt_text"], 1, MaxImageAlt)
}

// Element types allowed as a section accessory, in an actions block, and
// in an input block.
func accessoryTypes() []string {
	return []string{"button", "static_select", "external_select", "multi_static_select", "multi_external_select",
		"users_select", "multi_users_select", "overflow", "datepicker", "image", "checkboxes", "radio_buttons"}
}

func actionsTypes() []string {
	return []string{"button", "static_select", "external_select", "multi_static_select", "multi_external_select",
		"users_select", "multi_users_select", "overflow", "datepicker", "checkboxes", "radio_buttons"}
}

func inputTypes() []string {
	return []string{"plain_text_input", "static_select", "external_select", "multi_static_select",
		"multi_external_select", "users_select", "multi_users_select", "datepicker", "checkboxes", "radio_buttons", "number_input"}
}

// actionID checks an element's optional action_id.
func (v *validator) actionID(path string, m map[string]any) {
	raw, ok := m["action_id"]
	if !ok {
		return
	}
	s, isStr := raw.(string)
	switch {
	case !isStr || s == "":
		v.errorf(path+"/action_id", "must be a non-empty string")
	case utf8.RuneCountInString(s) > MaxID:
		v.errorf(path+"/action_id", "must be less than %d characters", MaxID+1)
	case v.actionIDs[s]:
		v.errorf(path+"/action_id", "duplicate action_id %q", s)
	default:
		v.actionIDs[s] = true
	}
}

func (v *validator) element(path string, raw any, allowed []string) {
	m, ok := raw.(map[string]any)
	if !ok {
		v.errorf(path, "must be an object")
		return
	}
	t, _ := m["type"].(string)
	if !slices.Contains(allowed, t) {
		v.errorf(path+"/type", "element type %q is not allowed here", t)
		return
	}
	switch t {
	case "button":
		v.keys(path, m, "type", "text", "action_id", "url", "value", "style", "confirm", "accessibility_label")
		v.actionID(path, m)
		v.text(path+"/text", m["text"], plainOnly, MaxButtonText)
		v.optString(path+"/value", m["value"], 1, MaxButtonValue)
		v.optString(path+"/url", m["url"], 1, MaxURL)
		if s, ok := m["style"]; ok && s != "primary" && s != "danger" {
			v.errorf(path+"/style", "must be primary or danger")
		}
		v.confirm(path, m)
	case "static_select", "multi_static_select":
		v.keys(path, m, "type", "placeholder", "action_id", "options", "option_groups", "initial_option",
			"initial_options", "confirm", "focus_on_load", "max_selected_items")
		v.actionID(path, m)
		v.placeholder(path, m)
		opts := v.staticOptions(path, m)
		v.initialOptions(path, m, t == "multi_static_select", opts)
		v.confirm(path, m)
	case "external_select", "multi_external_select":
		v.keys(path, m, "type", "placeholder", "action_id", "initial_option", "initial_options",
			"min_query_length", "confirm", "focus_on_load", "max_selected_items")
		v.actionID(path, m)
		v.placeholder(path, m)
		if q, ok := m["min_query_length"]; ok {
			if f, isNum := q.(float64); !isNum || f < 0 {
				v.errorf(path+"/min_query_length", "must be a non-negative integer")
			}
		}
		v.initialOptions(path, m, t == "multi_external_select", nil)
		v.confirm(path, m)
	case "plain_text_input":
		v.keys(path, m, "type", "action_id", "placeholder", "initial_value", "multiline", "min_length",
			"max_length", "dispatch_action_config", "focus_on_load")
		v.actionID(path, m)
		v.placeholder(path, m)
		minLen, maxLen := 0.0, float64(MaxInputLength)
		if x, ok := m["min_length"].(float64); ok {
			if x < 0 || x > MaxInputLength {
				v.errorf(path+"/min_length", "must be between 0 and %d", MaxInputLength)
			}
			minLen = x
		}
		if x, ok := m["max_length"].(float64); ok {
			if x < 1 || x > MaxInputLength {
				v.errorf(path+"/max_length", "must be between 1 and %d", MaxInputLength)
			}
			maxLen = x
		}
		if minLen > maxLen {
			v.errorf(path+"/min_length", "must not exceed max_length")
		}
		if s, ok := m["initial_value"].(string); ok && float64(utf8.RuneCountInString(s)) > maxLen {
			v.errorf(path+"/initial_value", "is longer than max_length")
		}
	case "overflow":
		v.keys(path, m, "type", "action_id", "options", "confirm")
		v.actionID(path, m)
		opts, _ := m["options"].([]any)
		if len(opts) < 2 || len(opts) > MaxOverflowOptions {
			v.errorf(path+"/options", "must have 2 to %d items", MaxOverflowOptions)
		}
		for i, o := range opts {
			v.option(fmt.Sprintf("%s/options/%d", path, i), o)
		}
	case "image":
		v.keys(path, m, "type", "image_url", "alt_text")
		v.optString(path+"/image_url", m["image_url"], 1, MaxURL)
		v.optString(path+"/alt_text", m["alt_text"], 1, MaxImageAlt)
	default:
		v.actionID(path, m)
	}
}

func (v *validator) placeholder(path string, m map[string]any) {
	if m["placeholder"] != nil {
		v.text(path+"/placeholder", m["placeholder"], plainOnly, MaxPlaceholder)
	}
}

func (v *validator) confirm(path string, m map[string]any) {
	c, ok := m["confirm"].(map[string]any)
	if !ok {
		if m["confirm"] != nil {
			v.errorf(path+"/confirm", "must be an object")
		}
		return
	}
	p := path + "/confirm"
	v.keys(p, c, "title", "text", "confirm", "deny", "style")
	v.text(p+"/title", c["title"], plainOnly, MaxConfirmTitle)
	v.text(p+"/text", c["text"], anyText, MaxConfirmText)
	v.text(p+"/confirm", c["confirm"], plainOnly, MaxConfirmButton)
	v.text(p+"/deny", c["deny"], plainOnly, MaxConfirmButton)
}

// staticOptions validates options or option_groups and returns the option
// objects.
func (v *validator) staticOptions(path string, m map[string]any) []map[string]any {
	opts, hasOpts := m["options"].([]any)
	groups, hasGroups := m["option_groups"].([]any)
	if hasOpts == hasGroups {
		v.errorf(path, "exactly one of options or option_groups is required")
		return nil
	}
	var out []map[string]any
	if hasOpts {
		if len(opts) == 0 || len(opts) > MaxOptions {
			v.errorf(path+"/options", "must have 1 to %d items", MaxOptions)
		}
		for i, o := range opts {
			if om := v.option(fmt.Sprintf("%s/options/%d", path, i), o); om != nil {
				out = append(out, om)
			}
		}
		return out
	}
	if len(groups) == 0 || len(groups) > MaxOptionGroups {
		v.errorf(path+"/option_groups", "must have 1 to %d items", MaxOptionGroups)
	}
	for i, g := range groups {
		gp := fmt.Sprintf("%s/option_groups/%d", path, i)
		gm, ok := g.(map[string]any)
		if !ok {
			v.errorf(gp, "must be an object")
			continue
		}
		v.keys(gp, gm, "label", "options")
		v.text(gp+"/label", gm["label"], plainOnly, MaxOptionText)
		gopts, _ := gm["options"].([]any)
		if len(gopts) == 0 || len(gopts) > MaxOptions {
			v.errorf(gp+"/options", "must have 1 to %d items", MaxOptions)
		}
		for j, o := range gopts {
			if om := v.option(fmt.Sprintf("%s/options/%d", gp, j), o); om != nil {
				out = append(out, om)
			}
		}
	}
	return out
}

// initialOptions checks initial_option(s); for static menus (known != nil)
// each must be one of the options, as Slack requires.
func (v *validator) initialOptions(path string, m map[string]any, multi bool, known []map[string]any) {
	check := func(p string, o any) {
		om := v.option(p, o)
		if om == nil || known == nil {
			return
		}
		if !slices.ContainsFunc(known, func(k map[string]any) bool { return sameOption(k, om) }) {
			v.errorf(p, "must match one of the options")
		}
	}
	if multi {
		if _, ok := m["initial_option"]; ok {
			v.errorf(path+"/initial_option", "is not allowed on a multi-select (use initial_options)")
		}
		if raw, ok := m["initial_options"]; ok {
			list, isList := raw.([]any)
			if !isList {
				v.errorf(path+"/initial_options", "must be an array")
			}
			for i, o := range list {
				check(fmt.Sprintf("%s/initial_options/%d", path, i), o)
			}
		}
		if x, ok := m["max_selected_items"]; ok {
			if f, isNum := x.(float64); !isNum || f < 1 {
				v.errorf(path+"/max_selected_items", "must be at least 1")
			}
		}
		return
	}
	if _, ok := m["initial_options"]; ok {
		v.errorf(path+"/initial_options", "is only allowed on multi-selects")
	}
	if _, ok := m["max_selected_items"]; ok {
		v.errorf(path+"/max_selected_items", "is only allowed on multi-selects")
	}
	if raw, ok := m["initial_option"]; ok {
		check(path+"/initial_option", raw)
	}
}

func sameOption(a, b map[string]any) bool {
	ta, _ := a["text"].(map[string]any)
	tb, _ := b["text"].(map[string]any)
	return a["value"] == b["value"] && ta != nil && tb != nil && ta["text"] == tb["text"]
}

// option validates an option object and returns it.
func (v *validator) option(path string, raw any) map[string]any {
	m, ok := raw.(map[string]any)
	if !ok {
		v.errorf(path, "must be an object")
		return nil
	}
	v.keys(path, m, "text", "value", "description", "url")
	v.text(path+"/text", m["text"], plainOnly, MaxOptionText)
	if s, ok := m["value"].(string); !ok || s == "" {
		v.errorf(path+"/value", "is required")
	} else if utf8.RuneCountInString(s) > MaxOptionValue {
		v.errorf(path+"/value", "must be less than %d characters", MaxOptionValue+1)
	}
	if m["description"] != nil {
		v.text(path+"/description", m["description"], plainOnly, MaxOptionDescription)
	}
	return m
}

type textKind int

const (
	anyText textKind = iota
	plainOnly
)

// text validates a text object of at most max characters.
func (v *validator) text(path string, raw any, kind textKind, maxLen int) {
	m, ok := raw.(map[string]any)
	if !ok {
		v.errorf(path, "must be a text object")
		return
	}
	t, _ := m["type"].(string)
	switch {
	case t == "plain_text":
		v.keys(path, m, "type", "text", "emoji")
	case t == "mrkdwn" && kind == anyText:
		v.keys(path, m, "type", "text", "verbatim")
	default:
		if kind == plainOnly {
			v.errorf(path+"/type", "must be plain_text")
		} else {
			v.errorf(path+"/type", "must be plain_text or mrkdwn")
		}
		return
	}
	s, isStr := m["text"].(string)
	n := utf8.RuneCountInString(s)
	switch {
	case !isStr || n == 0:
		v.errorf(path+"/text", "must be at least 1 character")
	case n > maxLen:
		v.errorf(path+"/text", "must be less than %d characters", maxLen+1)
	}
}

func (v *validator) optString(path string, raw any, minLen, maxLen int) {
	if raw == nil {
		return
	}
	s, ok := raw.(string)
	if !ok {
		v.errorf(path, "must be a string")
		return
	}
	n := utf8.RuneCountInString(s)
	if n < minLen {
		v.errorf(path, "must be at least %d characters", minLen)
	}
	if n > maxLen {
		v.errorf(path, "must be less than %d characters", maxLen+1)
	}
}

func (v *validator) optBool(path string, raw any) {
	if raw == nil {
		return
	}
	if _, ok := raw.(bool); !ok {
		v.errorf(path, "must be a boolean")
	}
}

// keys rejects properties outside allowed (Slack's schemas have
// additionalProperties: false).
func (v *validator) keys(path string, m map[string]any, allowed ...string) {
	for k := range m {
		if !slices.Contains(allowed, k) {
			v.errorf(path+"/"+k, "unexpected property %q", k)
		}
	}
}

// BlockText returns the visible texts of blocks, one per line, for
// assertions on what a user reads.
func BlockText(raw json.RawMessage) string {
	var blocks []any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return ""
	}
	var b strings.Builder
	var walk func(x any)
	walk = func(x any) {
		switch t := x.(type) {
		case map[string]any:
			if s, ok := t["text"].(string); ok && (t["type"] == "plain_text" || t["type"] == "mrkdwn") {
				b.WriteString(s)
				b.WriteByte('\n')
				return
			}
			for _, k := range []string{"text", "fields", "elements", "accessory", "label", "element", "hint"} {
				if c, ok := t[k]; ok {
					walk(c)
				}
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	walk(blocks)
	return b.String()
}
