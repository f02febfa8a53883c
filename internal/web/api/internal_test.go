package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
)

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas         map[string]json.RawMessage `json:"schemas"`
			SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.Len(t, doc.Servers, 1)
	require.Equal(t, Prefix, doc.Servers[0].URL)
	require.Contains(t, doc.Components.Schemas, "Problem")
	require.Contains(t, doc.Components.SecuritySchemes, "bearerAuth")

	methods := []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}
	var documented []string
	for path, item := range doc.Paths {
		for key, op := range item {
			if !slices.Contains(methods, key) {
				continue
			}
			documented = append(documented, strings.ToUpper(key)+" "+Prefix+path)
			var o struct {
				OperationID string                     `json:"operationId"`
				Responses   map[string]json.RawMessage `json:"responses"`
				Security    *[]map[string][]string     `json:"security"`
			}
			require.NoError(t, json.Unmarshal(op, &o), path)
			require.NotEmpty(t, o.OperationID, "%s %s", key, path)
			require.NotEmpty(t, o.Responses, "%s %s", key, path)
		}
	}
	var registered []string
	for _, rt := range routeTable() {
		registered = append(registered, rt.Method+" "+rt.Path)
	}
	require.ElementsMatch(t, registered, documented)

	// Every $ref points at a schema, parameter or response that exists.
	var all map[string]any
	require.NoError(t, json.Unmarshal(openAPIDocument, &all))
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
				var cur any = all
				for _, p := range parts {
					m, ok := cur.(map[string]any)
					require.True(t, ok, "dangling $ref %s", ref)
					cur, ok = m[p]
					require.True(t, ok, "dangling $ref %s", ref)
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(all)
}

func TestRoutesAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, rt := range routeTable() {
		key := rt.Method + " " + rt.Path
		require.False(t, seen[key], key)
		seen[key] = true
		require.True(t, strings.HasPrefix(rt.Path, Prefix+"/"), key)
		require.NotNil(t, rt.Handle, key)
		require.Equal(t, rt.Path == Prefix+"/openapi.json", rt.Public, key)
	}
}

func TestPathMatches(t *testing.T) {
	t.Parallel()
	require.True(t, pathMatches("/api/v1/requests/{id}/approve", "/api/v1/requests/req_1/approve"))
	require.False(t, pathMatches("/api/v1/requests/{id}/approve", "/api/v1/requests//approve"))
	require.False(t, pathMatches("/api/v1/requests/{id}", "/api/v1/requests/a/b"))
	require.True(t, pathMatches("/api/v1/requests", "/api/v1/requests"))
}

func TestStatusMapping(t *testing.T) {
	t.Parallel()
	for code, status := range map[access.Code]int{
		access.CodeInvalid: 422, access.CodeNotFound: 404, access.CodeForbidden: 403, access.CodeUnauthorized: 401,
		access.CodeConflict: 409, access.CodeRateLimited: 429, access.CodeUnavailable: 503, "": 500,
	} {
		pr := problemFor(&access.Error{Code: code, Message: "m"})
		require.Equal(t, status, pr.Status, code)
		if status == http.StatusInternalServerError {
			require.NotContains(t, pr.Detail, "m", "internal messages are not shown")
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	var b decideBody
	require.NoError(t, decodeJSON([]byte(` {"comment":"ok","duration":"1h"} `), &b))
	require.Equal(t, "ok", b.Comment)
	for _, in := range []string{``, `null`, `[]`, `{"comment":1}`, `{"x":1}`, `{} {}`, `{"comment":"a"`, `{}x`} {
		err := decodeJSON([]byte(in), &decideBody{})
		var he *httpError
		require.ErrorAs(t, err, &he, in)
		require.Equal(t, http.StatusBadRequest, he.status, in)
	}
}

func FuzzDecodeSubmit(f *testing.F) {
	for _, s := range []string{
		`{"entitlements":["github:write"],"duration":"2h","reason":"fix prod incident","approvers":["bob@example.com"]}`,
		`{"entitlements":["db:read"]}`,
		`{"entitlements":[],"duration":"-1h"}`,
		`{"entitlements":["a:b","a:b"],"duration":"1 fortnight","approvers":["x"]}`,
		`{"duration":3600}`,
		`{"entitlements":["github:write"]} trailing`,
		`null`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseSubmit(data)
		if err != nil {
			require.NotEmpty(t, problemFor(err).Code)
			require.Less(t, problemFor(err).Status, 500, "a bad body is never an internal error")
			return
		}
		require.NotEmpty(t, p.Entitlements)
		require.LessOrEqual(t, len(p.Entitlements), maxListItems)
		for _, e := range p.Entitlements {
			require.True(t, validID(e, maxEntitlementLength), e)
			require.Contains(t, e, ":")
		}
		require.GreaterOrEqual(t, p.Duration, time.Duration(0))
		require.LessOrEqual(t, p.Duration, access.MaxParsableDuration)
		require.LessOrEqual(t, len(p.Approvers), maxListItems)
		for _, a := range p.Approvers {
			require.True(t, validEmail(a) || validID(a, maxIDLength), a)
		}
	})
}
