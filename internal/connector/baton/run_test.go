package baton

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	stderr := `{"level":"info","ts":1,"msg":"starting"}
{"level":"error","ts":2,"msg":"error running connector","error":"rpc error: code = Unavailable desc = 503"}
plain line
`
	require.Equal(t, "error running connector: rpc error: code = Unavailable desc = 503", summarize([]byte(stderr)))
	require.Equal(t, "a; b", summarize([]byte("a\n\nb\n")))
	require.Equal(t, "no error output", summarize(nil))
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		summary   string
		args      []string
		permanent bool
		notFound  bool
	}{
		{summary: "rpc error: code = Unavailable desc = 503", permanent: false},
		{summary: "rpc error: code = PermissionDenied desc = nope", permanent: true},
		{summary: "rpc error: code = Unauthenticated desc = bad token", permanent: true},
		{summary: "grant x not found", permanent: true, notFound: true},
		{summary: "rpc error: code = NotFound desc = no such user", permanent: true, notFound: true},
		// The entitlement id itself mentions a permission set: that is not a
		// permission error.
		{summary: "timeout granting permission-set:ps-1:assigned", args: []string{"permission-set:ps-1:assigned"}, permanent: false},
	} {
		err := classify(&RunError{Op: "grant", ExitCode: 1, Summary: tc.summary}, tc.args)
		require.Equal(t, tc.permanent, connector.IsPermanent(err), tc.summary)
		require.Equal(t, tc.notFound, isNotFound(err), tc.summary)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	c := &Connector{secrets: []string{"hunter2hunter2", "abc"}}
	require.Equal(t, "token [REDACTED] rejected; abc", c.redact("token hunter2hunter2 rejected; abc"))
}

func FuzzSummarize(f *testing.F) {
	f.Add([]byte(`{"level":"error","msg":"x","error":"y"}`))
	f.Add([]byte("{\n{\"level\":1}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s := summarize(b); len(s) > maxSummary+3 {
			t.Fatalf("summary too long: %d", len(s))
		}
	})
}
