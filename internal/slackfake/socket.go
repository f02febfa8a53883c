package slackfake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sesame-access/sesame/internal/clock"
)

// MaxSocketMessage is the size at which Slack drops a Socket Mode message
// from the app (20 KB).
const MaxSocketMessage = 20 << 10

// hub is the Socket Mode side: WebSocket connections opened with a ticket
// from apps.connections.open, envelopes out, acks in.
type hub struct {
	s       *Server
	mu      sync.Mutex
	conns   []*wsConn
	pending map[string]chan json.RawMessage
	waiters []chan struct{}
	closed  bool
	seq     int
}

type wsConn struct {
	c    *websocket.Conn
	wmu  sync.Mutex
	done chan struct{}
	once sync.Once
}

func (c *wsConn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.c.SetWriteDeadline(clock.Real{}.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	return c.c.WriteJSON(v)
}

func (c *wsConn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.c.Close() //nolint:errcheck // closing
	})
}

func newHub(s *Server) *hub { return &hub{s: s, pending: map[string]chan json.RawMessage{}} }

func (h *hub) serveWS(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	h.s.mu.Lock()
	valid := h.s.tickets[ticket]
	delete(h.s.tickets, ticket) // single use
	h.s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	conn := &wsConn{c: c, done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		conn.close()
		return
	}
	h.conns = append(h.conns, conn)
	n := len(h.conns)
	waiters := h.waiters
	h.waiters = nil
	h.mu.Unlock()
	if err := conn.write(map[string]any{"type": "hello", "num_connections": n,
		"debug_info":      map[string]any{"host": "fake-link", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": h.s.opts.AppID}}); err != nil {
		h.drop(conn)
		return
	}
	for _, ch := range waiters {
		close(ch)
	}
	go h.ping(conn)
	h.read(conn)
}

func (h *hub) ping(c *wsConn) {
	t := time.NewTicker(h.s.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.wmu.Lock()
			err := c.c.WriteControl(websocket.PingMessage, []byte("ping"), clock.Real{}.Now().Add(5*time.Second))
			c.wmu.Unlock()
			if err != nil {
				h.drop(c)
				return
			}
		}
	}
}

func (h *hub) read(c *wsConn) {
	defer h.drop(c)
	for {
		_, msg, err := c.c.ReadMessage()
		if err != nil {
			return
		}
		if len(msg) >= MaxSocketMessage {
			h.s.violationf("socket mode: a %d-byte message from the app; Slack silently drops messages of %d bytes or more", len(msg), MaxSocketMessage)
			continue
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(msg, &ack); err != nil || ack.EnvelopeID == "" {
			h.s.violationf("socket mode: unreadable message from the app: %q", msg)
			continue
		}
		h.mu.Lock()
		ch, ok := h.pending[ack.EnvelopeID]
		delete(h.pending, ack.EnvelopeID)
		h.mu.Unlock()
		if !ok {
			h.s.violationf("socket mode: ack for unknown or already acked envelope %s", ack.EnvelopeID)
			continue
		}
		ch <- ack.Payload
	}
}

func (h *hub) drop(c *wsConn) {
	c.close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, x := range h.conns {
		if x == c {
			h.conns = append(h.conns[:i], h.conns[i+1:]...)
			break
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	conns := h.conns
	h.conns = nil
	h.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// send delivers an envelope on the newest connection and waits for its ack.
func (h *hub) send(ctx context.Context, kind string, payload any, retry int) (json.RawMessage, error) {
	typ, accepts := kind, true
	switch kind {
	case kindOptions:
		typ = kindInteractive
	case kindInteractive:
		p, _ := payload.(map[string]any)
		accepts = p["type"] == "view_submission"
	case kindEvent:
		accepts = false
	}
	h.mu.Lock()
	if len(h.conns) == 0 {
		h.mu.Unlock()
		return nil, ErrNotConnected
	}
	conn := h.conns[len(h.conns)-1]
	h.seq++
	id := fmt.Sprintf("env-%08d", h.seq)
	ch := make(chan json.RawMessage, 1)
	h.pending[id] = ch
	h.mu.Unlock()
	env := map[string]any{"envelope_id": id, "type": typ, "payload": payload,
		"accepts_response_payload": accepts, "retry_attempt": retry, "retry_reason": ""}
	if retry > 0 {
		env["retry_reason"] = "timeout"
	}
	if err := conn.write(env); err != nil {
		h.forget(id)
		return nil, fmt.Errorf("slackfake: write envelope: %w", err)
	}
	timer := time.NewTimer(h.s.opts.AckTimeout)
	defer timer.Stop()
	select {
	case body := <-ch:
		if !accepts && len(body) > 0 && string(body) != "null" && string(body) != "{}" {
			h.s.violationf("socket mode: %s ack carried a payload Slack ignores: %s", kind, body)
		}
		return body, nil
	case <-timer.C:
		h.forget(id)
		h.s.violationf("socket mode: envelope %s (%s) not acknowledged within %v", id, kind, h.s.opts.AckTimeout)
		return nil, ErrAckTimeout
	case <-ctx.Done():
		h.forget(id)
		return nil, ctx.Err()
	}
}

func (h *hub) forget(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.pending, id)
}

// WaitSocket blocks until the app holds a Socket Mode connection.
func (s *Server) WaitSocket(ctx context.Context) error {
	h := s.hub
	h.mu.Lock()
	if len(h.conns) > 0 {
		h.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	h.waiters = append(h.waiters, ch)
	h.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SocketConnections is the number of open Socket Mode connections.
func (s *Server) SocketConnections() int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return len(s.hub.conns)
}

// Disconnect tells every Socket Mode connection to go away (reason is
// "warning", "refresh_requested" or "link_disabled") and closes them.
func (s *Server) Disconnect(reason string) {
	h := s.hub
	h.mu.Lock()
	conns := h.conns
	h.conns = nil
	h.mu.Unlock()
	for _, c := range conns {
		_ = c.write(map[string]any{"type": "disconnect", "reason": reason, //nolint:errcheck // closing anyway
			"debug_info": map[string]any{"host": "fake-link"}})
		c.close()
	}
}
