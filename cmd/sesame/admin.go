package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/web/signin"
)

// adminCmd is "sesame admin bootstrap": make a user an admin (creating it
// if missing) and print a one-time dashboard login link, working on the
// database directly.
func adminCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	const use = `Usage:
  sesame admin bootstrap [--email EMAIL] [--config FILE]
      make EMAIL an admin (creating the user if missing) and print a one-time
      dashboard sign-in link, valid 15 minutes. Without --email: the first
      active admin (the demo's carol@example.com).
`
	if len(args) == 0 || args[0] != "bootstrap" {
		fmt.Fprint(stderr, use)
		return 2
	}
	fs := flag.NewFlagSet("admin bootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("SESAME_CONFIG"), "configuration file (env SESAME_CONFIG)")
	email := fs.String("email", "", "the admin's email")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sesame admin bootstrap: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	m := NewMain(io.Discard, stderr, getenv)
	cfg, err := loadOptions(m.registry()).Load(*configPath, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sesame admin bootstrap: %v\n", err)
		return 1
	}
	db, err := openForOps(ctx, *configPath, stderr, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sesame admin bootstrap: %v\n", err)
		return 1
	}
	res, err := bootstrapAdmin(ctx, db.store, clock.Real{}, strings.ToLower(strings.TrimSpace(*email)))
	err = errors.Join(err, db.Close())
	if err != nil {
		fmt.Fprintf(stderr, "sesame admin bootstrap: %v\n", err)
		return 1
	}
	what := "is an admin"
	switch {
	case res.created:
		what = "was created as an admin"
	case res.promoted:
		what = "is now an admin"
	}
	fmt.Fprintf(stderr, "%s %s. Open this link within 15 minutes to sign in (it works once):\n", res.user.Email, what)
	fmt.Fprintln(stdout, cfg.Server.BaseURL+signin.LinkPath+res.token)
	for _, u := range cfg.Users {
		if u.Email == res.user.Email && !slices.Contains(u.Roles, access.RoleAdmin) {
			fmt.Fprintf(stderr, "note: %s is configured in %s without roles: [admin]; the next start resets the roles to the file's. Add the role there to keep it.\n",
				u.Email, cmpOr(cfg.File, "the demo"))
		}
	}
	return 0
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

type bootstrapResult struct {
	user              *access.User
	created, promoted bool
	token             string
}

// bootstrapAdmin makes email an admin (or picks the first active admin
// when email is "") and issues a login link, in one audited transaction.
func bootstrapAdmin(ctx context.Context, st store.Store, clk clock.Clock, email string) (*bootstrapResult, error) {
	now := clk.Now().UTC()
	res := &bootstrapResult{}
	err := st.InTx(ctx, func(q store.Queries) error {
		u, err := findAdmin(ctx, q, email)
		if err != nil {
			return err
		}
		if u == nil {
			name, _, _ := strings.Cut(email, "@")
			u = &access.User{ID: ids.New("usr", now), Email: email, Name: name, Status: access.UserActive, CreatedAt: now}
			res.created = true
		}
		if !u.Active() {
			return fmt.Errorf("%s is %s; an offboarded user cannot be made an admin", u.Email, u.Status)
		}
		before := *u
		if !u.HasRole(access.RoleAdmin) {
			u.Roles = append(slices.Clone(u.Roles), access.RoleAdmin)
			res.promoted = !res.created
		}
		if res.created || res.promoted {
			u.UpdatedAt = now
			if err := q.UserUpsert(ctx, u); err != nil {
				return fmt.Errorf("save user: %w", err)
			}
			ev := &access.Event{ID: ids.New("evt", now), Time: now, ActorID: "operator", Action: "user.admin_bootstrapped",
				SubjectType: "user", SubjectID: u.ID, After: access.Snapshot(u)}
			if !res.created {
				ev.Before = access.Snapshot(before)
			}
			if err := q.EventAppend(ctx, ev); err != nil {
				return fmt.Errorf("audit: %w", err)
			}
		}
		tok, err := signin.IssueLink(ctx, q, u.ID, "bootstrap", now, signin.LinkTTL)
		if err != nil {
			return err
		}
		if err := q.EventAppend(ctx, &access.Event{ID: ids.New("evt", now), Time: now, ActorID: "operator", Action: "user.login_link_issued",
			SubjectType: "user", SubjectID: u.ID}); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		res.user, res.token = u, tok
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// findAdmin returns the user with email (nil when missing), or with email
// "" the first active admin.
func findAdmin(ctx context.Context, q store.Queries, email string) (*access.User, error) {
	if email != "" {
		if !strings.Contains(email, "@") || len(email) > 254 {
			return nil, fmt.Errorf("%q is not an email address", email)
		}
		u, err := q.UserGetByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil //nolint:nilnil // nil user: create it
		}
		return u, err
	}
	cursor := ""
	for {
		users, next, err := q.UserList(ctx, store.UserListParams{Page: store.Page{Cursor: cursor, Limit: 500}, Status: access.UserActive})
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if u.HasRole(access.RoleAdmin) {
				return u, nil
			}
		}
		if next == "" {
			return nil, errors.New("no admin exists yet: name one with --email")
		}
		cursor = next
	}
}
