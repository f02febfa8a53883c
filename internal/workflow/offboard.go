package workflow

import (
	"context"

	"github.com/sesame-access/sesame/internal/access"
)

// SetOffboardHook registers h to run after a person's offboarding has
// committed (Offboard). The hook sees the offboarded user; it raises the
// "offboarded employee with active accounts" alert. An error from h is
// logged and never undoes the offboarding. h runs on every call of
// Offboard that changed something, so it must be idempotent. Call before
// serving; nil removes the hook.
func (s *Service) SetOffboardHook(h func(ctx context.Context, u *access.User) error) {
	s.offboardHook = h
}
