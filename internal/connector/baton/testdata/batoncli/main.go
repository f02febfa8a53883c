// Command batoncli stands in for the baton CLI (github.com/conductorone/baton)
// in the bridge's tests: `batoncli -f <c1z> grants|entitlements|resources
// [--resource-type T] --output-format json` prints what baton prints
// (protojson of baton.v1 GrantListOutput, EntitlementListOutput and
// ResourceListOutput), read from batonfake's JSON snapshot.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

type snapshot struct {
	Users []struct {
		ID, Email, Name string
	} `json:"users"`
	Entitlements []struct {
		ID, Name, Description string
	} `json:"entitlements"`
	Grants []struct {
		Entitlement   string `json:"entitlement"`
		PrincipalType string `json:"principal_type"`
		Principal     string `json:"principal"`
	} `json:"grants"`
}

func rid(typ, id string) map[string]any { return map[string]any{"resourceType": typ, "resource": id} }

func main() {
	fs := flag.NewFlagSet("baton", flag.ContinueOnError)
	file := fs.String("file", "sync.c1z", "")
	fs.StringVar(file, "f", "sync.c1z", "")
	format := fs.String("output-format", "console", "")
	fs.StringVar(format, "o", "console", "")
	if err := fs.Parse(os.Args[1:]); err != nil || fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: baton -f FILE COMMAND")
		os.Exit(1)
	}
	cmd := fs.Arg(0)
	sub := flag.NewFlagSet(cmd, flag.ContinueOnError)
	rtype := sub.String("resource-type", "", "")
	sub.StringVar(format, "output-format", *format, "")
	if err := sub.Parse(fs.Args()[1:]); err != nil {
		os.Exit(1)
	}
	if *format != "json" {
		fmt.Fprintln(os.Stderr, "only json output in the fake")
		os.Exit(1)
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		fmt.Fprintln(os.Stderr, "not a c1z:", err)
		os.Exit(1)
	}
	var out any
	switch cmd {
	case "grants":
		var gs []map[string]any
		for _, g := range s.Grants {
			gs = append(gs, map[string]any{
				"grant": map[string]any{
					"id":          g.Entitlement + ":" + g.PrincipalType + ":" + g.Principal,
					"entitlement": map[string]any{"id": g.Entitlement},
					"principal":   map[string]any{"id": rid(g.PrincipalType, g.Principal)},
				},
				"entitlement": map[string]any{"id": g.Entitlement},
				"principal":   map[string]any{"id": rid(g.PrincipalType, g.Principal), "displayName": g.Principal},
			})
		}
		out = map[string]any{"grants": gs}
	case "entitlements":
		var es []map[string]any
		for _, e := range s.Entitlements {
			es = append(es, map[string]any{"entitlement": map[string]any{"id": e.ID, "displayName": e.Name, "description": e.Description}})
		}
		out = map[string]any{"entitlements": es}
	case "resources":
		var rs []map[string]any
		for _, u := range s.Users {
			if *rtype != "" && *rtype != "user" {
				continue
			}
			rs = append(rs, map[string]any{"resource": map[string]any{
				"id": rid("user", u.ID), "displayName": u.Name,
				"annotations": []map[string]any{{
					"@type":  "type.googleapis.com/c1.connector.v2.UserTrait",
					"emails": []map[string]any{{"address": u.Email, "isPrimary": true}},
				}},
			}})
		}
		out = map[string]any{"resources": rs}
	default:
		fmt.Fprintln(os.Stderr, "unknown command", cmd)
		os.Exit(1)
	}
	b, err = json.Marshal(out)
	if err != nil {
		os.Exit(1)
	}
	fmt.Print(string(b))
}
