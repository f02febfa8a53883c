package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// apiError is an ok:false answer.
type apiError struct {
	code     string
	messages []string
	extra    map[string]any
}

func (e *apiError) Error() string { return e.code }

func fail(code string, messages ...string) *apiError {
	return &apiError{code: code, messages: messages}
}

type args map[string]any

func (a args) str(k string) string {
	switch v := a[k].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
}

// obj returns argument k as an object: JSON objects as they are, strings
// parsed as JSON (form-encoded arguments).
func (a args) obj(k string) (map[string]any, bool) {
	switch v := a[k].(type) {
	case map[string]any:
		return v, true
	case string:
		var m map[string]any
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			return nil, false
		}
		return m, true
	}
	return nil, false
}

// raw returns argument k as JSON (strings taken as JSON text).
func (a args) raw(k string) json.RawMessage {
	switch v := a[k].(type) {
	case nil:
		return nil
	case string:
		return json.RawMessage(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil
		}
		return b
	}
}

const maxBody = 2 << 20

// parseArgs reads form or JSON arguments and the token (Bearer header or
// "token" argument).
func parseArgs(r *http.Request) (args, string, error) {
	a := args{}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, "", err
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		ct = ""
	}
	switch {
	case r.Method == http.MethodGet:
		for k, v := range r.URL.Query() {
			a[k] = v[0]
		}
	case ct == "application/json":
		if len(body) > 0 {
			if err := json.Unmarshal(body, &a); err != nil {
				return nil, "", errors.New("invalid_json")
			}
		}
	default:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, "", errors.New("invalid_form_data")
		}
		for k, v := range vals {
			a[k] = v[0]
		}
	}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" {
		token = a.str("token")
	}
	delete(a, "token")
	return a, token, nil
}

// methodScopes names the bot scope each method needs ("" for none).
func methodScopes() map[string]string {
	return map[string]string{
		"auth.test":             "",
		"apps.connections.open": "",
		"chat.postMessage":      "chat:write",
		"chat.update":           "chat:write",
		"chat.postEphemeral":    "chat:write",
		"conversations.open":    "im:write",
		"views.open":            "",
		"views.push":            "",
		"views.update":          "",
		"views.publish":         "",
		"users.info":            "users:read",
		"users.lookupByEmail":   "users:read.email",
	}
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	a, token, perr := parseArgs(r)
	call := Call{Method: method, Args: map[string]string{}, At: s.clock.Now(), Status: http.StatusOK}
	for k := range a {
		call.Args[k] = a.str(k)
	}
	resp, err := s.dispatch(method, a, token, perr, &call)
	if call.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(int(call.RetryAfter.Seconds())))
	}
	if err != nil {
		call.Error = err.code
		resp = map[string]any{"ok": false, "error": err.code}
		if len(err.messages) > 0 {
			resp["response_metadata"] = map[string]any{"messages": err.messages}
		}
		maps.Copy(resp, err.extra)
	} else {
		call.OK = true
		resp["ok"] = true
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(call.Status)
	if call.Status >= 500 {
		_, _ = io.WriteString(w, "<html>server error</html>") //nolint:errcheck // test server
		return
	}
	if err := json.NewEncoder(w).Encode(resp); err != nil {
		s.violationf("encode %s response: %v", method, err)
	}
}

func (s *Server) dispatch(method string, a args, token string, perr error, call *Call) (map[string]any, *apiError) {
	if perr != nil {
		return nil, fail(perr.Error())
	}
	scope, known := methodScopes()[method]
	if !known {
		return nil, fail("unknown_method")
	}
	if e := s.popFault(method, call); e != nil {
		return nil, e
	}
	switch {
	case token == "":
		return nil, fail("not_authed")
	case method == "apps.connections.open" && token == s.opts.BotToken:
		return nil, fail("not_allowed_token_type")
	case method == "apps.connections.open" && token != s.opts.AppToken:
		return nil, fail("invalid_auth")
	case method != "apps.connections.open" && token == s.opts.AppToken:
		return nil, fail("not_allowed_token_type")
	case method != "apps.connections.open" && token != s.opts.BotToken:
		return nil, fail("invalid_auth")
	}
	if scope != "" && !slices.Contains(s.opts.Scopes, scope) {
		e := fail("missing_scope")
		e.extra = map[string]any{"needed": scope, "provided": strings.Join(s.opts.Scopes, ",")}
		return nil, e
	}
	key := ""
	if method == "chat.postMessage" {
		key = a.str("channel")
	}
	if ok, wait := s.lim.take(method, key); !ok {
		call.Status = http.StatusTooManyRequests
		call.RetryAfter = wait
		return nil, fail("ratelimited")
	}
	// Validating content needs no state: do it before taking the lock.
	var def map[string]any
	var verr *apiError
	switch method {
	case "views.open", "views.push", "views.update":
		def, verr = s.viewArg(a, "modal")
	case "views.publish":
		def, verr = s.viewArg(a, "home")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch method {
	case "auth.test":
		return map[string]any{"url": "https://fake.slack.com/", "team": "Fake", "user": "sesame",
			"team_id": s.opts.TeamID, "user_id": s.opts.BotUserID, "bot_id": "B0BOT", "is_enterprise_install": false}, nil
	case "apps.connections.open":
		ticket := fmt.Sprintf("t%d", s.nextSeq())
		s.tickets[ticket] = true
		u := strings.Replace(s.ts.URL, "http://", "ws://", 1) + "/link/?ticket=" + ticket + "&app_id=" + s.opts.AppID
		return map[string]any{"url": u}, nil
	case "chat.postMessage":
		return s.postMessage(a)
	case "chat.update":
		return s.updateMessage(a)
	case "chat.postEphemeral":
		return s.postEphemeral(a)
	case "conversations.open":
		return s.openConversation(a)
	case "views.open", "views.push":
		return s.openView(method, a, def, verr)
	case "views.update":
		return s.updateView(a, def, verr)
	case "views.publish":
		return s.publishView(a, def, verr)
	case "users.info":
		u, ok := s.users[a.str("user")]
		if !ok {
			return nil, fail("user_not_found")
		}
		return map[string]any{"user": s.userObject(u)}, nil
	case "users.lookupByEmail":
		email := strings.ToLower(a.str("email"))
		for _, u := range s.users {
			if email != "" && strings.ToLower(u.Email) == email && !u.Deleted {
				return map[string]any{"user": s.userObject(u)}, nil
			}
		}
		return nil, fail("users_not_found")
	}
	return nil, fail("unknown_method")
}

func (s *Server) popFault(method string, call *Call) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.faults[method]
	if len(fs) == 0 {
		return nil
	}
	f := fs[0]
	s.faults[method] = fs[1:]
	switch {
	case f.status == http.StatusTooManyRequests:
		call.Status = f.status
		call.RetryAfter = time.Second
		return fail("ratelimited")
	case f.status != 0:
		call.Status = f.status
		return fail("http_" + strconv.Itoa(f.status))
	}
	return fail(f.err)
}

// userObject is the user as users.info returns it; the email is only
// visible with users:read.email.
func (s *Server) userObject(u *User) map[string]any {
	profile := map[string]any{"real_name": u.RealName, "display_name": u.Name}
	if slices.Contains(s.opts.Scopes, "users:read.email") && u.Email != "" {
		profile["email"] = u.Email
	}
	return map[string]any{"id": u.ID, "team_id": s.opts.TeamID, "name": u.Name, "real_name": u.RealName,
		"deleted": u.Deleted, "is_bot": u.IsBot, "is_email_confirmed": u.EmailConfirmed, "profile": profile}
}

// resolveChannel finds the conversation a message goes to: a user ID means
// the bot's IM with that user. Call with s.mu held.
func (s *Server) resolveChannel(id string) (*Channel, *apiError) {
	if id == "" {
		return nil, fail("channel_not_found")
	}
	if strings.HasPrefix(id, "U") || strings.HasPrefix(id, "W") {
		u, ok := s.users[id]
		if !ok || u.Deleted {
			return nil, fail("channel_not_found")
		}
		if u.IsBot {
			return nil, fail("cannot_dm_bot")
		}
		return s.ensureIM(id), nil
	}
	c, ok := s.channels[id]
	if !ok {
		return nil, fail("channel_not_found")
	}
	if !slices.Contains(c.Members, s.opts.BotUserID) {
		return nil, fail("not_in_channel")
	}
	if s.isArchived(c.ID) {
		return nil, fail("is_archived")
	}
	return c, nil
}

func messageContent(a args) (string, json.RawMessage, *apiError) {
	text := a.str("text")
	blocks := a.raw("blocks")
	if string(blocks) == "null" || string(blocks) == "[]" {
		blocks = nil
	}
	if strings.TrimSpace(text) == "" && len(blocks) == 0 {
		return "", nil, fail("no_text")
	}
	if err := ValidateMessage(text, blocks); err != nil {
		if be, ok := errors.AsType[*BlockError](err); ok {
			if len(text) > MaxMessageText {
				return "", nil, fail("msg_too_long")
			}
			return "", nil, fail("invalid_blocks", be.Messages...)
		}
		return "", nil, fail("invalid_blocks", err.Error())
	}
	return text, blocks, nil
}

func (s *Server) postMessage(a args) (map[string]any, *apiError) {
	c, err := s.resolveChannel(s.channelByName(a.str("channel")))
	if err != nil {
		return nil, err
	}
	text, blocks, err := messageContent(a)
	if err != nil {
		return nil, err
	}
	m := &Message{Channel: c.ID, TS: s.newTS(), Text: text, Blocks: blocks}
	s.messages[c.ID] = append(s.messages[c.ID], m)
	return map[string]any{"channel": c.ID, "ts": m.TS, "message": map[string]any{"text": text, "ts": m.TS}}, nil
}

func (s *Server) updateMessage(a args) (map[string]any, *apiError) {
	c, err := s.resolveChannel(a.str("channel"))
	if err != nil {
		return nil, err
	}
	ts := a.str("ts")
	var m *Message
	for _, x := range s.messages[c.ID] {
		if x.TS == ts {
			m = x
		}
	}
	if m == nil {
		return nil, fail("message_not_found")
	}
	text, blocks, err := messageContent(a)
	if err != nil {
		return nil, err
	}
	m.Text, m.Blocks = text, blocks
	m.Updates++
	return map[string]any{"channel": c.ID, "ts": ts, "text": text}, nil
}

func (s *Server) postEphemeral(a args) (map[string]any, *apiError) {
	c, err := s.resolveChannel(a.str("channel"))
	if err != nil {
		return nil, err
	}
	user := a.str("user")
	if !slices.Contains(c.Members, user) {
		return nil, fail("user_not_in_channel")
	}
	text, blocks, err := messageContent(a)
	if err != nil {
		return nil, err
	}
	s.ephemerals = append(s.ephemerals, Ephemeral{User: user, Channel: c.ID, Text: text, Blocks: blocks, Source: "chat.postEphemeral"})
	return map[string]any{"message_ts": s.newTS()}, nil
}

func (s *Server) openConversation(a args) (map[string]any, *apiError) {
	users := a.str("users")
	if users == "" {
		if ch := a.str("channel"); ch != "" {
			c, err := s.resolveChannel(ch)
			if err != nil {
				return nil, err
			}
			return map[string]any{"channel": map[string]any{"id": c.ID}}, nil
		}
		return nil, fail("users_list_not_supplied")
	}
	ids := strings.Split(users, ",")
	if len(ids) != 1 {
		return nil, fail("not_enough_users") // group DMs are not faked
	}
	u, ok := s.users[ids[0]]
	switch {
	case !ok:
		return nil, fail("user_not_found")
	case u.Deleted:
		return nil, fail("user_disabled")
	case u.IsBot:
		return nil, fail("cannot_dm_bot")
	}
	_, existed := s.channels[IMChannel(u.ID)]
	c := s.ensureIM(u.ID)
	return map[string]any{"channel": map[string]any{"id": c.ID}, "already_open": existed, "no_op": existed}, nil
}

const maxViewBytes = 250 << 10

// viewArg parses and validates the view argument for surface.
func (*Server) viewArg(a args, wantType string) (map[string]any, *apiError) {
	def, ok := a.obj("view")
	if !ok {
		return nil, fail("invalid_arguments", "[ERROR] missing required field: view [json-pointer:/view]")
	}
	raw, err := json.Marshal(def)
	if err != nil {
		return nil, fail("invalid_arguments")
	}
	if len(raw) > maxViewBytes {
		return nil, fail("view_too_large")
	}
	if def["type"] != wantType {
		return nil, fail("invalid_arguments", fmt.Sprintf("[ERROR] view type must be %s [json-pointer:/view/type]", wantType))
	}
	if err := ValidateView(raw); err != nil {
		if be, ok := errors.AsType[*BlockError](err); ok {
			return nil, fail("invalid_arguments", be.Messages...)
		}
		return nil, fail("invalid_arguments", err.Error())
	}
	return def, nil
}

func (s *Server) viewResponse(v *View) map[string]any {
	return map[string]any{"view": v.payload(s.opts.TeamID, s.opts.AppID)}
}

// MaxModalStack is how many modals can be stacked (views.push limit).
const MaxModalStack = 3

func (s *Server) openView(method string, a args, def map[string]any, verr *apiError) (map[string]any, *apiError) {
	trig := a.str("trigger_id")
	if trig == "" {
		trig = a.str("interactivity_pointer")
	}
	if verr != nil {
		return nil, verr
	}
	user, code := s.useTrigger(trig)
	if code != "" {
		return nil, fail(code)
	}
	stack := s.stacks[user]
	if method == "views.push" {
		if len(stack) == 0 {
			return nil, fail("not_found", "[ERROR] no modal is open to push onto")
		}
		if len(stack) >= MaxModalStack {
			return nil, fail("push_limit_reached")
		}
	} else {
		for _, id := range stack {
			s.views[id].Closed = true
		}
		stack = nil
	}
	v := s.newView(user, def)
	if len(stack) > 0 {
		v.RootViewID = s.views[stack[0]].ID
		v.PreviousViewID = stack[len(stack)-1]
	}
	s.stacks[user] = append(stack, v.ID)
	return s.viewResponse(v), nil
}

func (s *Server) updateView(a args, def map[string]any, verr *apiError) (map[string]any, *apiError) {
	id, ext := a.str("view_id"), a.str("external_id")
	var v *View
	for _, x := range s.views {
		if (id != "" && x.ID == id) || (id == "" && ext != "" && x.ExternalID == ext) {
			v = x
		}
	}
	if v == nil || v.Type != "modal" {
		return nil, fail("not_found")
	}
	if h := a.str("hash"); h != "" && h != v.Hash {
		return nil, fail("hash_conflict")
	}
	if verr != nil {
		return nil, verr
	}
	s.setDef(v, def)
	return s.viewResponse(v), nil
}

func (s *Server) publishView(a args, def map[string]any, verr *apiError) (map[string]any, *apiError) {
	user := a.str("user_id")
	u, ok := s.users[user]
	if !ok || u.IsBot {
		return nil, fail("user_not_found")
	}
	if verr != nil {
		return nil, verr
	}
	if id, ok := s.homes[user]; ok {
		v := s.views[id]
		if h := a.str("hash"); h != "" && h != v.Hash {
			return nil, fail("hash_conflict")
		}
		s.setDef(v, def)
		return s.viewResponse(v), nil
	}
	v := s.newView(user, def)
	s.homes[user] = v.ID
	return s.viewResponse(v), nil
}
