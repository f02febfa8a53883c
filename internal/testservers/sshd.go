package testservers

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHDPath is where Debian's openssh-server package installs the server.
const SSHDPath = "/usr/sbin/sshd"

// SSHUser is the local Unix account tests log in as. StartSSHD creates it
// (useradd) when it is missing.
const SSHUser = "sesametest"

// SSHD is a running OpenSSH server that trusts one user certificate
// authority and nothing else: no passwords, no authorized_keys. A
// certificate logs in as SSHUser when SSHUser is one of its principals.
type SSHD struct {
	// Addr is 127.0.0.1:PORT.
	Addr string
	// HostKey is the server's host key, for ssh.FixedHostKey.
	HostKey ssh.PublicKey
	// User is the local account to log in as (SSHUser).
	User string
	// RevokedKeysFile is sshd's RevokedKeys: a flat list of public keys,
	// one per line, empty at start. sshd reads it at every login, so a key
	// appended to it (or a certificate whose key is in it) is refused from
	// the next login on.
	RevokedKeysFile string

	proc *process
}

// StartSSHD starts sshd on a free loopback port, trusting caPublicKey (an
// authorized_keys line) as its TrustedUserCAKeys, and returns it once it
// answers. It is stopped when the test ends.
//
// It requires root: sshd's privilege separation needs it, and so does
// logging in as SSHUser. As another user the test is skipped with a
// message saying so, or fails when CI=true. It also creates SSHUser if
// missing and /run/sshd (sshd's privilege separation directory).
func StartSSHD(tb testing.TB, caPublicKey []byte) *SSHD {
	tb.Helper()
	requireBinary(tb, SSHDPath, "openssh-server")
	if os.Geteuid() != 0 {
		unavailable(tb, "StartSSHD needs root (sshd privilege separation and logging in as "+SSHUser+"); run the test as root")
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey(caPublicKey); err != nil {
		tb.Fatalf("testservers: CA public key: %v", err)
	}
	if err := ensureUser(tb, SSHUser); err != nil {
		tb.Fatalf("testservers: %v", err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { //nolint:gosec // sshd wants it root-owned and world-readable, like its package makes it
		tb.Fatalf("testservers: create sshd privilege separation directory: %v", err)
	}

	dir := tb.TempDir()
	hostPub, hostKeyFile, err := writeHostKey(dir)
	if err != nil {
		tb.Fatalf("testservers: sshd host key: %v", err)
	}
	s := &SSHD{HostKey: hostPub, User: SSHUser, RevokedKeysFile: filepath.Join(dir, "revoked_keys")}
	caFile := filepath.Join(dir, "user_ca.pub")
	if err := os.WriteFile(caFile, caPublicKey, 0o644); err != nil { //nolint:gosec // a public key, read by sshd
		tb.Fatalf("testservers: write CA key: %v", err)
	}
	if err := os.WriteFile(s.RevokedKeysFile, nil, 0o644); err != nil { //nolint:gosec // public keys, read by sshd
		tb.Fatalf("testservers: write revoked keys: %v", err)
	}
	penalties := supportsPerSourcePenalties(tb, dir)

	for attempt := 1; ; attempt++ {
		port := freePort(tb)
		s.Addr = net.JoinHostPort("127.0.0.1", itoa(port))
		conf := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(conf, []byte(sshdConf(dir, port, hostKeyFile, caFile, s.RevokedKeysFile, penalties)), 0o600); err != nil {
			tb.Fatalf("testservers: write sshd_config: %v", err)
		}
		s.proc = startProcess(tb, "sshd", filepath.Join(dir, fmt.Sprint("sshd", attempt, ".log")), SSHDPath, "-D", "-e", "-f", conf)
		s.proc.stopOnCleanup(tb)
		err := s.proc.waitFor(s.banner, 15*time.Second)
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(s.proc.log(), "Address already in use") {
			tb.Fatalf("testservers: %v\nsshd log:\n%s", err, s.proc.log())
		}
	}
}

func sshdConf(dir string, port int, hostKey, caFile, revoked string, penalties bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ListenAddress 127.0.0.1:%d\n", port)
	fmt.Fprintf(&b, "HostKey %s\n", hostKey)
	fmt.Fprintf(&b, "PidFile %s\n", filepath.Join(dir, "sshd.pid"))
	fmt.Fprintf(&b, "TrustedUserCAKeys %s\n", caFile)
	fmt.Fprintf(&b, "RevokedKeys %s\n", revoked)
	// No AuthorizedPrincipalsFile: a certificate must name the login user
	// among its principals.
	b.WriteString(`AuthorizedKeysFile none
AuthorizedPrincipalsFile none
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers ` + SSHUser + `
UsePAM no
StrictModes no
LogLevel VERBOSE
`)
	if penalties {
		// OpenSSH 9.8+ slows down clients that fail to log in; the tests
		// fail logins on purpose.
		b.WriteString("PerSourcePenalties no\n")
	}
	return b.String()
}

// supportsPerSourcePenalties reports whether this sshd knows the option
// (OpenSSH 9.8 and later), by testing a config that sets it.
func supportsPerSourcePenalties(tb testing.TB, dir string) bool {
	tb.Helper()
	conf := filepath.Join(dir, "probe_config")
	if err := os.WriteFile(conf, []byte("PerSourcePenalties no\n"), 0o600); err != nil {
		tb.Fatalf("testservers: write probe config: %v", err)
	}
	// -T prints the effective config; it fails on unknown options. The
	// probe has no host key, which -T does not mind but -t would.
	out, err := exec.CommandContext(tb.Context(), SSHDPath, "-T", "-f", conf).CombinedOutput()
	return err == nil || !strings.Contains(string(out), "Bad configuration option")
}

// banner checks that the server answers with an SSH identification line.
func (s *SSHD) banner() error {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(context.Background(), "tcp", s.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return fmt.Errorf("unexpected banner %q", line)
	}
	return nil
}

// Log returns the tail of sshd's log (LogLevel VERBOSE), to explain why a
// login was refused.
func (s *SSHD) Log() string { return s.proc.log() }

func writeHostKey(dir string) (ssh.PublicKey, string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "sesame test host key")
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "ssh_host_ed25519_key")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, "", err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, "", err
	}
	return sshPub, path, nil
}

// ensureUser creates the local account name, with a shell and a password
// field of "*" (no password works, but the account is not locked: sshd
// without PAM refuses accounts whose password starts with "!"). Safe to
// call from parallel tests and again and again.
func ensureUser(tb testing.TB, name string) error {
	tb.Helper()
	ctx := tb.Context()
	var lastErr error
	for range 20 {
		if _, err := user.Lookup(name); err == nil {
			return unlockUser(ctx, name)
		}
		out, err := exec.CommandContext(ctx, "useradd", "--create-home", "--shell", "/bin/sh", "--password", "*", name).CombinedOutput()
		if err == nil {
			return nil
		}
		// Another test may hold /etc/passwd's lock, or have just created
		// the user: look again after a moment.
		lastErr = fmt.Errorf("useradd %s: %w: %s", name, err, strings.TrimSpace(string(out)))
		time.Sleep(100 * time.Millisecond)
	}
	return lastErr
}

// unlockUser replaces a locked password field ("!...") by "*".
func unlockUser(ctx context.Context, name string) error {
	f, err := os.Open("/etc/shadow")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read /etc/shadow: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	locked := false
	for sc.Scan() {
		if pw, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			locked = strings.HasPrefix(pw, "!")
			break
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read /etc/shadow: %w", err)
	}
	if !locked {
		return nil
	}
	if out, err := exec.CommandContext(ctx, "usermod", "--password", "*", name).CombinedOutput(); err != nil {
		return fmt.Errorf("unlock %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}
