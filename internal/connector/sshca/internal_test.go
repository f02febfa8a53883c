package sshca

import (
	"strings"
	"testing"
)

// FuzzPrincipals checks that whatever the entitlement key and email, the
// principals are non-empty, valid and never contain separators.
func FuzzPrincipals(f *testing.F) {
	for _, s := range []string{"deploy", "deploy,ubuntu", " , ", "root shell", "a\nb", "{key}"} {
		f.Add(s, "jane@example.com")
	}
	f.Fuzz(func(t *testing.T, key, email string) {
		for _, tmpl := range []string{DefaultPrincipalsTemplate, "{email_local},{key}", "{email}"} {
			ps, err := principals(tmpl, key, email)
			if err != nil {
				continue
			}
			if len(ps) == 0 {
				t.Fatalf("no principals and no error for %q", key)
			}
			for _, p := range ps {
				if !validPrincipal.MatchString(p) || strings.ContainsAny(p, ", \t\r\n") {
					t.Fatalf("bad principal %q from key %q email %q", p, key, email)
				}
			}
		}
	})
}
