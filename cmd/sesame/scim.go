package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/scimserver"
)

// scimCmd is "scim token create|list|revoke": bearer tokens of SCIM
// provisioning clients, working on the database directly.
func scimCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	const use = `Usage:
  sesame scim token create --name okta [--config FILE]   prints the token once
  sesame scim token list [--json] [--config FILE]
  sesame scim token revoke ID|NAME [--config FILE]

The SCIM base URL to give the identity provider is <server.base_url>/scim/v2.
`
	if len(args) < 2 || args[0] != "token" {
		fmt.Fprint(stderr, use)
		return 2
	}
	sub := args[1]
	fs := flag.NewFlagSet("scim token "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("SESAME_CONFIG"), "configuration file (env SESAME_CONFIG)")
	name := fs.String("name", "", "the provisioning client's name (okta, entra...)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	switch {
	case sub == "create" && *name == "":
		fmt.Fprint(stderr, "sesame scim token create: --name is required\n\n"+use)
		return 2
	case sub == "revoke" && fs.NArg() != 1:
		fmt.Fprint(stderr, use)
		return 2
	case sub != "create" && sub != "list" && sub != "revoke":
		fmt.Fprintf(stderr, "sesame scim token: unknown subcommand %q\n\n%s", sub, use)
		return 2
	}
	db, err := openForOps(ctx, *configPath, stderr, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sesame scim token: %v\n", err)
		return 1
	}
	defer db.Close() //nolint:errcheck // errors surface in the command
	now := clock.Real{}.Now().UTC()
	switch sub {
	case "create":
		secret, c, err := scimserver.CreateClient(ctx, db.store, *name, "cli", now)
		if err != nil {
			fmt.Fprintf(stderr, "sesame scim token create: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "Created SCIM client %s (%s). The token is shown once; give it to the identity provider now:\n", c.ID, c.Name)
		fmt.Fprintln(stdout, secret)
		return 0
	case "list":
		list, err := scimserver.ListClients(ctx, db.store)
		if err != nil {
			fmt.Fprintf(stderr, "sesame scim token list: %v\n", err)
			return 1
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(list); err != nil {
				return 1
			}
			return 0
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED\tSTATUS")
		for _, c := range list {
			status := "valid"
			if !c.RevokedAt.IsZero() {
				status = "revoked " + fmtTime(c.RevokedAt)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, fmtTime(c.CreatedAt), fmtTime(c.LastUsedAt), status)
		}
		if err := tw.Flush(); err != nil {
			return 1
		}
		return 0
	default: // revoke
		c, err := scimserver.RevokeClient(ctx, db.store, fs.Arg(0), "cli", now)
		if err != nil {
			fmt.Fprintf(stderr, "sesame scim token revoke: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "revoked %s (%s)\n", c.ID, c.Name)
		return 0
	}
}
