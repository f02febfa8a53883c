package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/auth"
	"github.com/sesame-access/sesame/internal/catalog"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/config"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/store"
)

// redactURL hides the password of a database URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// configCmd is "config validate FILE" and "config env".
func configCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "Usage: sesame config validate FILE | sesame config env\n")
		return 2
	}
	switch args[0] {
	case "validate":
		if len(args) != 2 {
			fmt.Fprint(stderr, "Usage: sesame config validate FILE\n")
			return 2
		}
		m := NewMain(stdout, stderr, getenv)
		cfg, err := loadOptions(m.registry()).Load(args[1], getenv)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok (%d apps, %d users, %d policies)\n", args[1], len(cfg.Catalog.Apps), len(cfg.Users), len(cfg.Policies))
		return 0
	case "env":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VARIABLE\tKEY\tDESCRIPTION")
		for _, v := range config.EnvVars() {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, v.Key, v.Description)
		}
		if err := tw.Flush(); err != nil {
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "sesame config: unknown subcommand %q\n", args[0])
	return 2
}

// openForOps loads the config (flag or SESAME_CONFIG) and opens the
// database with migrations, for operator commands.
func openForOps(ctx context.Context, configPath string, stderr io.Writer, getenv func(string) string) (*database, error) {
	m := NewMain(io.Discard, stderr, getenv)
	cfg, err := loadOptions(m.registry()).Load(configPath, getenv)
	if err != nil {
		return nil, err
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	box, _, err := secretBox(cfg, getenv)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if _, err := catalog.SyncWith(ctx, db.store, cfg, clock.Real{}.Now(), catalog.Options{Secrets: box}); err != nil {
		return nil, errors.Join(fmt.Errorf("sync catalog: %w", err), db.Close())
	}
	return db, nil
}

// migrateCmd applies migrations and exits.
func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("SESAME_CONFIG"), "configuration file (env SESAME_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	db, err := openForOps(ctx, *configPath, stderr, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sesame migrate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "migrated %s database %s\n", db.dialect, db.location)
	if err := db.Close(); err != nil {
		fmt.Fprintf(stderr, "sesame migrate: %v\n", err)
		return 1
	}
	return 0
}

// tokenCmd is "token create|list|revoke", working on the database directly.
func tokenCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	const use = `Usage:
  sesame token create --user EMAIL [--name NAME] [--expires 30d] [--config FILE]
  sesame token list [--user EMAIL] [--config FILE]
  sesame token revoke TOKEN_ID [--config FILE]
`
	if len(args) == 0 {
		fmt.Fprint(stderr, use)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("SESAME_CONFIG"), "configuration file (env SESAME_CONFIG)")
	userEmail := fs.String("user", "", "the user's email")
	name := fs.String("name", "cli", "a name to recognise the token by")
	expires := fs.String("expires", "", "lifetime such as 30d or 12h (default: never expires)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var lifetime time.Duration
	if *expires != "" {
		d, err := access.ParseDuration(*expires)
		if err != nil {
			fmt.Fprintf(stderr, "sesame token: --expires: %v\n", err)
			return 2
		}
		lifetime = d
	}
	if sub == "create" && *userEmail == "" {
		fmt.Fprint(stderr, "sesame token create: --user is required\n\n"+use)
		return 2
	}
	if sub == "revoke" && fs.NArg() != 1 {
		fmt.Fprint(stderr, use)
		return 2
	}
	if sub != "create" && sub != "list" && sub != "revoke" {
		fmt.Fprintf(stderr, "sesame token: unknown subcommand %q\n\n%s", sub, use)
		return 2
	}
	db, err := openForOps(ctx, *configPath, stderr, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sesame token: %v\n", err)
		return 1
	}
	defer db.Close() //nolint:errcheck // read-mostly; errors surface in the command
	now := clock.Real{}.Now()
	var user *access.User
	if *userEmail != "" {
		user, err = db.store.UserGetByEmail(ctx, strings.ToLower(*userEmail))
		if errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(stderr, "sesame token: no user with email %s\n", *userEmail)
			return 1
		}
		if err != nil {
			fmt.Fprintf(stderr, "sesame token: %v\n", err)
			return 1
		}
	}
	switch sub {
	case "create":
		var exp time.Time
		if lifetime > 0 {
			exp = now.Add(lifetime)
		}
		var secret string
		var tok *access.Token
		err := db.store.InTx(ctx, func(q store.Queries) error {
			var err error
			secret, tok, err = auth.CreateToken(ctx, q, user.ID, *name, exp, now)
			return err
		})
		if err != nil {
			fmt.Fprintf(stderr, "sesame token create: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "Created token %s for %s%s. It is shown once; store it now:\n", tok.ID, user.Email, expiry(exp))
		fmt.Fprintln(stdout, secret)
		return 0
	case "list":
		uid := ""
		if user != nil {
			uid = user.ID
		}
		toks, err := db.store.TokenList(ctx, uid)
		if err != nil {
			fmt.Fprintf(stderr, "sesame token list: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tNAME\tCREATED\tEXPIRES\tLAST USED\tSTATUS")
		for _, t := range toks {
			status := "valid"
			if !t.Valid(now) {
				status = "revoked/expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.UserID, t.Name, fmtTime(t.CreatedAt), fmtTime(t.ExpiresAt), fmtTime(t.LastUsedAt), status)
		}
		if err := tw.Flush(); err != nil {
			return 1
		}
		return 0
	default: // revoke
		err := db.store.InTx(ctx, func(q store.Queries) error {
			_, err := auth.RevokeToken(ctx, q, nil, fs.Arg(0), now)
			return err
		})
		if err != nil {
			fmt.Fprintf(stderr, "sesame token revoke: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
		return 0
	}
}

func expiry(t time.Time) string {
	if t.IsZero() {
		return " (no expiry)"
	}
	return " (expires " + t.Format(time.RFC3339) + ")"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("2006-01-02 15:04")
}

// banner tells the operator what started and what to do next.
func (m *Main) banner(sum catalog.Summary) {
	cfg := m.Config
	w := m.Stdout
	fmt.Fprintf(w, "Sesame is running at %s\n", m.URL())
	fmt.Fprintf(w, "  database: %s %s (migrated)\n", m.db.dialect, m.db.location)
	if cfg.Demo {
		fmt.Fprintf(w, "  catalog:  demo (%d apps, %d users, %d policies); the %q connector only pretends\n",
			len(cfg.Catalog.Apps), len(cfg.Users), len(cfg.Policies), fake.TypeName)
	} else {
		fmt.Fprintf(w, "  catalog:  %s (%d apps, %d users, %d policies)\n", cfg.File, len(cfg.Catalog.Apps), len(cfg.Users), len(cfg.Policies))
	}
	if sum.Changed() {
		fmt.Fprintf(w, "  synced:   %d catalog change(s) from the config (audited as %s)\n", len(sum.Changes), catalog.Action)
	}
	fmt.Fprintf(w, "  secrets:  %s\n", m.keyNote)
	if cfg.Slack.Enabled() {
		fmt.Fprintf(w, "  slack:    %s mode, command %s\n", cfg.Slack.Mode, cfg.Slack.Command)
	} else {
		fmt.Fprintln(w, "  slack:    not configured (set slack.bot_token; see README \"Slack setup\")")
	}
	if cfg.Web.OIDC.Enabled() {
		fmt.Fprintf(w, "  sign-in:  %s (web.oidc.issuer)\n", cfg.Web.OIDC.Issuer)
	} else {
		fmt.Fprintln(w, "  sign-in:  one-time links only (no web.oidc configured)")
	}
	fmt.Fprintln(w, "Next steps:")
	fmt.Fprintf(w, "  dashboard:  %s — sesame admin bootstrap prints a one-time sign-in link for the first admin\n", cfg.Server.BaseURL)
	if cfg.Demo {
		fmt.Fprintln(w, "  demo users: alice, bob, carol (admin), dave (auditor), erin  — all @example.com")
		fmt.Fprintln(w, "  token:      sesame token create --user alice@example.com")
		fmt.Fprintln(w, "  request:    SESAME_TOKEN=... sesame request create --entitlement github:write --duration 2h --reason 'fix the deploy pipeline'")
	}
	fmt.Fprintln(w, "  production: point database at postgres:// (see README \"Configuration\")")
}

// secretBox returns the box that seals connector secrets at rest. The key
// comes from SESAME_SECRET_KEY (base64 of 32 bytes), else the file
// secrets.key_file, else (SQLite only) <data_dir>/secret.key, created on
// first start. PostgreSQL deployments must configure a key: every replica
// needs the same one.
func secretBox(cfg *config.Config, getenv func(string) string) (*secrets.Box, string, error) {
	if raw := getenv("SESAME_SECRET_KEY"); raw != "" {
		key, err := secrets.ParseKey(raw)
		if err != nil {
			return nil, "", fmt.Errorf("SESAME_SECRET_KEY: %w", err)
		}
		box, err := secrets.New(key)
		return box, "sealed with the key in SESAME_SECRET_KEY", err
	}
	path, create := cfg.Secrets.KeyFile, false
	if path == "" {
		if cfg.DatabaseDialect() != "sqlite" {
			return nil, "", errors.New("connector secrets need a key shared by every replica: set SESAME_SECRET_KEY or secrets.key_file (make one with: head -c 32 /dev/urandom | base64)")
		}
		path, create = filepath.Join(cfg.DataDir, "secret.key"), true
	}
	key, created, err := secrets.LoadOrCreateKeyFile(path, create)
	if err != nil {
		return nil, "", err
	}
	box, err := secrets.New(key)
	note := "sealed with the key in " + path
	if created {
		note += " (created now: back it up with the database)"
	}
	return box, note, err
}
