package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the server refused, or the network failed
	ExitUsage = 2 // bad arguments or missing configuration
)

// DefaultServer is used when neither --server nor SESAME_SERVER is set.
const DefaultServer = "http://127.0.0.1:8080"

// Commands returns the top-level command names Run handles, for
// cmd/sesame's dispatch.
func Commands() []string { return []string{"request", "grant", "audit", "me"} }

// env is what every command gets: where to write and how to reach the
// server.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, e *env, args []string) error
}

// groups returns the command tree.
func groups() map[string][]command {
	return map[string][]command{
		"request": {
			{"create", "ask for access", requestCreate},
			{"list", "list requests", requestList},
			{"show", "show a request with its steps, grants and timeline", requestShow},
			{"approve", "approve a request", requestApprove},
			{"reject", "reject a request", requestReject},
			{"cancel", "cancel your pending request", requestCancel},
			{"remind", "remind the approvers of your pending request", requestRemind},
			{"preview", "show the policy, limits and approvers for entitlements", requestPreview},
		},
		"grant": {
			{"list", "list grants", grantList},
			{"show", "show a grant", grantShow},
			{"revoke", "revoke a grant now", grantRevoke},
			{"extend", "extend an active grant", grantExtend},
			{"complete", "mark a manual provisioning or revocation task done", grantComplete},
			{"credentials", "fetch the credentials issued for your grant (once)", grantCredentials},
		},
		"policy": policyCommands(),
		"audit": {
			{"list", "list audit events (admins and auditors)", auditList},
			{"export", "export audit events as CSV or JSON lines", auditExport},
			{"verify", "verify the audit log's hash chain", auditVerify},
		},
	}
}

// usageError is a mistake in the command line: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// Run runs one command. args are the arguments after the program name,
// starting with the command ("request", "create", "--entitlement", ...).
// getenv reads SESAME_SERVER and SESAME_TOKEN (os.Getenv in production).
// It returns the process exit code: 0, 1 (server or network error) or 2
// (usage error).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	var run func(ctx context.Context, e *env, args []string) error
	rest := args[1:]
	if args[0] == "me" {
		run = me
	} else {
		cmds, ok := groups()[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "sesame: unknown command %q\n\n", args[0])
			printUsage(stderr)
			return ExitUsage
		}
		if len(rest) == 0 || rest[0] == "-h" || rest[0] == "--help" || rest[0] == "help" {
			printGroupUsage(stderr, args[0], cmds)
			if len(rest) == 0 {
				return ExitUsage
			}
			return ExitOK
		}
		i := slices.IndexFunc(cmds, func(c command) bool { return c.name == rest[0] })
		if i < 0 {
			fmt.Fprintf(stderr, "sesame %s: unknown command %q\n\n", args[0], rest[0])
			printGroupUsage(stderr, args[0], cmds)
			return ExitUsage
		}
		run, rest = cmds[i].run, rest[1:]
	}
	err := run(ctx, e, rest)
	var ue *usageError
	var ae *apiError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "sesame: %s\n", ue.msg)
		return ExitUsage
	case errors.As(err, &ae):
		ae.print(stderr)
		return ExitError
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	return ExitError
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: sesame <command> <subcommand> [flags] [args]

Client commands (talk to a Sesame server with an API token):
  request   create, list, show, approve, reject, cancel, remind, preview
  grant     list, show, revoke, extend, complete
  audit     list, export, verify
  me        show who the token belongs to

Every client command takes --server (env SESAME_SERVER, default `+DefaultServer+`),
--token (env SESAME_TOKEN) and --json (print the API's JSON).
Run "sesame <command> -h" for its subcommands.
`)
}

func printGroupUsage(w io.Writer, group string, cmds []command) {
	fmt.Fprintf(w, "Usage: sesame %s <subcommand> [flags] [args]\n\nSubcommands:\n", group)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"sesame %s <subcommand> -h\" for its flags and examples.\n", group)
}

// flags is a subcommand's flag set with the common flags.
type flags struct {
	fs     *flag.FlagSet
	server string
	token  string
	json   bool
}

// newFlags makes a flag set for "sesame <usage>", with the common flags
// defaulted from the environment. examples are shown by -h.
func (e *env) newFlags(name, usage, about string, examples ...string) *flags {
	f := &flags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.fs.SetOutput(e.stderr)
	server := e.getenv("SESAME_SERVER")
	if server == "" {
		server = DefaultServer
	}
	f.fs.StringVar(&f.server, "server", server, "Sesame server URL (env SESAME_SERVER)")
	f.fs.StringVar(&f.token, "token", "", "API token (env SESAME_TOKEN)")
	f.fs.BoolVar(&f.json, "json", false, "print the API's JSON instead of a table")
	f.fs.Usage = func() {
		out := f.fs.Output()
		fmt.Fprintf(out, "Usage: sesame %s\n\n%s\n\nFlags:\n", usage, about)
		f.fs.PrintDefaults()
		if len(examples) > 0 {
			fmt.Fprintf(out, "\nExamples:\n")
			for _, ex := range examples {
				fmt.Fprintf(out, "  %s\n", ex)
			}
		}
	}
	return f
}

// parse parses args, allowing flags after positional arguments
// ("approve req_1 --comment ok"); "--" ends the flags. It checks the
// number of positional arguments and returns them.
func (f *flags) parse(args []string, minArgs, maxArgs int, argsName string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%s %v (see -h)", f.fs.Name(), err)
		}
		rest := f.fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < minArgs:
		return nil, usagef("%s: missing %s (see -h)", f.fs.Name(), argsName)
	case len(pos) > maxArgs:
		return nil, usagef("%s: unexpected argument %q (see -h)", f.fs.Name(), pos[maxArgs])
	}
	return pos, nil
}

// setup parses args (see parse) and returns the positional arguments and
// a client.
func (f *flags) setup(e *env, args []string, minArgs, maxArgs int, argsName string) ([]string, *client, error) {
	pos, err := f.parse(args, minArgs, maxArgs, argsName)
	if err != nil {
		return nil, nil, err
	}
	c, err := f.client(e)
	if err != nil {
		return nil, nil, err
	}
	return pos, c, nil
}

// client returns an API client for the flags.
func (f *flags) client(e *env) (*client, error) {
	token := f.token
	if token == "" {
		token = e.getenv("SESAME_TOKEN")
	}
	if token == "" {
		return nil, usagef("no API token: set SESAME_TOKEN or pass --token")
	}
	u, err := url.Parse(strings.TrimRight(f.server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--server %q is not an http(s) URL", f.server)
	}
	return newClient(u.String(), token), nil
}

// listFlag collects a repeatable flag; each value may also be a comma
// list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}
