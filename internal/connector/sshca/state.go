package sshca

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// grantState is what state_dir remembers of one grant, in
// <state_dir>/grants/<sha256(grant id), first 32 hex digits>.json.
type grantState struct {
	GrantID        string      `json:"grant_id"`
	Email          string      `json:"email"`
	EntitlementKey string      `json:"entitlement_key"`
	Principals     []string    `json:"principals"`
	Certificates   []certState `json:"certificates"`
}

// certState is one certificate issued for a grant.
type certState struct {
	Serial      uint64    `json:"serial"`
	KeyID       string    `json:"key_id"`
	PublicKey   string    `json:"public_key"` // the user key, authorized_keys format
	ValidAfter  time.Time `json:"valid_after"`
	ValidBefore time.Time `json:"valid_before"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
}

// active reports whether the grant has a certificate that is unrevoked
// and not yet expired at now.
func (g *grantState) active(now time.Time) bool {
	for _, c := range g.Certificates {
		if c.RevokedAt.IsZero() && now.Before(c.ValidBefore) {
			return true
		}
	}
	return false
}

func (c *Connector) grantsDir() string { return filepath.Join(c.cfg.stateDir, "grants") }

func (c *Connector) statePath(grantID string) string {
	sum := sha256.Sum256([]byte(grantID))
	return filepath.Join(c.grantsDir(), hex.EncodeToString(sum[:16])+".json")
}

// loadState returns the grant's state, or nil when there is none.
func (c *Connector) loadState(grantID string) (*grantState, error) {
	b, err := os.ReadFile(c.statePath(grantID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil //nolint:nilnil // no state is a normal answer, not an error
	}
	if err != nil {
		return nil, fmt.Errorf("ssh: read grant state: %w", err)
	}
	var g grantState
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("ssh: grant state %s: %w", filepath.Base(c.statePath(grantID)), err)
	}
	return &g, nil
}

// saveState writes the grant's state atomically (temporary file, then
// rename), creating state_dir/grants with mode 0700 if needed.
func (c *Connector) saveState(g *grantState) error {
	if err := os.MkdirAll(c.grantsDir(), 0o700); err != nil {
		return fmt.Errorf("ssh: create state_dir: %w", err)
	}
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return fmt.Errorf("ssh: encode grant state: %w", err)
	}
	return writeFileAtomic(c.statePath(g.GrantID), append(b, '\n'), 0o600)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("ssh: write %s: %w", filepath.Base(path), err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("ssh: write %s: %w", filepath.Base(path), err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("ssh: write %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ssh: write %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ssh: write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("ssh: write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// listStates reads every grant's state.
func (c *Connector) listStates() ([]*grantState, error) {
	entries, err := os.ReadDir(c.grantsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ssh: list grant states: %w", err)
	}
	var out []*grantState
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(c.grantsDir(), e.Name()))
		if err != nil {
			return nil, fmt.Errorf("ssh: read grant state: %w", err)
		}
		var g grantState
		if err := json.Unmarshal(b, &g); err != nil {
			return nil, fmt.Errorf("ssh: grant state %s: %w", e.Name(), err)
		}
		out = append(out, &g)
	}
	return out, nil
}

// appendRevokedKeys adds each key (authorized_keys format) that the file
// does not already list, with a comment naming the certificate, and syncs
// the file. The file is created with mode 0644 (public keys; sshd must be
// able to read it).
func appendRevokedKeys(path string, keys []certState) error {
	existing := map[string]bool{}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644) //nolint:gosec // public keys, read by sshd
	if err != nil {
		return fmt.Errorf("ssh: open revoked_keys_file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if pub, _, _, _, err := ssh.ParseAuthorizedKey(sc.Bytes()); err == nil {
			existing[string(pub.Marshal())] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("ssh: read revoked_keys_file: %w", err)
	}
	var buf bytes.Buffer
	for _, k := range keys {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.PublicKey))
		if err != nil {
			return fmt.Errorf("ssh: grant state holds a bad public key: %w", err)
		}
		if existing[string(pub.Marshal())] {
			continue
		}
		existing[string(pub.Marshal())] = true
		line := bytes.TrimSuffix(ssh.MarshalAuthorizedKey(pub), []byte("\n"))
		fmt.Fprintf(&buf, "%s %s\n", line, commentSafe(k.KeyID))
	}
	if buf.Len() == 0 {
		return nil
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("ssh: append to revoked_keys_file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("ssh: sync revoked_keys_file: %w", err)
	}
	return f.Close()
}

// commentSafe keeps a key comment on one line.
func commentSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}
