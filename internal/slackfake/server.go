package slackfake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
)

// Options configure a Server. Zero values take the defaults in brackets.
type Options struct {
	// Clock drives trigger expiry, request signing and rate limits
	// [clock.Real].
	Clock clock.Clock
	// BotToken authenticates Web API calls ["xoxb-fake"]; AppToken opens
	// Socket Mode connections ["xapp-fake"].
	BotToken string
	AppToken string
	// SigningSecret signs HTTP-mode requests to the app ["fake-signing-secret"].
	SigningSecret string
	TeamID        string // ["T0FAKE"]
	AppID         string // ["A0FAKE"]
	BotUserID     string // ["U0BOT"]
	// Scopes granted to the bot token [commands, chat:write, im:write,
	// users:read, users:read.email]. A method whose scope is missing fails
	// with missing_scope.
	Scopes []string
	// Limits overrides the rate limit of a method (keys are method names);
	// NoRateLimits turns rate limiting off (benchmarks).
	Limits       map[string]Limit
	NoRateLimits bool
	// AckTimeout is how long the fake waits for the app's acknowledgement
	// [3s, Slack's limit]. A later ack is a violation.
	AckTimeout time.Duration
	// PingInterval is how often the Socket Mode server pings [10s].
	PingInterval time.Duration
}

// User is a simulated Slack user.
type User struct {
	ID       string
	Name     string
	RealName string
	Email    string
	// EmailConfirmed is Slack's is_email_confirmed.
	EmailConfirmed bool
	Deleted        bool
	IsBot          bool
}

// Channel is a conversation: a public channel or the bot's IM with a user.
type Channel struct {
	ID      string
	Name    string
	IsIM    bool
	Members []string
}

// Message is a message the app posted, as it is now (after updates).
type Message struct {
	Channel string
	TS      string
	Text    string
	Blocks  json.RawMessage
	// Updates counts chat.update calls on it.
	Updates int
}

// Ephemeral is a message only one user sees: from chat.postEphemeral or
// the answer to a slash command.
type Ephemeral struct {
	User    string
	Channel string
	Text    string
	Blocks  json.RawMessage
	// Source is "chat.postEphemeral" or "command".
	Source string
}

// Call is one Web API call the app made.
type Call struct {
	Method string
	// Args are the form arguments or the JSON body's top-level fields
	// (nested values as JSON), without the token.
	Args  map[string]string
	OK    bool
	Error string
	// Status is the HTTP status returned (429 when rate limited, with
	// RetryAfter).
	Status     int
	RetryAfter time.Duration
	At         time.Time
}

type fault struct {
	err    string
	status int
}

// Server is a running fake. Create it with New; Close it when done.
type Server struct {
	opts  Options
	clock clock.Clock
	ts    *httptest.Server
	lim   *limiter
	hub   *hub

	mu         sync.Mutex
	seq        int64
	users      map[string]*User
	channels   map[string]*Channel
	messages   map[string][]*Message // by channel, in post order
	ephemerals []Ephemeral
	views      map[string]*View
	stacks     map[string][]string // user -> open modal view IDs, bottom first
	homes      map[string]string   // user -> home view ID
	triggers   map[string]*trigger
	calls      []Call
	violations []string
	faults     map[string][]fault
	tickets    map[string]bool
	requestURL string
	client     *http.Client
	// hooksState: incoming webhooks and archived channels (webhooks.go).
	hooksState webhookState
}

type trigger struct {
	user     string
	issuedAt time.Time
	used     bool
}

// New starts a fake on a loopback port.
func New(opts Options) *Server {
	opts.Clock = cmp.Or[clock.Clock](opts.Clock, clock.Real{})
	opts.BotToken = cmp.Or(opts.BotToken, "xoxb-fake")
	opts.AppToken = cmp.Or(opts.AppToken, "xapp-fake")
	opts.SigningSecret = cmp.Or(opts.SigningSecret, "fake-signing-secret")
	opts.TeamID = cmp.Or(opts.TeamID, "T0FAKE")
	opts.AppID = cmp.Or(opts.AppID, "A0FAKE")
	opts.BotUserID = cmp.Or(opts.BotUserID, "U0BOT")
	opts.AckTimeout = cmp.Or(opts.AckTimeout, 3*time.Second)
	opts.PingInterval = cmp.Or(opts.PingInterval, 10*time.Second)
	if opts.Scopes == nil {
		opts.Scopes = []string{"commands", "chat:write", "im:write", "users:read", "users:read.email"}
	}
	s := &Server{
		opts:     opts,
		clock:    opts.Clock,
		users:    map[string]*User{},
		channels: map[string]*Channel{},
		messages: map[string][]*Message{},
		views:    map[string]*View{},
		stacks:   map[string][]string{},
		homes:    map[string]string{},
		triggers: map[string]*trigger{},
		faults:   map[string][]fault{},
		tickets:  map[string]bool{},
		client:   &http.Client{Timeout: 30 * time.Second},
	}
	s.lim = newLimiter(opts.Clock, opts.Limits, opts.NoRateLimits)
	s.hub = newHub(s)
	s.users[opts.BotUserID] = &User{ID: opts.BotUserID, Name: "sesame", IsBot: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.serveAPI)
	mux.HandleFunc("GET /link/", s.hub.serveWS)
	mux.HandleFunc("POST /services/", s.serveWebhook)
	s.ts = httptest.NewServer(mux)
	return s
}

// Close disconnects Socket Mode clients and stops the server.
func (s *Server) Close() {
	s.hub.close()
	s.ts.Close()
}

// APIURL is the Web API base URL (ending in "/") to give the app.
func (s *Server) APIURL() string { return s.ts.URL + "/api/" }

// BotToken is the bot token (xoxb-) to give the app.
func (s *Server) BotToken() string { return s.opts.BotToken }

// AppToken is the app-level token (xapp-) to give the app for Socket Mode.
func (s *Server) AppToken() string { return s.opts.AppToken }

// SigningSecret is the secret the fake signs HTTP-mode requests with.
func (s *Server) SigningSecret() string { return s.opts.SigningSecret }

// SetRequestURL puts the fake in HTTP mode: interactions are POSTed,
// signed, to base+"/slack/commands", "/slack/interactions",
// "/slack/options" and "/slack/events". An empty base goes back to Socket
// Mode.
func (s *Server) SetRequestURL(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requestURL = strings.TrimRight(base, "/")
}

// AddUser adds (or replaces) a simulated user.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := u
	s.users[u.ID] = &cp
}

// AddChannel adds a public channel with members (the bot is a member only
// if listed).
func (s *Server) AddChannel(id, name string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[id] = &Channel{ID: id, Name: name, Members: slices.Clone(members)}
}

// FailNext makes the next n calls of method fail with ok:false and errCode
// (e.g. "internal_error", "fatal_error").
func (s *Server) FailNext(method string, n int, errCode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], fault{err: errCode})
	}
}

// FailNextStatus makes the next n calls of method answer with an HTTP
// status: 429 (with Retry-After: 1 and error "ratelimited") or a 5xx.
func (s *Server) FailNextStatus(method string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], fault{status: status})
	}
}

// SetLimit changes the rate limit of method.
func (s *Server) SetLimit(method string, l Limit) { s.lim.set(method, l) }

// Calls returns the recorded Web API calls of the given methods (all when
// none is given), oldest first.
func (s *Server) Calls(methods ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(methods) == 0 || slices.Contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

// Violations returns the protocol mistakes the fake noticed.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

func (s *Server) violationf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violationLockedf(format, args...)
}

// violationLockedf records a violation; call with s.mu held.
func (s *Server) violationLockedf(format string, args ...any) {
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

// IMChannel returns the ID of the bot's IM with user (whether or not it was
// opened).
func IMChannel(userID string) string { return "D" + strings.TrimPrefix(userID, "U") }

// DMs returns the messages the app posted in its IM with user, oldest
// first.
func (s *Server) DMs(userID string) []Message {
	return s.Messages(IMChannel(userID))
}

// Messages returns the messages the app posted in channel, oldest first.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages[channel]))
	for _, m := range s.messages[channel] {
		out = append(out, *m)
	}
	return out
}

// Message returns the message at channel/ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages[channel] {
		if m.TS == ts {
			return *m, true
		}
	}
	return Message{}, false
}

// Ephemerals returns the ephemeral messages user saw, oldest first.
func (s *Server) Ephemerals(userID string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ephemeral
	for _, e := range s.ephemerals {
		if e.User == userID {
			out = append(out, e)
		}
	}
	return out
}

// LastEphemeral returns the text (with block texts) of the last ephemeral
// message user saw, or "".
func (s *Server) LastEphemeral(userID string) string {
	es := s.Ephemerals(userID)
	if len(es) == 0 {
		return ""
	}
	e := es[len(es)-1]
	return e.Text + "\n" + BlockText(e.Blocks)
}

func (s *Server) nextSeq() int64 {
	s.seq++
	return s.seq
}

// newTS returns a message timestamp unique in the fake. Call with s.mu held.
func (s *Server) newTS() string {
	return fmt.Sprintf("%d.%06d", s.clock.Now().Unix(), s.nextSeq()%1_000_000)
}

// issueTrigger returns a new trigger_id for user. Call with s.mu held.
func (s *Server) issueTrigger(user string) string {
	n := s.nextSeq()
	id := fmt.Sprintf("%d.%d.%016x%016x", n, s.clock.Now().Unix(), n*7919, n*104729)
	s.triggers[id] = &trigger{user: user, issuedAt: s.clock.Now()}
	return id
}

// TriggerLifetime is how long a trigger_id may be exchanged after it was
// issued.
const TriggerLifetime = 3 * time.Second

// useTrigger exchanges id for a view, returning Slack's error string on
// failure. Call with s.mu held.
func (s *Server) useTrigger(id string) (user string, errCode string) {
	t, ok := s.triggers[id]
	if !ok {
		return "", "invalid_trigger_id"
	}
	if t.used {
		return "", "exchanged_trigger_id"
	}
	if s.clock.Now().Sub(t.issuedAt) > TriggerLifetime {
		return "", "expired_trigger_id"
	}
	t.used = true
	return t.user, ""
}

// ensureIM returns the bot's IM with user, creating it. Call with s.mu held.
func (s *Server) ensureIM(userID string) *Channel {
	id := IMChannel(userID)
	c, ok := s.channels[id]
	if !ok {
		c = &Channel{ID: id, IsIM: true, Members: []string{s.opts.BotUserID, userID}}
		s.channels[id] = c
	}
	return c
}
