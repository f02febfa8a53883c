//go:build unix

package baton

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// lockFile takes an exclusive flock on path (created if needed), so that
// two Sesame processes (replicas, or a job and a sync) never run the
// connector on one c1z at once. The returned func releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("baton: lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) //nolint:gosec // G115: a file descriptor fits in an int
		if err == nil {
			return func() {
				if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil { //nolint:gosec // G115: as above
					_ = f.Close() //nolint:errcheck // closing releases the lock anyway
					return
				}
				_ = f.Close() //nolint:errcheck // read-only use; nothing to flush
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close() //nolint:errcheck // the lock error is the one to report
			return nil, fmt.Errorf("baton: lock %s: %w", path, err)
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = f.Close() //nolint:errcheck // the context error is the one to report
			return nil, fmt.Errorf("baton: waiting for %s: %w", path, ctx.Err())
		case <-t.C:
		}
	}
}

// ownProcessGroup makes cmd the leader of a new process group and kills
// the whole group on cancellation: connectors built with the baton SDK run
// the connector itself as a child process.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
