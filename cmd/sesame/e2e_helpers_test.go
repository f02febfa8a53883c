package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// binary builds the sesame binary once per test run.
var binary = sync.OnceValues(func() (string, error) { //nolint:gochecknoglobals // test-only build cache
	dir, err := os.MkdirTemp("", "sesame-e2e-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "sesame")
	cmd := osexec.CommandContext(context.Background(), "go", "build", "-race", "-o", out, ".") //nolint:gosec // fixed arguments and a temp path
	cmd.Stderr = os.Stderr
	return out, cmd.Run()
})

func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := binary()
	require.NoError(t, err, "go build")
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// proc is one running sesame serve.
type proc struct {
	t    *testing.T
	cmd  *osexec.Cmd
	addr string
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// startServe runs the binary's serve with env and args and waits until it
// is ready.
func startServe(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	bin := buildBinary(t)
	addr := freeAddr(t)
	p := &proc{t: t, addr: addr, logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	p.cmd = osexec.CommandContext(context.WithoutCancel(t.Context()), bin, append([]string{"serve", "--addr", addr}, args...)...) //nolint:gosec // runs the binary this test built
	p.cmd.Env = append(os.Environ(), env...)
	w := lockedWriter{p.mu, p.logs}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait() //nolint:errcheck // the exit is checked by the tests that care
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("logs of sesame at %s:\n%s", addr, p.Logs())
		}
	})
	deadline := time.Now().Add(60 * time.Second) //nolint:forbidigo // real-time wait for a process
	for {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/readyz", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close() //nolint:errcheck // probe
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("sesame exited before it was ready:\n%s", p.Logs())
		default:
		}
		if time.Now().After(deadline) { //nolint:forbidigo // see above
			t.Fatalf("sesame not ready after 60s:\n%s", p.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) url() string { return "http://" + p.addr }

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill() //nolint:errcheck // may have exited already
	}
	<-p.done
}

// interrupt sends SIGINT (Ctrl-C) and waits for a clean exit.
func (p *proc) interrupt(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit 30s after SIGINT:\n%s", p.Logs())
	}
	require.Equal(t, 0, p.cmd.ProcessState.ExitCode(), p.Logs())
}

// runCLI runs the binary with args and env and returns stdout.
func runCLI(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := osexec.CommandContext(t.Context(), buildBinary(t), args...) //nolint:gosec // runs the binary this test built
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "sesame %s: %s", strings.Join(args, " "), stderr.String())
	return stdout.String()
}

// client calls the REST API with a token.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1"+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close() //nolint:errcheck // read fully below
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(c.t, json.Unmarshal(data, out), string(data))
	}
	if resp.StatusCode >= 300 && out == nil {
		c.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

type idState struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Grants []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"grants"`
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout) //nolint:forbidigo // real-time wait for a process
	for !cond() {
		if time.Now().After(deadline) { //nolint:forbidigo // see above
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// exec prepares the binary with args (not started).
func exec(t *testing.T, args ...string) *osexec.Cmd {
	t.Helper()
	return osexec.CommandContext(t.Context(), buildBinary(t), args...) //nolint:gosec // runs the binary this test built
}
