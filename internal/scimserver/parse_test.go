package scimserver

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestApplyPatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, before, ops, after string
	}{
		{"add a work email through a value-filter path",
			`{"userName":"a","emails":[{"type":"home","value":"h@x"}]}`,
			`[{"op":"add","path":"emails[type eq \"work\"].value","value":"w@x"}]`,
			`{"userName":"a","emails":[{"type":"home","value":"h@x"},{"type":"work","value":"w@x"}]}`},
		{"replace the matching item's sub-attribute",
			`{"emails":[{"type":"work","value":"old@x","primary":true}]}`,
			`[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@x"}]`,
			`{"emails":[{"type":"work","value":"new@x","primary":true}]}`},
		{"remove by a value filter",
			`{"members":[{"value":"1"},{"value":"2"}]}`,
			`[{"op":"remove","path":"members[value eq \"1\"]"}]`,
			`{"members":[{"value":"2"}]}`},
		{"remove by a value list",
			`{"members":[{"value":"1"},{"value":"2"},{"value":"3"}]}`,
			`[{"op":"Remove","path":"members","value":[{"value":"1"},{"value":"3"}]}]`,
			`{"members":[{"value":"2"}]}`},
		{"remove every member",
			`{"displayName":"g","members":[{"value":"1"}]}`,
			`[{"op":"remove","path":"members"}]`,
			`{"displayName":"g"}`},
		{"add members skips duplicates",
			`{"members":[{"value":"1"}]}`,
			`[{"op":"add","path":"members","value":[{"value":"1"},{"value":"2"}]}]`,
			`{"members":[{"value":"1"},{"value":"2"}]}`},
		{"path-less replace merges an extension",
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"a","employeeNumber":"7"}}`,
			`[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"b"}}}]`,
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"b","employeeNumber":"7"}}`},
		{"attribute names match in any case",
			`{"displayName":"x","name":{"givenName":"a"}}`,
			`[{"op":"REPLACE","path":"DisplayName","value":"y"},{"op":"replace","path":"NAME.GIVENNAME","value":"b"}]`,
			`{"displayName":"y","name":{"givenName":"b"}}`},
		{"remove a missing attribute is fine",
			`{"title":"t"}`,
			`[{"op":"remove","path":"nickName"},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`,
			`{"title":"t"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d, err := parseDoc([]byte(c.before))
			require.NoError(t, err)
			p, err := parsePatch([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + c.ops + `}`))
			require.NoError(t, err)
			require.NoError(t, p.apply(d))
			got, err := json.Marshal(d)
			require.NoError(t, err)
			require.JSONEq(t, c.after, string(got))
		})
	}
}

func TestNormalizeUser(t *testing.T) {
	t.Parallel()
	d, err := parseDoc([]byte(`{"userName":"u","active":"False","password":"secret","id":"x","groups":[{"value":"g"}],
		"emails":[{"value":"A@X.io","primary":"True","type":"work"}],"manager":"m1"}`))
	require.NoError(t, err)
	require.NoError(t, normalizeUser(d))
	f, err := mapUser(d)
	require.NoError(t, err)
	require.Equal(t, userFields{UserName: "u", Email: "a@x.io", Name: "u", ManagerID: "m1", Active: false}, f)
	require.NotContains(t, d, "password")
	require.NotContains(t, d, "id")
	require.NotContains(t, d, "groups")
	require.Equal(t, map[string]any{"manager": map[string]any{"value": "m1"}}, d[SchemaEnterprise])
}

func TestFilters(t *testing.T) {
	t.Parallel()
	d, err := parseDoc([]byte(`{"id":"usr_1","userName":"Bjensen@Example.com","active":true,"externalId":"Ext",
		"emails":[{"type":"work","value":"bj@example.com"},{"type":"home","value":"b@home.net"}],
		"name":{"familyName":"Jensen"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"usr_9"}},
		"meta":{"lastModified":"2026-01-02T00:00:00Z"}}`))
	require.NoError(t, err)
	cases := []struct {
		filter string
		want   bool
	}{
		{`userName eq "bjensen@example.com"`, true},
		{`USERNAME Eq "BJENSEN@EXAMPLE.COM"`, true},
		{`externalId eq "ext"`, false},
		{`externalId eq "Ext"`, true},
		{`emails[type eq "work"].value eq "bj@example.com"`, true},
		{`emails[type eq "home"].value eq "bj@example.com"`, false},
		{`emails[type eq "work" and value co "example"]`, true},
		{`emails.value eq "b@home.net"`, true},
		{`emails co "home"`, true},
		{`name.familyName sw "jen"`, true},
		{`active eq true and not (userName eq "x")`, true},
		{`active eq false or externalId pr`, true},
		{`title pr`, false},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "usr_9"`, true},
		{`meta.lastModified gt "2025-12-31T00:00:00Z"`, true},
		{`userName ne "bjensen@example.com"`, false},
	}
	for _, c := range cases {
		e, err := parseFilter(c.filter)
		require.NoError(t, err, c.filter)
		require.Equal(t, c.want, eval(d, e), c.filter)
	}
	for _, bad := range []string{`userName eq`, `userName xx "a"`, `(userName eq "a"`, `emails[type eq "work"`} {
		_, err := parseFilter(bad)
		require.Error(t, err, bad)
		se, ok := errors.AsType[*scimError](err)
		require.True(t, ok, bad)
		require.Equal(t, "invalidFilter", se.ScimType, bad)
	}
}

// FuzzFilter: no filter text panics the parser, the rewrite or the
// evaluator; a parse error is always invalidFilter.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{`userName eq "a"`, `emails[type eq "work"].value eq "x"`, `id eq "1" and members[value eq "2"]`,
		`not (a pr) or b.c gt 3`, `x[y[z eq 1]]`, `a eq "\"\\"`, `meta.lastModified ge "2011-05-13T04:42:34Z"`} {
		f.Add(s)
	}
	d, err := parseDoc([]byte(`{"id":"1","userName":"a","emails":[{"type":"work","value":"x"}],"members":[{"value":"2"}],"a":{"b":1},"n":3}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseFilter(s)
		if err != nil {
			if se, ok := errors.AsType[*scimError](err); !ok || se.ScimType != "invalidFilter" {
				t.Fatalf("parse error %v is not invalidFilter", err)
			}
			return
		}
		_ = eval(d, e)
		_ = pushdown(e, false)
		_ = pushdown(e, true)
	})
}

// FuzzPatch: no PATCH body panics parsing, application or normalisation;
// errors are SCIM errors.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`{"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"1\"]"}]}`,
		`{"Operations":[{"op":"Add","path":"emails[type eq \"work\"].value","value":"w@x"}]}`,
		`{"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"value":"m"}]}]}`,
		`{"Operations":[{"op":"replace","value":{"name.givenName":"a","emails[type eq \"work\"].value":"b"}}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		d, err := parseDoc([]byte(`{"userName":"u@x","emails":[{"type":"work","value":"u@x"}],"members":[{"value":"1"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		p, err := parsePatch([]byte(body))
		if err != nil {
			if _, ok := errors.AsType[*scimError](err); !ok {
				t.Fatalf("parse error %T is not a SCIM error", err)
			}
			return
		}
		if err := p.apply(d); err != nil {
			if _, ok := errors.AsType[*scimError](err); !ok {
				t.Fatalf("apply error %T is not a SCIM error", err)
			}
			return
		}
		if err := normalizeUser(d); err != nil {
			if _, ok := errors.AsType[*scimError](err); !ok {
				t.Fatalf("normalize error %T is not a SCIM error", err)
			}
			return
		}
		if _, err := mapUser(d); err != nil {
			if _, ok := errors.AsType[*scimError](err); !ok {
				t.Fatalf("map error %T is not a SCIM error", err)
			}
		}
		if _, _, _, err := groupFields(d); err != nil {
			if _, ok := errors.AsType[*scimError](err); !ok {
				t.Fatalf("group error %T is not a SCIM error", err)
			}
		}
	})
}
