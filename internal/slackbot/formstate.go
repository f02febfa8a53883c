package slackbot

import (
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
)

// findState returns the value of actionID in the block whose ID is prefix
// or starts with prefix + "." (menus carry a hash suffix), and that block's
// ID.
func findState(v *slack.View, prefix, actionID string) (string, slack.BlockAction, bool) {
	if v == nil || v.State == nil {
		return "", slack.BlockAction{}, false
	}
	ids := make([]string, 0, len(v.State.Values))
	for id := range v.State.Values {
		ids = append(ids, id)
	}
	slices.Sort(ids) // deterministic if a crafted state repeats a prefix
	for _, id := range ids {
		if id != prefix && !strings.HasPrefix(id, prefix+".") {
			continue
		}
		if a, ok := v.State.Values[id][actionID]; ok {
			return id, a, true
		}
	}
	return "", slack.BlockAction{}, false
}

// stateText is a text input's value, trimmed.
func stateText(v *slack.View, blockID, actionID string) string {
	_, a, _ := findState(v, blockID, actionID)
	return strings.TrimSpace(a.Value)
}

// stateValues are a multi-select's chosen values.
func stateValues(v *slack.View, prefix, actionID string) (string, []string) {
	id, a, ok := findState(v, prefix, actionID)
	if !ok {
		return "", nil
	}
	out := make([]string, 0, len(a.SelectedOptions))
	for _, o := range a.SelectedOptions {
		if o.Value != "" && !slices.Contains(out, o.Value) {
			out = append(out, o.Value)
		}
	}
	return id, out
}

// durationField says which input a duration came from, for errors.
type durationField struct {
	blockID string
	value   time.Duration
	err     string
}

// stateDuration reads the duration inputs: a typed duration overrides the
// menu. ok is false when the form has no duration menu (not shown yet).
func stateDuration(v *slack.View) (durationField, bool) {
	menuID, menu, ok := findState(v, blockDuration, actionDuration)
	if !ok {
		return durationField{}, false
	}
	if typed := stateText(v, blockCustom, actionCustom); typed != "" {
		d, err := access.ParseDuration(typed)
		if err != nil {
			return durationField{blockID: blockCustom, err: upperFirst(err.Error()) + "."}, true
		}
		return durationField{blockID: blockCustom, value: d}, true
	}
	if menu.SelectedOption.Value == "" {
		return durationField{blockID: menuID, err: "Choose a duration."}, true
	}
	d, err := access.ParseDuration(menu.SelectedOption.Value)
	if err != nil {
		return durationField{blockID: menuID, err: "Choose one of the durations offered."}, true
	}
	return durationField{blockID: menuID, value: d}, true
}
