// Command sesame is Sesame's single binary: the server (serve), operator
// commands that work on the database directly (token, migrate, config),
// and a client of the REST API for people and scripts (request, grant,
// audit, me).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sesame-access/sesame/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev" //nolint:gochecknoglobals // set by the linker

const usage = `Sesame: just-in-time access requests, run from Slack.

Usage: sesame <command> [flags]

Server and operators:
  serve             run the server (embedded SQLite and a demo catalog by default)
  config validate   check a configuration file and list every problem
  config env        list the SESAME_* environment variables
  admin bootstrap   make a user an admin and print a one-time dashboard sign-in link
  token create      create an API token for a user (prints it once)
  token list        list API tokens
  token revoke      revoke an API token
  migrate           apply database migrations and exit
  scim token        create|list|revoke bearer tokens of SCIM provisioning clients (Okta, Entra)
  slack manifest    print the Slack app manifest (socket or http mode)
  slack link        bind a Slack user who ran "/access login" to a Sesame user
  policy test       explain what the policies do with a request
  bench             measure throughput and latency (see README "Performance")

API client (--server, --token or SESAME_SERVER, SESAME_TOKEN):
  request           create|list|show|approve|reject|cancel|remind|preview
  grant             list|show|revoke|extend|complete
  audit             list|export|verify
  policy            list|changes|show|propose|approve|reject (policy changes; two-person rule)
  me                who the token belongs to

  version           print the version

Run "sesame <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run dispatches a command line and returns the exit code: 0 success, 1
// failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, getenv)
	case "config":
		return configCmd(args[1:], stdout, stderr, getenv)
	case "token":
		return tokenCmd(ctx, args[1:], stdout, stderr, getenv)
	case "admin":
		return adminCmd(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		return migrateCmd(ctx, args[1:], stdout, stderr, getenv)
	case "scim":
		return scimCmd(ctx, args[1:], stdout, stderr, getenv)
	case "slack":
		return slackCmd(ctx, args[1:], stdout, stderr, getenv)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr, getenv)
	case "policy":
		if len(args) > 1 && args[1] == "test" {
			return policyCmd(ctx, args[1:], stdout, stderr, getenv)
		}
		return cli.Run(ctx, args, stdout, stderr, getenv)
	case "request", "grant", "audit", "me":
		return cli.Run(ctx, args, stdout, stderr, getenv)
	case "version", "--version":
		fmt.Fprintln(stdout, "sesame", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "sesame: unknown command %q\n\n%s", args[0], usage)
	return 2
}
