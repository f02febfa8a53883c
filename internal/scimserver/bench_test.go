package scimserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/scimserver"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
	"github.com/sesame-access/sesame/internal/store/sqlite"
	"github.com/sesame-access/sesame/internal/workflow"
)

// Sizes of BenchmarkIngest (flags, so a quick run can be smaller).
var (
	benchUsers   = flag.Int("scim.users", 100_000, "users BenchmarkIngest pushes")
	benchGroups  = flag.Int("scim.groups", 5_000, "groups BenchmarkIngest pushes")
	benchPerUser = flag.Int("scim.groups-per-user", 3, "groups each pushed user is a member of")
	benchClients = flag.Int("scim.clients", 4, "concurrent provisioning connections")
	benchDB      = flag.String("scim.db", "sqlite", "sqlite or postgres (SESAME_TEST_POSTGRES_URL)")
)

// BenchmarkIngest measures a full SCIM push the way an identity provider
// makes it on first sync: every user created with POST /Users (Okta's
// shape), then every group created with POST /Groups and filled with
// PATCH add-members operations of at most 100 members each, from a few
// concurrent connections, through the real HTTP handler and store.
// It reports the wall time of each phase, the rates, and the process's
// peak resident memory (VmHWM, the load generator included).
//
//	go test -run '^$' -bench Ingest -benchtime 1x -timeout 2h ./internal/scimserver
func BenchmarkIngest(b *testing.B) {
	for b.Loop() {
		runIngest(b)
	}
}

func runIngest(b *testing.B) {
	b.Helper()
	var st store.Store
	switch *benchDB {
	case "sqlite":
		st = sqlite.OpenTest(b)
	case "postgres":
		if os.Getenv("SESAME_TEST_POSTGRES_URL") == "" {
			b.Skip("SESAME_TEST_POSTGRES_URL is not set")
		}
		st = postgres.OpenTest(b)
	default:
		b.Fatalf("-scim.db %q: sqlite or postgres", *benchDB)
	}
	clk := clock.Real{}
	engine, err := policy.New([]policy.Policy{{ID: "default", Default: true,
		Steps: []policy.StepRule{{Name: "Owners", Approvers: policy.ApproverRule{AppOwners: true}}}}}, 12*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	reg := connector.NewRegistry()
	reg.Register(fake.TypeName, fake.NewBackend().Factory())
	svc, err := workflow.New(workflow.Config{Store: st, Clock: clk, Policy: engine, Connectors: reg})
	if err != nil {
		b.Fatal(err)
	}
	s, err := scimserver.New(scimserver.Config{Store: st, Clock: clk, Offboarder: svc})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	token, _, err := scimserver.CreateClient(b.Context(), st, "bench", "bench", clk.Now())
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *benchClients}}
	send := func(ctx context.Context, method, path string, body []byte) (map[string]any, error) {
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var out map[string]any
		if resp.StatusCode != http.StatusNoContent {
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				return nil, fmt.Errorf("%s %s: %d: %w", method, path, resp.StatusCode, err)
			}
		}
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out, nil
	}
	// parallel runs fn(i) for i in [0, n) on benchClients workers.
	parallel := func(n int, fn func(ctx context.Context, i int) error) error {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, *benchClients)
		ctx, cancel := context.WithCancel(b.Context())
		defer cancel()
		for range *benchClients {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= n || ctx.Err() != nil {
						return
					}
					if err := fn(ctx, i); err != nil {
						errs <- err
						cancel()
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}

	ids := make([]string, *benchUsers)
	start := time.Now() //nolint:forbidigo // a benchmark measures wall time
	err = parallel(*benchUsers, func(ctx context.Context, i int) error {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%d@bench.example","externalId":"00u%d",
			"name":{"givenName":"User","familyName":"%d"},"displayName":"User %d","active":true,
			"emails":[{"primary":true,"type":"work","value":"user%d@bench.example"}]}`, i, i, i, i, i)
		out, err := send(ctx, http.MethodPost, scimserver.Prefix+"/Users", []byte(body))
		if err != nil {
			return err
		}
		ids[i] = out["id"].(string)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	usersTook := time.Since(start) //nolint:forbidigo // see above

	// Members of group g: users i with i % groups == g, plus the next
	// groups-per-user - 1 groups, so every user is in groupsPerUser groups.
	members := make([][]string, *benchGroups)
	for i, id := range ids {
		for k := range *benchPerUser {
			g := (i + k*(*benchGroups / *benchPerUser + 1)) % *benchGroups
			members[g] = append(members[g], id)
		}
	}
	start = time.Now() //nolint:forbidigo // see above
	var patches atomic.Int64
	err = parallel(*benchGroups, func(ctx context.Context, g int) error {
		out, err := send(ctx, http.MethodPost, scimserver.Prefix+"/Groups",
			fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"group-%d","externalId":"00g%d","members":[]}`, g, g))
		if err != nil {
			return err
		}
		gid := out["id"].(string)
		for lo := 0; lo < len(members[g]); lo += 100 {
			chunk := members[g][lo:min(lo+100, len(members[g]))]
			var sb strings.Builder
			sb.WriteString(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[`)
			for j, id := range chunk {
				if j > 0 {
					sb.WriteByte(',')
				}
				sb.WriteString(`{"value":"` + id + `"}`)
			}
			sb.WriteString(`]}]}`)
			if _, err := send(ctx, http.MethodPatch, scimserver.Prefix+"/Groups/"+gid, []byte(sb.String())); err != nil {
				return err
			}
			patches.Add(1)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	groupsTook := time.Since(start) //nolint:forbidigo // see above

	// The memberships reached the Sesame users' groups.
	u, err := st.UserGetByID(b.Context(), ids[len(ids)-1])
	if err != nil {
		b.Fatal(err)
	}
	if len(u.Groups) != *benchPerUser {
		b.Fatalf("user %s is in %d groups, want %d", u.ID, len(u.Groups), *benchPerUser)
	}
	hwm := vmHWM(b)
	b.ReportMetric(usersTook.Seconds(), "users-s")
	b.ReportMetric(float64(*benchUsers)/usersTook.Seconds(), "users/s")
	b.ReportMetric(groupsTook.Seconds(), "groups-s")
	b.ReportMetric(float64(*benchUsers**benchPerUser)/groupsTook.Seconds(), "memberships/s")
	b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
	b.Logf("%s: %d users in %s (%.0f/s); %d groups with %d memberships in %d PATCHes in %s; peak RSS %d MiB",
		*benchDB, *benchUsers, usersTook.Round(time.Millisecond), float64(*benchUsers)/usersTook.Seconds(),
		*benchGroups, *benchUsers**benchPerUser, patches.Load(), groupsTook.Round(time.Millisecond), hwm/1024)
}

// vmHWM returns the process's peak resident set size in KiB.
func vmHWM(b *testing.B) int64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Logf("peak memory unknown: %v", err)
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
}
