package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/store/postgres"
)

// slowConfig is a small catalog whose "slow" app takes a while to
// provision, so a test can kill the server mid-way.
const slowConfig = `
database: %s
users:
  - {email: alice@example.com, name: Alice, manager: bob@example.com}
  - {email: bob@example.com, name: Bob}
  - {email: carol@example.com, name: Carol, roles: [admin]}
catalog:
  apps:
    - id: slow
      name: Slow app
      owners: [bob@example.com]
      connector: {type: fake, settings: {delay: %s}}
      entitlements:
        - {key: admin, name: Admin, max_duration: 8h}
        - {key: read, name: Read, max_duration: 8h}
        - {key: write, name: Write, max_duration: 8h}
policies:
  - id: default
    default: true
    max_duration: 8h
    steps: [{name: Owner, approvers: {app_owners: true}}]
`

// TestServeDemoFromScratch runs the binary with no flags and no config in
// an empty directory: it creates ./sesame-data, loads the demo, serves
// the API, shuts down cleanly on Ctrl-C and reuses the data on restart.
func TestServeDemoFromScratch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := []string{"SESAME_DATA_DIR=" + filepath.Join(dir, "sesame-data")}
	p := startServe(t, env)
	require.Contains(t, p.Logs(), "catalog:  demo")
	require.FileExists(t, filepath.Join(dir, "sesame-data", "sesame.db"))
	require.FileExists(t, filepath.Join(dir, "sesame-data", "secret.key"), "a key for secrets at rest is made on first start")

	alice := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "alice@example.com"))}
	bob := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "bob@example.com", "--expires", "1d"))}
	var r idState
	require.Equal(t, http.StatusCreated, alice.do("POST", "/requests", map[string]any{
		"entitlements": []string{"github:write"}, "duration": "2h", "reason": "fix the deploy pipeline", "approvers": []string{"bob@example.com"}}, &r))
	require.Equal(t, "pending", r.State)
	require.Equal(t, http.StatusOK, bob.do("POST", "/requests/"+r.ID+"/approve", map[string]any{"comment": "ok", "duration": "1h"}, &r))
	waitUntil(t, 20*time.Second, "grant active", func() bool {
		var got idState
		require.Equal(t, http.StatusOK, alice.do("GET", "/requests/"+r.ID, nil, &got))
		return got.State == "active" && len(got.Grants) == 1 && got.Grants[0].State == "active"
	})

	metrics := func() string {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.url()+"/metrics", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var buf bytes.Buffer
		_, err = buf.ReadFrom(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return buf.String()
	}
	// River reports job completions asynchronously: wait for the last one.
	waitUntil(t, 10*time.Second, "provision job metric", func() bool {
		return strings.Contains(metrics(), `sesame_jobs_finished_total{kind="provision",outcome="completed"} 1`)
	})
	m := metrics()
	for _, want := range []string{`sesame_grants{state="active"} 1`, `sesame_requests{state="active"} 1`,
		`sesame_http_request_duration_seconds_count{code="201",method="POST",route="POST /api/v1/requests"} 1`,
		"sesame_job_queue_depth", "sesame_job_run_seconds_bucket"} {
		require.Contains(t, m, want)
	}

	p.interrupt(t)
	p2 := startServe(t, env)
	alice.base = p2.url()
	var again idState
	require.Equal(t, http.StatusOK, alice.do("GET", "/requests/"+r.ID, nil, &again))
	require.Equal(t, "active", again.State, "a second start reuses the data")
	var verify struct {
		OK    bool  `json:"ok"`
		Count int64 `json:"count"`
	}
	carol := client{t, p2.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "carol@example.com"))}
	require.Equal(t, http.StatusOK, carol.do("GET", "/audit/verify", nil, &verify))
	require.True(t, verify.OK)
	require.Greater(t, verify.Count, int64(5))
}

// TestBadConfigNeverStarts checks that a broken config exits non-zero with
// file:line problems and no server.
func TestBadConfigNeverStarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "bad.yaml", "server:\n  addr: 127.0.0.1:0\norg:\n  max_duration: 1 fortnight\ncatalog:\n  apps:\n    - id: Bad App\n")
	cmd := exec(t, "serve", "--config", cfg)
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "bad.yaml:4")
	require.Contains(t, string(out), "org.max_duration")
	require.Contains(t, string(out), "bad.yaml:7")
	require.NoFileExists(t, filepath.Join(dir, "sesame-data", "sesame.db"))

	cmd = exec(t, "config", "validate", cfg)
	out, err = cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "catalog.apps[0].id")
}

// TestKill9LosesNothing kills the server with SIGKILL while requests are
// being submitted, decided and provisioned, restarts it, and checks that
// every request ends consistent: every approved request's grants get
// provisioned exactly once, nothing half-written exists, and the audit
// chain verifies.
func TestKill9LosesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := sprintf(slowConfig, "sqlite://"+filepath.Join(dir, "data", "sesame.db"), "2s")
	const burstUsers = 12
	var extra strings.Builder
	for i := range burstUsers {
		extra.WriteString(sprintf("  - {email: burst%02d@example.com, name: Burst %d}\n", i, i))
	}
	cfg = strings.Replace(cfg, "users:\n", "users:\n"+extra.String(), 1)
	cfgPath := writeFile(t, dir, "sesame.yaml", cfg)
	env := []string{"SESAME_CONFIG=" + cfgPath}
	tuning := []string{"--job-timeout", "5s", "--job-rescue-after", "6s", "--sweep-interval", "1s", "--stall-after", "2s"}
	p := startServe(t, env, tuning...)
	alice := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "alice@example.com"))}
	bob := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "bob@example.com"))}
	carol := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "carol@example.com"))}

	var burst []string
	for i := range burstUsers {
		burst = append(burst, strings.TrimSpace(runCLI(t, env, "token", "create", "--user", sprintf("burst%02d@example.com", i))))
	}

	// Approved requests whose provisioning (2s each) is under way.
	var approved []string
	for _, ent := range []string{"slow:admin", "slow:read"} {
		var r idState
		require.Equal(t, http.StatusCreated, alice.do("POST", "/requests", map[string]any{"entitlements": []string{ent}, "duration": "1h", "reason": "kill test"}, &r))
		require.Equal(t, http.StatusOK, bob.do("POST", "/requests/"+r.ID+"/approve", map[string]any{}, &r))
		approved = append(approved, r.ID)
	}
	// A burst of submits racing the kill: each either fully exists or not at all.
	var submitted atomic.Int32
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for _, tok := range burst {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url()+"/api/v1/requests",
				strings.NewReader(`{"entitlements":["slow:write"],"duration":"1h","reason":"burst"}`))
			if err != nil {
				cancel()
				return
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			cancel()
			if err != nil {
				return // the server died
			}
			if resp.StatusCode == http.StatusCreated {
				submitted.Add(1)
			}
			_ = resp.Body.Close() //nolint:errcheck // status is enough
		}
	})
	// Kill while the first grant is being provisioned (the fake takes 2s).
	waitUntil(t, 20*time.Second, "provisioning under way", func() bool {
		var before idState
		require.Equal(t, http.StatusOK, alice.do("GET", "/requests/"+approved[0], nil, &before))
		return len(before.Grants) == 1 && before.Grants[0].State == "provisioning"
	})
	p.kill()
	close(stop)
	wg.Wait()

	p2 := startServe(t, env, tuning...)
	alice.base, carol.base = p2.url(), p2.url()
	for _, id := range approved {
		waitUntil(t, 60*time.Second, "grant of "+id+" active after restart", func() bool {
			var got idState
			require.Equal(t, http.StatusOK, alice.do("GET", "/requests/"+id, nil, &got))
			return got.State == "active" && len(got.Grants) == 1 && got.Grants[0].State == "active"
		})
	}
	// The burst: every stored request is whole (pending, with its approver
	// and its approval notification written in the same transaction).
	var list struct {
		Items []struct {
			ID        string `json:"id"`
			State     string `json:"state"`
			AppID     string `json:"app_id"`
			Approvers []any  `json:"approvers"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, carol.do("GET", "/requests?limit=500", nil, &list), "carol is an admin and sees all")
	burstStored := 0
	for _, it := range list.Items {
		if it.State == "pending" {
			burstStored++
			require.NotEmpty(t, it.Approvers)
		}
	}
	require.GreaterOrEqual(t, burstStored, int(submitted.Load()), "every acknowledged submit survived")
	t.Logf("burst: %d acknowledged, %d stored", submitted.Load(), burstStored)
	// Exactly one provisioning per grant.
	var events struct {
		Items []struct {
			SubjectID string `json:"subject_id"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, carol.do("GET", "/audit?action=grant.provisioned&limit=500", nil, &events))
	seen := map[string]int{}
	for _, e := range events.Items {
		seen[e.SubjectID]++
	}
	require.Len(t, seen, len(approved))
	for id, n := range seen {
		require.Equal(t, 1, n, "grant %s provisioned once", id)
	}
	var verify struct {
		OK bool `json:"ok"`
	}
	require.Equal(t, http.StatusOK, carol.do("GET", "/audit/verify", nil, &verify))
	require.True(t, verify.OK)
}

// TestTwoReplicasOnPostgres runs two servers on one PostgreSQL schema: any
// replica answers any request, a grant is provisioned once, and periodic
// work (the sweeper) runs on the leader only.
func TestTwoReplicasOnPostgres(t *testing.T) {
	t.Parallel()
	url := postgres.TestURL(t)
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "sesame.yaml", sprintf(slowConfig, "'"+url+"'", "100ms"))
	// Every replica shares one key for secrets at rest.
	env := []string{"SESAME_CONFIG=" + cfgPath, "SESAME_SECRET_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}
	tuning := []string{"--sweep-interval", "1s"}
	a := startServe(t, env, tuning...)
	b := startServe(t, env, tuning...)
	alice := client{t, a.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "alice@example.com"))}
	bob := client{t, b.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "bob@example.com"))}
	carol := client{t, b.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "carol@example.com"))}

	var ids []string
	for _, ent := range []string{"slow:admin", "slow:read", "slow:write"} {
		var r idState
		require.Equal(t, http.StatusCreated, alice.do("POST", "/requests", map[string]any{"entitlements": []string{ent}, "duration": "1h", "reason": "replica test"}, &r))
		require.Equal(t, http.StatusOK, bob.do("POST", "/requests/"+r.ID+"/approve", map[string]any{}, &r), "approved on the other replica")
		ids = append(ids, r.ID)
	}
	for _, id := range ids {
		waitUntil(t, 30*time.Second, "grant active", func() bool {
			var got idState
			require.Equal(t, http.StatusOK, carol.do("GET", "/requests/"+id, nil, &got))
			return got.State == "active"
		})
	}
	var events struct {
		Items []struct {
			SubjectID string `json:"subject_id"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, carol.do("GET", "/audit?action=grant.provisioned&limit=500", nil, &events))
	require.Len(t, events.Items, len(ids), "each grant provisioned once across replicas")

	// Periodic work: over ~4s with a 1s interval, one leader inserts about
	// 4-6 sweeps; two would insert about twice that.
	pool, err := postgres.OpenPool(t.Context(), url)
	require.NoError(t, err)
	defer pool.Close()
	count := func() int {
		var n int
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM river_job WHERE kind = 'sweep'`).Scan(&n))
		return n
	}
	before := count()
	time.Sleep(4 * time.Second)
	delta := count() - before
	require.GreaterOrEqual(t, delta, 2, "the leader sweeps")
	require.LessOrEqual(t, delta, 6, "only the leader sweeps")
}

// TestPolicyTestCommand runs `sesame policy test` on the demo catalog.
func TestPolicyTestCommand(t *testing.T) {
	t.Parallel()
	env := []string{"SESAME_DATA_DIR=" + filepath.Join(t.TempDir(), "data")}
	out := runCLI(t, env, "policy", "test", "--requester", "alice@example.com", "--app", "aws-prod",
		"--entitlement", "admin", "--duration", "2h", "--reason", "INC-1234 prod outage")
	for _, want := range []string{"Outcome: needs approval in 2 steps (policy high-risk)",
		"bob@example.com (Bob Brown): member of group managers; the requester's manager", "Notified on submit: 2 people"} {
		require.Contains(t, out, want)
	}
	cmd := exec(t, "policy", "test", "--requester", "alice@example.com", "--app", "aws-prod", "--entitlement", "admin", "--duration", "3h")
	cmd.Env = append(cmd.Environ(), env...)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	require.Contains(t, string(b), "duration", "a too long duration is explained")
}
