package restclient_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector/restclient"
)

func TestDo(t *testing.T) {
	t.Parallel()
	write := func(w http.ResponseWriter, body string) {
		if _, err := io.WriteString(w, body); err != nil {
			t.Error(err)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			write(w, `{"name":"x"}`)
		case "/empty":
			w.WriteHeader(http.StatusCreated)
		case "/bad-json":
			write(w, `{"name":`)
		case "/denied":
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusForbidden)
			write(w, `{"message":"no"}`)
		}
	}))
	t.Cleanup(srv.Close)
	get := func(path string, out any) (*restclient.Answer, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, http.NoBody)
		require.NoError(t, err)
		return restclient.Do(srv.Client(), req, "test: GET "+path, out)
	}

	var out struct{ Name string }
	a, err := get("/ok", &out)
	require.NoError(t, err)
	require.True(t, a.OK())
	require.Equal(t, "x", out.Name)

	a, err = get("/empty", &out)
	require.NoError(t, err, "a blank 2xx body decodes to nothing")
	require.Equal(t, http.StatusCreated, a.Status)

	a, err = get("/bad-json", &out)
	require.ErrorContains(t, err, "test: GET /bad-json: decode answer")
	require.NotNil(t, a)

	a, err = get("/denied", &out)
	require.NoError(t, err, "a non-2xx answer is the caller's to classify")
	require.False(t, a.OK())
	require.Equal(t, "3", a.Header.Get("Retry-After"))
	require.JSONEq(t, `{"message":"no"}`, string(a.Body))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ok", http.NoBody)
	require.NoError(t, err)
	_, err = restclient.Do(srv.Client(), req, "test: GET /ok", nil)
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, strings.HasPrefix(err.Error(), "test: GET /ok: "))
}
