package findings_test

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/findings"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

//nolint:gochecknoglobals // benchmark flags
var (
	benchAccounts = flag.Int("bench.accounts", 1_000_000, "accounts across apps in BenchmarkDiscoverySync")
	benchApps     = flag.Int("bench.apps", 100, "apps in BenchmarkDiscoverySync")
	benchUsers    = flag.Int("bench.users", 10_000, "Sesame users the accounts are matched against")
)

// synthetic is a connector whose app i lists perApp accounts; generation
// g replaces the first churn of them with new ones (g*churn onward), so
// a sync sees churn accounts gone and churn new per app.
type synthetic struct {
	perApp, churn int
	gen           *atomic.Int64
	app           string
}

func (s *synthetic) Grant(context.Context, connector.Target) error  { return nil }
func (s *synthetic) Revoke(context.Context, connector.Target) error { return nil }
func (s *synthetic) ForApp(app string) connector.Connector {
	return &synthetic{perApp: s.perApp, churn: s.churn, gen: s.gen, app: app}
}

func (s *synthetic) ListAccounts(context.Context) ([]connector.Account, error) {
	g := int(s.gen.Load())
	out := make([]connector.Account, 0, s.perApp)
	for i := g * s.churn; i < g*s.churn+s.perApp; i++ {
		out = append(out, connector.Account{ExternalID: fmt.Sprintf("%s-%09d", s.app, i),
			Email: fmt.Sprintf("user%d@example.com", i%*benchUsers), Name: fmt.Sprintf("User %d", i)})
	}
	return out, nil
}

// peak samples the heap in use every 20 ms until stop is called, and
// returns the largest value seen.
func peak() (stop func() uint64) {
	var mu sync.Mutex
	var maxHeap uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			maxHeap = max(maxHeap, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return maxHeap
	}
}

func maxRSS() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // KiB on Linux
}

// BenchmarkDiscoverySync measures the discovery sync of -bench.accounts
// accounts across -bench.apps apps (matched against -bench.users users)
// on SQLite and, with SESAME_TEST_POSTGRES_URL, PostgreSQL: the first
// sync (every account new: the baseline), then a sync with 1% of each
// app's accounts gone and 1% new, then one with nothing changed. It
// reports seconds per phase, accounts per second and the peak heap.
//
//	go test -run '^$' -bench DiscoverySync -benchtime 1x -timeout 2h ./internal/findings
func BenchmarkDiscoverySync(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			var st store.Store
			if dialect == "sqlite" {
				st = sqlite.OpenTest(b)
			} else {
				if postgres.TestURL(b) == "" {
					b.Skip("SESAME_TEST_POSTGRES_URL is not set")
				}
				st = postgres.OpenTest(b)
			}
			runDiscoveryBench(b, st)
		})
	}
}

func runDiscoveryBench(b *testing.B, st store.Store) {
	ctx := b.Context()
	perApp := *benchAccounts / *benchApps
	gen := &atomic.Int64{}
	syn := &synthetic{perApp: perApp, churn: max(perApp/100, 1), gen: gen}
	reg := connector.NewRegistry()
	reg.Register("synthetic", func(map[string]string) (connector.Connector, error) { return syn, nil })
	clk := clock.NewFake(time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC))
	svc, err := findings.New(findings.Config{Store: st, Clock: clk, Connectors: reg})
	if err != nil {
		b.Fatal(err)
	}
	for i := range *benchUsers {
		u := &access.User{ID: fmt.Sprintf("usr_%06d", i), Email: fmt.Sprintf("user%d@example.com", i), Name: "U", Status: access.UserActive}
		if err := st.UserUpsert(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	for i := range *benchApps {
		a := &access.App{ID: fmt.Sprintf("app%03d", i), Name: fmt.Sprintf("App %d", i), ConnectorType: "synthetic",
			Watchlist: i%10 == 0, Source: access.SourceConfig}
		if err := st.AppUpsert(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	phase := func(name string, wantNew, wantGone int) {
		runtime.GC()
		stop := peak()
		start := time.Now() //nolint:forbidigo // a benchmark measures wall time
		rep, err := svc.SyncAll(ctx)
		elapsed := time.Since(start) //nolint:forbidigo // see above
		heap := stop()
		if err != nil {
			b.Fatal(err)
		}
		seen, added, gone := 0, 0, 0
		for _, a := range rep.Apps {
			if a.Error != "" {
				b.Fatalf("%s: %s", a.AppID, a.Error)
			}
			seen, added, gone = seen+a.Seen, added+a.New, gone+a.Gone
		}
		if added != wantNew || gone != wantGone {
			b.Fatalf("%s: new %d gone %d, want %d and %d", name, added, gone, wantNew, wantGone)
		}
		b.ReportMetric(elapsed.Seconds(), name+"-s")
		b.ReportMetric(float64(seen)/elapsed.Seconds(), name+"-accounts/s")
		b.ReportMetric(float64(heap)/(1<<20), name+"-peak-heap-MiB")
		b.Logf("%s: %d accounts seen, %d new, %d gone in %s; peak heap %.0f MiB", name, seen, added, gone,
			elapsed.Round(time.Millisecond), float64(heap)/(1<<20))
		clk.Advance(time.Hour)
	}
	churn := syn.churn * *benchApps
	phase("first", perApp**benchApps, 0)
	gen.Add(1)
	phase("churn", churn, churn)
	phase("steady", 0, 0)
	counts, err := st.AccountCount(ctx)
	if err != nil {
		b.Fatal(err)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if total != perApp**benchApps {
		b.Fatalf("%d active accounts stored, want %d", total, perApp**benchApps)
	}
	b.ReportMetric(maxRSS(), "max-RSS-MiB")
}
