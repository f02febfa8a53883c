package baton

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/connector"
)

const (
	maxOutput  = 1 << 20 // bytes of stdout kept (listings)
	maxStderr  = 64 << 10
	maxSummary = 1000
)

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
	cut bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = b.buf[over:]
		b.cut = true
	}
	return len(p), nil
}

// RunError is a baton binary that exited with an error.
type RunError struct {
	// Op is what was run: "sync", "grant", "revoke", "baton grants"...
	Op       string
	ExitCode int
	// Summary is the error lines of stderr (JSON log lines reduced to
	// "msg: error"), secrets redacted.
	Summary string
	// NotFound is set when the output says something was not found.
	NotFound bool
}

func (e *RunError) Error() string {
	return fmt.Sprintf("baton %s: exit status %d: %s", e.Op, e.ExitCode, e.Summary)
}

// summarize reduces stderr to its error messages. Connectors built with
// the baton SDK log zap JSON lines with --log-format json; other lines are
// kept as they are.
func summarize(stderr []byte) string {
	var errs, other []string
	for line := range strings.Lines(string(stderr)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var l struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Error string `json:"error"`
		}
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &l) == nil && l.Level != "" {
			if l.Level == "error" || l.Level == "fatal" || l.Level == "panic" {
				s := l.Msg
				if l.Error != "" {
					s += ": " + l.Error
				}
				errs = append(errs, s)
			}
			continue
		}
		other = append(other, line)
	}
	if len(errs) == 0 {
		errs = other[max(len(other)-5, 0):]
	}
	s := strings.Join(errs, "; ")
	if s == "" {
		s = "no error output"
	}
	if len(s) > maxSummary {
		s = s[:maxSummary] + "..."
	}
	return s
}

// exec runs name with args under the timeout, in dir, with only env as
// its environment (never Sesame's own), and returns stdout. Errors:
// a timeout or cancellation is retryable; a binary that cannot be started
// is permanent; a non-zero exit is classified by classify.
func (c *Connector) exec(ctx context.Context, op, name string, args []string, opArgs ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	cmd.WaitDelay = 5 * time.Second
	ownProcessGroup(cmd)
	stdout := &tailBuffer{max: maxOutput}
	stderr := &tailBuffer{max: maxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if err == nil {
		if stdout.cut {
			return nil, connector.Permanent(fmt.Errorf("baton %s: output larger than %d bytes", op, maxOutput))
		}
		return stdout.buf, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("baton %s: %w (timeout %s)", op, ctx.Err(), c.timeout)
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, connector.Permanent(fmt.Errorf("baton %s: cannot run %s: %w", op, name, err))
		}
		return nil, fmt.Errorf("baton %s: %w", op, err)
	}
	re := &RunError{Op: op, ExitCode: exitErr.ExitCode(), Summary: c.redact(summarize(stderr.buf))}
	return nil, classify(re, opArgs)
}

// classify: a non-zero exit is retryable, unless the error says
// "permission", "unauthenticated" or "not found", which retrying will not
// fix. The operation's own arguments (entitlement and principal ids, which
// may well contain "permission") are blanked before looking.
func classify(re *RunError, opArgs []string) error {
	s := strings.ToLower(re.Summary)
	for _, a := range opArgs {
		if a != "" {
			s = strings.ReplaceAll(s, strings.ToLower(a), " ")
		}
	}
	re.NotFound = strings.Contains(s, "not found") || strings.Contains(s, "notfound")
	if re.NotFound || strings.Contains(s, "permission") || strings.Contains(s, "unauthenticated") {
		return connector.Permanent(re)
	}
	return re
}

// redact replaces the values of the env settings (secrets) in s.
func (c *Connector) redact(s string) string {
	for _, v := range c.secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}

// isNotFound reports whether err is a RunError saying "not found".
func isNotFound(err error) bool {
	re, ok := errors.AsType[*RunError](err)
	return ok && re.NotFound
}

// decodeJSON decodes the baton CLI's output.
func decodeJSON(op string, out []byte, v any) error {
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(v); err != nil {
		return connector.Permanent(fmt.Errorf("baton %s: output is not the JSON baton prints with --output-format json: %w", op, err))
	}
	return nil
}
