package testservers

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// requireBinary skips the test when path does not exist, or fails it when
// the environment says it runs in CI (CI=true), where the machine is
// expected to have every server installed.
func requireBinary(tb testing.TB, path, pkg string) {
	tb.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	unavailable(tb, fmt.Sprintf("%s not found; install the Debian package %s", path, pkg))
}

// unavailable skips the test with why, or fails it in CI.
func unavailable(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("testservers: %s (CI=true, so this is a failure, not a skip)", why)
	}
	tb.Skipf("testservers: %s", why)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. The
// caller's server may still lose a race for it; start functions retry.
func freePort(tb testing.TB) int {
	tb.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(tb.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testservers: find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		tb.Fatalf("testservers: free port: %v", err)
	}
	return port
}

// process is a server started by a test.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // the exit status; read after done is closed
}

// startProcess runs path with args, its stdout and stderr going to logPath.
// The process is sent SIGTERM (then SIGKILL after 5s) when the test ends.
func startProcess(tb testing.TB, name, logPath, path string, args ...string) *process {
	tb.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		tb.Fatalf("testservers: create %s log: %v", name, err)
	}
	defer logFile.Close()
	// The process outlives this call; it is stopped by stop, from Cleanup.
	cmd := exec.Command(path, args...) //nolint:noctx // lifetime is managed by stop in t.Cleanup, not by a context
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		tb.Fatalf("testservers: start %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process: SIGTERM, then SIGKILL if it lingers.
func (p *process) stop() {
	if p.exited() {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = p.cmd.Process.Kill() //nolint:errcheck // best effort: the process may already be gone
	}
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Kill() //nolint:errcheck // best effort: the process may already be gone
		<-p.done
	}
}

// log returns the tail of the process's output.
func (p *process) log() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const limit = 8 << 10
	if len(b) > limit {
		b = b[len(b)-limit:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// stopOnCleanup stops p when the test ends and prints its log if the test
// failed.
func (p *process) stopOnCleanup(tb testing.TB) {
	tb.Helper()
	tb.Cleanup(func() {
		p.stop()
		if tb.Failed() {
			tb.Logf("testservers: %s log (%s):\n%s", p.name, p.logPath, p.log())
		}
	})
}

// waitFor polls ready every 50ms until it returns nil, the process exits,
// or timeout passes.
func (p *process) waitFor(ready func() error, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = ready(); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%s) before it was ready; last check: %w", p.name, fmt.Sprint(p.err), last)
		case <-deadline.C:
			return fmt.Errorf("%s not ready after %s: %w", p.name, timeout, last)
		case <-tick.C:
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
