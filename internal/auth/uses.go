package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/store"
)

// UseRecorder saves API tokens' LastUsedAt in the background, so that no
// request waits for that write: the uses noted while a save runs are saved
// together by the next one, in one transaction. LastUsedAt is a hint for
// the people reviewing their tokens, never an input to a security
// decision, so a use that cannot be saved (the store failing) is logged
// and dropped, and the next use of the token records it again. A
// revocation committed meanwhile is never undone: each token is read again
// inside the saving transaction (as touch does).
type UseRecorder struct {
	st  store.Store
	log *slog.Logger

	mu      sync.Mutex
	pending map[string]time.Time
	saving  bool
	closed  bool
	idle    *sync.Cond
}

// NewUseRecorder returns a recorder saving to st; log may be nil.
func NewUseRecorder(st store.Store, log *slog.Logger) *UseRecorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &UseRecorder{st: st, log: log, pending: map[string]time.Time{}}
	r.idle = sync.NewCond(&r.mu)
	return r
}

// Note records that tokenID was used at at. It does not wait.
func (r *UseRecorder) Note(tokenID string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if prev, ok := r.pending[tokenID]; !ok || at.After(prev) {
		r.pending[tokenID] = at
	}
	if !r.saving {
		r.saving = true
		go r.save()
	}
}

// save writes the pending uses until none are left.
func (r *UseRecorder) save() {
	for {
		r.mu.Lock()
		uses := r.pending
		if len(uses) == 0 {
			r.saving = false
			r.idle.Broadcast()
			r.mu.Unlock()
			return
		}
		r.pending = map[string]time.Time{}
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.st.InTx(ctx, func(q store.Queries) error {
			for id, at := range uses {
				if err := touchIn(ctx, q, id, at); err != nil {
					return err
				}
			}
			return nil
		})
		cancel()
		if err != nil {
			r.log.Warn("could not record API token use; the next use records it again", "tokens", len(uses), "err", err)
		}
	}
}

// Close stops taking uses and waits for the save in flight (and the uses
// it still has to write).
func (r *UseRecorder) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for r.saving {
		r.idle.Wait()
	}
}
