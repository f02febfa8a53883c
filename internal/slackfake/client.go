package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Errors of simulated user actions that Slack's client itself would not
// allow.
var (
	// ErrNotVisible: the user cannot see that view, message or element.
	ErrNotVisible = errors.New("slackfake: not visible to this user")
	// ErrRequiredMissing: a required input of the modal is empty; the
	// Slack client refuses to submit.
	ErrRequiredMissing = errors.New("slackfake: required input missing")
	// ErrQueryTooShort: a type-ahead query shorter than min_query_length
	// is not sent to the app.
	ErrQueryTooShort = errors.New("slackfake: query shorter than min_query_length")
	// ErrBadResponse: the app's acknowledgement is not something Slack
	// accepts; it is also recorded as a violation.
	ErrBadResponse = errors.New("slackfake: invalid response from the app")
)

// Target says where a clicked element is: InView or InMessage.
type Target struct {
	viewID, channel, ts string
}

// InView targets an element of a modal or Home tab.
func InView(viewID string) Target { return Target{viewID: viewID} }

// InMessage targets an element of a message.
func InMessage(channel, ts string) Target { return Target{channel: channel, ts: ts} }

// IssueTrigger returns a fresh trigger_id for user, as Slack issues one
// with each interaction (for crafted payloads).
func (s *Server) IssueTrigger(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueTrigger(userID)
}

func (s *Server) userRef(u *User) map[string]any {
	return map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": s.opts.TeamID}
}

func (s *Server) user(id string) (*User, error) {
	u, ok := s.users[id]
	if !ok || u.Deleted {
		return nil, fmt.Errorf("slackfake: unknown user %s", id)
	}
	return u, nil
}

// Command runs a slash command typed by user in their IM with the app.
func (s *Server) Command(ctx context.Context, userID, command, text string) (*Ack, error) {
	return s.CommandIn(ctx, userID, IMChannel(userID), command, text)
}

// CommandIn runs a slash command typed by user in channel. The app's
// answer (the ack body) is shown to the user as an ephemeral message.
func (s *Server) CommandIn(ctx context.Context, userID, channel, command, text string) (*Ack, error) {
	s.mu.Lock()
	u, err := s.user(userID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if strings.HasPrefix(channel, "D") {
		s.ensureIM(userID)
	}
	trig := s.issueTrigger(userID)
	fields := map[string]string{
		"token": "verification-token-unused", "team_id": s.opts.TeamID, "team_domain": "fake",
		"channel_id": channel, "channel_name": "directmessage", "user_id": u.ID, "user_name": u.Name,
		"command": command, "text": text, "api_app_id": s.opts.AppID, "is_enterprise_install": "false",
		"response_url": s.ts.URL + "/commands/" + trig, "trigger_id": trig,
	}
	s.mu.Unlock()
	ack, err := s.deliver(ctx, kindCommand, fields, 0)
	if ack != nil {
		ack.TriggerID = trig
	}
	if err != nil {
		return ack, err
	}
	return ack, s.applyCommandAck(userID, channel, ack.Body)
}

// SendCommand delivers a slash command with exactly these fields (a
// crafted request) and returns the raw ack.
func (s *Server) SendCommand(ctx context.Context, fields map[string]string) (*Ack, error) {
	return s.deliver(ctx, kindCommand, fields, 0)
}

func (s *Server) applyCommandAck(userID, channel string, body json.RawMessage) error {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return nil
	}
	var msg struct {
		Text         string          `json:"text"`
		Blocks       json.RawMessage `json:"blocks"`
		ResponseType string          `json:"response_type"`
	}
	if !strings.HasPrefix(trimmed, "{") {
		msg.Text = trimmed // a plain-text answer is shown as is
	} else if err := json.Unmarshal(body, &msg); err != nil {
		s.violationf("slash command answer is not JSON: %q", body)
		return ErrBadResponse
	}
	if msg.ResponseType != "" && msg.ResponseType != "ephemeral" && msg.ResponseType != "in_channel" {
		s.violationf("slash command answer has response_type %q", msg.ResponseType)
		return ErrBadResponse
	}
	if err := ValidateMessage(msg.Text, msg.Blocks); err != nil {
		s.violationf("slash command answer rejected: %v", err)
		return ErrBadResponse
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ephemerals = append(s.ephemerals, Ephemeral{User: userID, Channel: channel, Text: msg.Text, Blocks: msg.Blocks, Source: "command"})
	return nil
}

// locate finds an element for user at target. Call with s.mu held.
func (s *Server) locate(u *User, t Target, actionID string) (elementRef, *View, *Message, error) {
	if t.viewID != "" {
		v, ok := s.views[t.viewID]
		if !ok || v.User != u.ID || v.Closed {
			return elementRef{}, nil, nil, ErrNotVisible
		}
		if v.Type == "modal" && !slices.Contains(s.stacks[u.ID], v.ID) {
			return elementRef{}, nil, nil, ErrNotVisible
		}
		r, ok := findElement(v.blocks(), actionID)
		if !ok {
			return elementRef{}, nil, nil, fmt.Errorf("%w: no element %q in view %s", ErrNotVisible, actionID, v.ID)
		}
		return r, v, nil, nil
	}
	c, ok := s.channels[t.channel]
	if !ok || !slices.Contains(c.Members, u.ID) {
		return elementRef{}, nil, nil, ErrNotVisible
	}
	for _, m := range s.messages[t.channel] {
		if m.TS != t.ts {
			continue
		}
		var blocks []any
		if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
			return elementRef{}, nil, nil, ErrNotVisible
		}
		r, ok := findElement(blocks, actionID)
		if !ok {
			return elementRef{}, nil, nil, fmt.Errorf("%w: no element %q in message %s", ErrNotVisible, actionID, m.TS)
		}
		return r, nil, m, nil
	}
	return elementRef{}, nil, nil, ErrNotVisible
}

// actionPayload builds a block_actions payload. Call with s.mu held.
func (s *Server) actionPayload(u *User, v *View, m *Message, action map[string]any) (map[string]any, string) {
	trig := s.issueTrigger(u.ID)
	p := map[string]any{
		"type": "block_actions", "user": s.userRef(u), "api_app_id": s.opts.AppID, "token": "verification-token-unused",
		"team": map[string]any{"id": s.opts.TeamID, "domain": "fake"}, "trigger_id": trig,
		"is_enterprise_install": false, "enterprise": nil, "actions": []any{action},
	}
	if v != nil {
		p["container"] = map[string]any{"type": "view", "view_id": v.ID}
		p["view"] = v.payload(s.opts.TeamID, s.opts.AppID)
	} else {
		var blocks any
		_ = json.Unmarshal(m.Blocks, &blocks) //nolint:errcheck // blocks were validated when posted
		p["container"] = map[string]any{"type": "message", "message_ts": m.TS, "channel_id": m.Channel, "is_ephemeral": false}
		p["channel"] = map[string]any{"id": m.Channel, "name": "directmessage"}
		p["message"] = map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "blocks": blocks,
			"user": s.opts.BotUserID, "bot_id": "B0BOT"}
		p["state"] = map[string]any{"values": map[string]any{}}
		p["response_url"] = s.ts.URL + "/actions/" + trig
	}
	return p, trig
}

// Click presses the button actionID at t as user.
func (s *Server) Click(ctx context.Context, userID string, t Target, actionID string) (*Ack, error) {
	s.mu.Lock()
	u, err := s.user(userID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	r, v, m, err := s.locate(u, t, actionID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if r.elem["type"] != "button" {
		s.mu.Unlock()
		return nil, fmt.Errorf("slackfake: %s is a %v, not a button", actionID, r.elem["type"])
	}
	action := map[string]any{"type": "button", "action_id": actionID, "block_id": r.blockID, "text": r.elem["text"],
		"value": r.elem["value"], "action_ts": s.newTS()}
	if st, ok := r.elem["style"]; ok {
		action["style"] = st
	}
	p, trig := s.actionPayload(u, v, m, action)
	s.mu.Unlock()
	ack, err := s.deliver(ctx, kindInteractive, p, 0)
	if ack != nil {
		ack.TriggerID = trig
	}
	return ack, err
}

// TypeText enters text into the plain_text_input actionID of view.
func (s *Server) TypeText(userID, viewID, actionID, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.user(userID)
	if err != nil {
		return err
	}
	r, v, _, err := s.locate(u, InView(viewID), actionID)
	if err != nil {
		return err
	}
	if r.elem["type"] != "plain_text_input" {
		return fmt.Errorf("slackfake: %s is not a plain_text_input", actionID)
	}
	var val any = text
	if text == "" {
		val = nil
	}
	s.setState(v, r, map[string]any{"type": "plain_text_input", "value": val})
	return nil
}

func (s *Server) setState(v *View, r elementRef, st map[string]any) {
	aid, _ := r.elem["action_id"].(string)
	if v.State[r.blockID] == nil {
		v.State[r.blockID] = map[string]map[string]any{}
	}
	v.State[r.blockID][aid] = st
}

// dispatches reports whether changing the element sends block_actions.
func dispatches(r elementRef) bool { return !r.inInput || r.dispatch }

// SelectOptions picks options (by value) of a static select or
// multi-select in view; when the element dispatches actions (outside an
// input block, or with dispatch_action) the app gets block_actions and the
// ack is returned, else the ack is nil.
func (s *Server) SelectOptions(ctx context.Context, userID, viewID, actionID string, values ...string) (*Ack, error) {
	s.mu.Lock()
	u, err := s.user(userID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	r, v, _, err := s.locate(u, InView(viewID), actionID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	opts := optionsOf(r.elem)
	var chosen []any
	for _, val := range values {
		i := slices.IndexFunc(opts, func(o map[string]any) bool { return o["value"] == val })
		if i < 0 {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: option %q is not offered by %s", ErrNotVisible, val, actionID)
		}
		chosen = append(chosen, opts[i])
	}
	s.mu.Unlock()
	return s.choose(ctx, u, v.ID, r, chosen)
}

// choose records chosen options in the element's state and dispatches.
func (s *Server) choose(ctx context.Context, u *User, viewID string, r elementRef, chosen []any) (*Ack, error) {
	s.mu.Lock()
	v, ok := s.views[viewID]
	if !ok || v.Closed {
		s.mu.Unlock()
		return nil, ErrNotVisible
	}
	t, _ := r.elem["type"].(string)
	aid, _ := r.elem["action_id"].(string)
	st := map[string]any{"type": t}
	action := map[string]any{"type": t, "action_id": aid, "block_id": r.blockID, "action_ts": s.newTS()}
	if strings.HasPrefix(t, "multi_") {
		if chosen == nil {
			chosen = []any{}
		}
		st["selected_options"], action["selected_options"] = chosen, chosen
	} else {
		if len(chosen) != 1 {
			s.mu.Unlock()
			return nil, fmt.Errorf("slackfake: %s takes exactly one option", aid)
		}
		st["selected_option"], action["selected_option"] = chosen[0], chosen[0]
	}
	s.setState(v, r, st)
	if !dispatches(r) {
		s.mu.Unlock()
		return nil, nil //nolint:nilnil // no request is sent when the element does not dispatch
	}
	p, trig := s.actionPayload(u, v, nil, action)
	s.mu.Unlock()
	ack, err := s.deliver(ctx, kindInteractive, p, 0)
	if ack != nil {
		ack.TriggerID = trig
	}
	return ack, err
}

// Suggest types query into the external select actionID of view and
// returns the options the app offered (Slack's block_suggestion).
func (s *Server) Suggest(ctx context.Context, userID, viewID, actionID, query string) ([]map[string]any, *Ack, error) {
	s.mu.Lock()
	u, err := s.user(userID)
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	r, v, _, err := s.locate(u, InView(viewID), actionID)
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	t, _ := r.elem["type"].(string)
	if t != "external_select" && t != "multi_external_select" {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("slackfake: %s is not an external select", actionID)
	}
	minLen := 3 // Slack's default min_query_length
	if f, ok := r.elem["min_query_length"].(float64); ok {
		minLen = int(f)
	}
	if len([]rune(query)) < minLen {
		s.mu.Unlock()
		return nil, nil, ErrQueryTooShort
	}
	p := map[string]any{
		"type": "block_suggestion", "user": s.userRef(u), "container": map[string]any{"type": "view", "view_id": v.ID},
		"api_app_id": s.opts.AppID, "token": "verification-token-unused", "action_id": actionID, "block_id": r.blockID,
		"value": query, "team": map[string]any{"id": s.opts.TeamID, "domain": "fake"},
		"view": v.payload(s.opts.TeamID, s.opts.AppID), "is_enterprise_install": false,
	}
	s.mu.Unlock()
	ack, err := s.deliver(ctx, kindOptions, p, 0)
	if err != nil {
		return nil, ack, err
	}
	opts, err := s.checkOptions(ack.Body)
	return opts, ack, err
}

// checkOptions validates an options response as Slack does.
func (s *Server) checkOptions(body json.RawMessage) ([]map[string]any, error) {
	var resp map[string]any
	if err := json.Unmarshal(body, &resp); err != nil {
		s.violationf("options response is not JSON: %q", body)
		return nil, ErrBadResponse
	}
	el := map[string]any{"type": "static_select"}
	_, hasOpts := resp["options"]
	_, hasGroups := resp["option_groups"]
	switch {
	case hasOpts && !hasGroups:
		el["options"] = resp["options"]
		if xs, _ := resp["options"].([]any); len(xs) == 0 {
			return nil, nil // an empty list is fine: "no results"
		}
	case hasGroups && !hasOpts:
		el["option_groups"] = resp["option_groups"]
	default:
		s.violationf("options response needs exactly one of options or option_groups: %s", body)
		return nil, ErrBadResponse
	}
	v := newValidator(SurfaceModal)
	opts := v.staticOptions("/options_response", el)
	if err := v.err(); err != nil {
		s.violationf("options response rejected: %v", err)
		return nil, ErrBadResponse
	}
	return opts, nil
}

// SelectExternal types query into the external select actionID, then
// picks the offered option with value; the app gets block_suggestion and
// (when the element dispatches) block_actions.
func (s *Server) SelectExternal(ctx context.Context, userID, viewID, actionID, query string, values ...string) (*Ack, error) {
	opts, _, err := s.Suggest(ctx, userID, viewID, actionID, query)
	if err != nil {
		return nil, err
	}
	var chosen []any
	for _, val := range values {
		i := slices.IndexFunc(opts, func(o map[string]any) bool { return o["value"] == val })
		if i < 0 {
			return nil, fmt.Errorf("%w: %q was not among the %d suggestions for %q", ErrNotVisible, val, len(opts), query)
		}
		chosen = append(chosen, opts[i])
	}
	s.mu.Lock()
	u, uerr := s.user(userID)
	if uerr != nil {
		s.mu.Unlock()
		return nil, uerr
	}
	r, _, _, lerr := s.locate(u, InView(viewID), actionID)
	s.mu.Unlock()
	if lerr != nil {
		return nil, lerr
	}
	return s.choose(ctx, u, viewID, r, chosen)
}

// Submit presses the submit button of the user's modal viewID and applies
// the app's response_action.
func (s *Server) Submit(ctx context.Context, userID, viewID string) (*Ack, error) {
	s.mu.Lock()
	u, err := s.user(userID)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	v, ok := s.views[viewID]
	st := s.stacks[userID]
	if !ok || v.Closed || len(st) == 0 || st[len(st)-1] != viewID {
		s.mu.Unlock()
		return nil, ErrNotVisible
	}
	if v.Def["submit"] == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("slackfake: view %s has no submit button", viewID)
	}
	if miss := missingRequired(v); len(miss) > 0 {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrRequiredMissing, strings.Join(miss, ", "))
	}
	trig := s.issueTrigger(userID)
	p := map[string]any{
		"type": "view_submission", "team": map[string]any{"id": s.opts.TeamID, "domain": "fake"}, "user": s.userRef(u),
		"api_app_id": s.opts.AppID, "token": "verification-token-unused", "trigger_id": trig,
		"view": v.payload(s.opts.TeamID, s.opts.AppID), "response_urls": []any{}, "is_enterprise_install": false,
	}
	s.mu.Unlock()
	ack, err := s.deliver(ctx, kindInteractive, p, 0)
	if ack != nil {
		ack.TriggerID = trig
	}
	if err != nil {
		return ack, err
	}
	return ack, s.applySubmission(viewID, ack.Body)
}

// applySubmission applies a view_submission ack to the modal stack.
func (s *Server) applySubmission(viewID string, body json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.views[viewID]
	if strings.TrimSpace(string(body)) == "" {
		s.closeModal(viewID)
		return nil
	}
	var resp struct {
		ResponseAction string            `json:"response_action"`
		View           json.RawMessage   `json:"view"`
		Errors         map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		s.violationLockedf("view_submission response is not JSON: %q", body)
		return ErrBadResponse
	}
	switch resp.ResponseAction {
	case "":
		s.closeModal(viewID)
	case "clear":
		if st := s.stacks[v.User]; len(st) > 0 {
			s.closeModal(st[0])
		}
	case "errors":
		inputs := inputBlockIDs(v)
		if len(resp.Errors) == 0 {
			s.violationLockedf("response_action errors without errors")
			return ErrBadResponse
		}
		for k := range resp.Errors {
			if !slices.Contains(inputs, k) {
				s.violationLockedf("response_action errors names %q, which is not an input block of view %s (inputs: %v)", k, viewID, inputs)
				return ErrBadResponse
			}
		}
		v.Errors = resp.Errors
	case "update", "push":
		if err := ValidateView(resp.View); err != nil {
			s.violationLockedf("response_action %s view rejected: %v", resp.ResponseAction, err)
			return ErrBadResponse
		}
		var def map[string]any
		if err := json.Unmarshal(resp.View, &def); err != nil || def["type"] != "modal" {
			s.violationLockedf("response_action %s needs a modal view", resp.ResponseAction)
			return ErrBadResponse
		}
		if resp.ResponseAction == "update" {
			s.setDef(v, def)
			return nil
		}
		st := s.stacks[v.User]
		if len(st) >= MaxModalStack {
			s.violationLockedf("response_action push over the stack limit of %d", MaxModalStack)
			return ErrBadResponse
		}
		nv := s.newView(v.User, def)
		nv.RootViewID, nv.PreviousViewID = st[0], st[len(st)-1]
		s.stacks[v.User] = append(st, nv.ID)
	default:
		s.violationLockedf("unknown response_action %q", resp.ResponseAction)
		return ErrBadResponse
	}
	return nil
}

// CloseModal closes the user's modal viewID (the user pressed Cancel).
func (s *Server) CloseModal(userID, viewID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.views[viewID]; ok && v.User == userID {
		s.closeModal(viewID)
	}
}

// SendInteraction delivers an interaction payload exactly as given (a
// crafted request: nothing checks the user could see what it names).
func (s *Server) SendInteraction(ctx context.Context, payload map[string]any) (*Ack, error) {
	kind := kindInteractive
	if payload["type"] == "block_suggestion" {
		kind = kindOptions
	}
	return s.deliver(ctx, kind, payload, 0)
}

// HomeOpenedEvent returns the app_home_opened Events API payload for user.
func (s *Server) HomeOpenedEvent(userID string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := map[string]any{"type": "app_home_opened", "user": userID, "channel": IMChannel(userID), "tab": "home",
		"event_ts": s.newTS()}
	if id, ok := s.homes[userID]; ok {
		ev["view"] = s.views[id].payload(s.opts.TeamID, s.opts.AppID)
	}
	return map[string]any{
		"token": "verification-token-unused", "team_id": s.opts.TeamID, "api_app_id": s.opts.AppID, "event": ev,
		"type": "event_callback", "event_id": "Ev" + strconv.FormatInt(s.nextSeq(), 10),
		"event_time": s.clock.Now().Unix(), "event_context": "ctx",
		"authorizations": []any{map[string]any{"team_id": s.opts.TeamID, "user_id": s.opts.BotUserID, "is_bot": true}},
	}
}

// OpenHome simulates user opening the app's Home tab.
func (s *Server) OpenHome(ctx context.Context, userID string) (*Ack, error) {
	return s.SendEvent(ctx, s.HomeOpenedEvent(userID), 0)
}

// SendEvent delivers an Events API payload; retry > 0 marks it as Slack's
// retry number retry (X-Slack-Retry-Num / retry_attempt).
func (s *Server) SendEvent(ctx context.Context, payload map[string]any, retry int) (*Ack, error) {
	return s.deliver(ctx, kindEvent, payload, retry)
}

// URLVerification sends the Events API url_verification challenge and
// returns the ack.
func (s *Server) URLVerification(ctx context.Context, challenge string) (*Ack, error) {
	return s.deliver(ctx, kindEvent, map[string]any{"token": "verification-token-unused", "challenge": challenge,
		"type": "url_verification"}, 0)
}
