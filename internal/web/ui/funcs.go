package ui

import (
	"encoding/json"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// funcs are the template helpers.
var funcs = template.FuncMap{ //nolint:gochecknoglobals // immutable table of pure functions
	"dur": func(d time.Duration) string {
		if d <= 0 {
			return "—"
		}
		return access.FormatDuration(d)
	},
	"join": strings.Join,
	"json": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err.Error()
		}
		return string(b)
	},
	"short": func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		return s[:n] + "…"
	},
	"add": func(a, b int) int { return a + b },
	// v pairs the request context with data for a sub-template.
	"v": func(c *Ctx, d any) view { return view{C: c, D: d} },
	// row pairs the request context with one request.
	"row": func(c *Ctx, r *access.Request) map[string]any { return map[string]any{"C": c, "R": r} },
	"has": slices.Contains[[]string],
}
