package baton

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "baton"

const (
	settingBinary        = "binary"
	settingBatonPath     = "baton_path"
	settingC1Z           = "c1z_path"
	settingArgs          = "args"
	settingPrincipalType = "principal_type"
	settingPrincipalFrom = "principal_from"
	settingSyncMaxAge    = "sync_max_age"
	settingTimeout       = "timeout"
	envPrefix            = "env."

	fromEmail     = "email"
	fromLocalPart = "email_local_part"
	fromUserID    = "user_id"
	fromLookup    = "lookup"

	defaultSyncMaxAge = 10 * time.Minute
	defaultTimeout    = 5 * time.Minute
)

func knownSettings() []string {
	return []string{settingBinary, settingBatonPath, settingC1Z, settingArgs, settingPrincipalType, settingPrincipalFrom,
		settingSyncMaxAge, settingTimeout, envPrefix + "<NAME>"}
}

var (
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	typeRE    = regexp.MustCompile(`^[a-z0-9_-]+$`)
)

// Options are the dependencies New fills with defaults.
type Options struct {
	// Clock ages the c1z; clock.Real{} when nil.
	Clock clock.Clock
}

// Connector runs a baton connector binary for grants and revokes.
type Connector struct {
	binary, batonPath string
	c1z, dir          string
	args              []string
	env, secrets      []string
	principalType     string
	principalFrom     string
	syncMaxAge        time.Duration
	timeout           time.Duration
	clock             clock.Clock
}

// SyncConnector is a Connector with a baton CLI (baton_path): it can also
// list grants, entitlements and accounts from the c1z.
type SyncConnector struct {
	*Connector
}

var (
	_ connector.Connector         = (*Connector)(nil)
	_ connector.AccountMapper     = (*Connector)(nil)
	_ connector.GrantLister       = (*SyncConnector)(nil)
	_ connector.AccountLister     = (*SyncConnector)(nil)
	_ connector.EntitlementLister = (*SyncConnector)(nil)
)

// New is the connector.Factory. See the package documentation for the
// settings. It returns a *SyncConnector when baton_path is set, else a
// *Connector.
func New(settings map[string]string) (connector.Connector, error) {
	return NewWithOptions(settings, Options{})
}

// NewWithOptions is New with injected dependencies.
func NewWithOptions(settings map[string]string, opts Options) (connector.Connector, error) {
	c, err := parse(settings)
	if err != nil {
		return nil, err
	}
	c.clock = cmp.Or[clock.Clock](opts.Clock, clock.Real{})
	if c.batonPath != "" {
		return &SyncConnector{Connector: c}, nil
	}
	return c, nil
}

// ValidateSettings checks settings without running anything.
func ValidateSettings(settings map[string]string) error {
	_, err := parse(settings)
	return err
}

// ValidateSettings implements connector.SettingsValidator.
func (c *Connector) ValidateSettings(settings map[string]string) error {
	return ValidateSettings(settings)
}

// executable checks that path is absolute and names an executable file.
func executable(name, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("setting %s must be an absolute path", name)
	}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("setting %s: %s does not exist", name, path)
		}
		return fmt.Errorf("setting %s: %w", name, err)
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("setting %s: %s is not an executable file", name, path)
	}
	return nil
}

func parse(s map[string]string) (*Connector, error) {
	c := &Connector{principalType: "user", principalFrom: fromEmail, syncMaxAge: defaultSyncMaxAge, timeout: defaultTimeout}
	var envNames []string
	for k := range s {
		if name, ok := strings.CutPrefix(k, envPrefix); ok {
			if !envNameRE.MatchString(name) || name == "HOME" || name == "TMPDIR" {
				return nil, fmt.Errorf("setting %s: %q is not an environment variable name Sesame lets you set", k, name)
			}
			envNames = append(envNames, name)
			continue
		}
		if !slices.Contains(knownSettings(), k) {
			return nil, fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(knownSettings(), ", "))
		}
	}
	c.binary = s[settingBinary]
	if c.binary == "" {
		return nil, errors.New("setting binary is required: the absolute path of the baton connector (baton-okta, baton-github...)")
	}
	if err := executable(settingBinary, c.binary); err != nil {
		return nil, err
	}
	if c.batonPath = s[settingBatonPath]; c.batonPath != "" {
		if err := executable(settingBatonPath, c.batonPath); err != nil {
			return nil, err
		}
	}
	c.c1z = s[settingC1Z]
	if c.c1z == "" || !filepath.IsAbs(c.c1z) {
		return nil, errors.New("setting c1z_path is required: an absolute path where the connector's sync file (c1z) is kept, one per app")
	}
	c.dir = filepath.Dir(c.c1z)
	if st, err := os.Stat(c.dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("setting c1z_path: directory %s does not exist", c.dir)
	}
	c.args = strings.Fields(s[settingArgs])
	for _, a := range c.args {
		for _, reserved := range []string{"-f", "--file", "--grant-", "--revoke-", "--log-", "--client-"} {
			if a == reserved || strings.HasPrefix(a, reserved+"=") || (strings.HasSuffix(reserved, "-") && strings.HasPrefix(a, reserved)) {
				return nil, fmt.Errorf("setting args: %s is set by Sesame", a)
			}
		}
	}
	if v := s[settingPrincipalType]; v != "" {
		if !typeRE.MatchString(v) {
			return nil, errors.New("setting principal_type must be a baton resource type id like user")
		}
		c.principalType = v
	}
	if v := s[settingPrincipalFrom]; v != "" {
		if !slices.Contains([]string{fromEmail, fromLocalPart, fromUserID, fromLookup}, v) {
			return nil, fmt.Errorf("setting principal_from must be %s, %s, %s or %s", fromEmail, fromLocalPart, fromUserID, fromLookup)
		}
		c.principalFrom = v
	}
	if c.principalFrom == fromLookup && c.batonPath == "" {
		return nil, errors.New("setting principal_from=lookup needs baton_path (the baton CLI reads the users from the c1z)")
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
		zero bool
	}{{settingSyncMaxAge, &c.syncMaxAge, true}, {settingTimeout, &c.timeout, false}} {
		v := s[d.name]
		if v == "" {
			continue
		}
		x, err := time.ParseDuration(v)
		if err != nil || x < 0 || (x == 0 && !d.zero) {
			return nil, fmt.Errorf("setting %s: %q is not a valid duration like 5m", d.name, v)
		}
		*d.dst = x
	}
	// The child gets this environment and nothing of Sesame's own.
	sort.Strings(envNames)
	c.env = []string{"HOME=" + c.dir, "TMPDIR=" + c.dir}
	for _, n := range envNames {
		v := s[envPrefix+n]
		c.env = append(c.env, n+"="+v)
		c.secrets = append(c.secrets, v)
	}
	return c, nil
}

// AccountFor returns the principal id used for t: its email (default),
// the email's local part, or Sesame's user id. Empty with
// principal_from=lookup, where the id comes from the c1z.
func (c *Connector) AccountFor(t connector.Target) string {
	switch c.principalFrom {
	case fromLocalPart:
		local, _, _ := strings.Cut(t.Email, "@")
		return local
	case fromUserID:
		return t.UserID
	case fromLookup:
		return ""
	default:
		return t.Email
	}
}

// principal returns t's principal id; found is false when lookup finds
// no such person in the c1z.
func (c *Connector) principal(ctx context.Context, t connector.Target) (id string, found bool, err error) {
	if c.principalFrom != fromLookup {
		id := c.AccountFor(t)
		if id == "" {
			return "", false, connector.Permanent(fmt.Errorf("baton: no %s for the person", c.principalFrom))
		}
		return id, true, nil
	}
	rs, err := c.resources(ctx)
	if err != nil {
		return "", false, err
	}
	for _, r := range rs {
		if slices.ContainsFunc(r.emails(), func(e string) bool { return strings.EqualFold(e, t.Email) }) {
			return r.ID.Resource, true, nil
		}
	}
	return "", false, nil
}

// base are the flags every invocation of the connector gets.
func (c *Connector) base(file string) []string {
	return append([]string{"-f", file, "--log-format", "json", "--log-level", "info"}, c.args...)
}

// stale reports whether the c1z is missing or older than sync_max_age.
func (c *Connector) stale() bool {
	st, err := os.Stat(c.c1z)
	return err != nil || c.syncMaxAge == 0 || c.clock.Now().Sub(st.ModTime()) > c.syncMaxAge
}

// syncLocked runs a full sync into a temporary file and renames it over
// the c1z, so that readers never see a half-written file. Call with the
// lock held.
func (c *Connector) syncLocked(ctx context.Context) error {
	tmp := c.c1z + ".sync-tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("baton sync: %w", err)
	}
	if _, err := c.exec(ctx, "sync", c.binary, c.base(tmp)); err != nil {
		return err
	}
	if err := os.Rename(tmp, c.c1z); err != nil {
		return fmt.Errorf("baton sync: %w", err)
	}
	return nil
}

func (c *Connector) lock(ctx context.Context) (func(), error) { return lockFile(ctx, c.c1z+".lock") }

// Grant runs `<binary> -f <c1z> --grant-entitlement <key>
// --grant-principal <id> --grant-principal-type <type>`. The SDK looks the
// entitlement and the principal up in the c1z, so the c1z is synced first
// when it is missing or older than sync_max_age, and once more if the
// grant says something was not found.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	if t.EntitlementKey == "" {
		return connector.Permanent(errors.New("baton: empty entitlement id"))
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	synced := false
	if c.stale() {
		if err := c.syncLocked(ctx); err != nil {
			return err
		}
		synced = true
	}
	pid, found, err := c.principal(ctx, t)
	if err != nil {
		return err
	}
	if !found && !synced {
		if err := c.syncLocked(ctx); err != nil {
			return err
		}
		synced = true
		if pid, found, err = c.principal(ctx, t); err != nil {
			return err
		}
	}
	if !found {
		return connector.Permanent(fmt.Errorf("baton: no %s with email %q in the last sync", c.principalType, t.Email))
	}
	args := append(c.base(c.c1z), "--grant-entitlement", t.EntitlementKey, "--grant-principal", pid, "--grant-principal-type", c.principalType)
	_, err = c.exec(ctx, "grant", c.binary, args, t.EntitlementKey, pid)
	if isNotFound(err) && !synced {
		if err := c.syncLocked(ctx); err != nil {
			return err
		}
		_, err = c.exec(ctx, "grant", c.binary, args, t.EntitlementKey, pid)
	}
	return err
}

// GrantID is the baton grant id of a principal's grant of an entitlement:
// "<entitlement id>:<principal type>:<principal id>", as the SDK's
// grant.NewGrant builds it.
func GrantID(entitlementID, principalType, principalID string) string {
	return entitlementID + ":" + principalType + ":" + principalID
}

// Revoke syncs (the SDK finds the grant in the c1z), then runs
// `<binary> -f <c1z> --revoke-grant <grant id>`. A grant the fresh sync
// does not have ("not found") is already revoked.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	if t.EntitlementKey == "" {
		return connector.Permanent(errors.New("baton: empty entitlement id"))
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := c.syncLocked(ctx); err != nil {
		return err
	}
	pid, found, err := c.principal(ctx, t)
	if err != nil || !found {
		return err
	}
	id := GrantID(t.EntitlementKey, c.principalType, pid)
	_, err = c.exec(ctx, "revoke", c.binary, append(c.base(c.c1z), "--revoke-grant", id), id, t.EntitlementKey, pid)
	if isNotFound(err) {
		return nil
	}
	return err
}
