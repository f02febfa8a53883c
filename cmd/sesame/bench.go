package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-access/sesame/internal/bench"
	"github.com/sesame-access/sesame/internal/ids"
)

// benchCmd is "sesame bench": end-to-end throughput and latency on SQLite
// and (when a URL is given) PostgreSQL, printed as Markdown tables; with
// --revocation also the revocation lag among many active grants, and with
// --provision the throughput of the PostgreSQL connector.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pgURL := fs.String("postgres", getenv("SESAME_TEST_POSTGRES_URL"), "PostgreSQL URL to benchmark too (a schema is created and dropped); empty skips")
	lifecycles := fs.Int("lifecycles", 2000, "request lifecycles to run per database (0 skips the throughput and API table)")
	workers := fs.Int("workers", 16, "concurrent clients for the lifecycle run")
	ceilingFor := fs.Duration("ceiling-duration", 5*time.Second, "how long to measure the raw-commit ceiling")
	seed := fs.Int("seed", 100_000, "requests stored before the API latency run")
	apiClients := fs.Int("api-clients", 50, "concurrent API clients")
	apiFor := fs.Duration("api-duration", 10*time.Second, "how long the API latency run lasts")
	only := fs.String("only", "", "run only \"sqlite\" or \"postgres\" (--provision needs postgres)")
	revocation := fs.Bool("revocation", false, "also measure revocation lag on the fake connector: --grants active grants, --expiring of them expiring within one minute")
	grants := fs.Int("grants", 1_000_000, "active grants stored for --revocation")
	expiring := fs.Int("expiring", 10_000, "grants of --grants that expire within the same minute")
	provision := fs.Bool("provision", false, "also measure Grant and Revoke of the PostgreSQL connector on the --postgres server (roles are created and dropped)")
	provisionN := fs.Int("provision-n", 2000, "logins granted and revoked by --provision")
	provisionWorkers := fs.Int("provision-workers", 8, "concurrent connector calls for --provision")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	mutexProfile := fs.String("mutexprofile", "", "write a mutex contention profile to this file")
	blockProfile := fs.String("blockprofile", "", "write a goroutine blocking profile to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	stopProfiles, err := startProfiles(*cpuProfile, *mutexProfile, *blockProfile)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	defer func() {
		if err := stopProfiles(); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
		}
	}()
	if *only != "" && *only != "sqlite" && *only != "postgres" {
		fmt.Fprintf(stderr, "bench: --only must be sqlite or postgres, not %q\n", *only)
		return 2
	}
	b := &benchRun{stdout: stdout, stderr: stderr}
	if *only != "postgres" {
		b.targets = append(b.targets, benchTarget{"sqlite", func() (*bench.Stack, func(), error) {
			dir, err := os.MkdirTemp("", "sesame-bench-")
			if err != nil {
				return nil, nil, err
			}
			st, err := bench.OpenSQLite(ctx, dir)
			return st, func() { _ = os.RemoveAll(dir) }, err //nolint:errcheck // temp dir
		}})
	}
	if *pgURL != "" && *only != "sqlite" {
		b.targets = append(b.targets, benchTarget{"postgres", func() (*bench.Stack, func(), error) {
			u, drop, err := benchSchema(ctx, *pgURL)
			if err != nil {
				return nil, nil, err
			}
			st, err := bench.OpenPostgres(ctx, u)
			return st, drop, err
		}})
	}
	if *lifecycles > 0 {
		fmt.Fprintf(stdout, "| database | raw commits/s | lifecycles/s | ceiling ÷ lifecycles | writes only: lifecycles/s (ratio) | statements / lifecycle | CPU / lifecycle | POST /requests p50 / p99 | GET /requests p50 / p99 |\n|---|---|---|---|---|---|---|---|---|\n")
		loadBefore := loadavg()
		err := b.each(func(tg benchTarget, st *bench.Stack) error {
			fmt.Fprintf(stderr, "bench %s: raw-commit ceiling for %s\n", tg.name, *ceilingFor)
			ceil, err := st.Ceiling(ctx, *workers, *ceilingFor)
			if err != nil {
				return fmt.Errorf("ceiling: %w", err)
			}
			fmt.Fprintf(stderr, "bench %s: %d lifecycles with %d clients\n", tg.name, *lifecycles, *workers)
			stmts0 := st.Statements()
			busy0, turns0, groups0, grouped0, wOK := st.WriterStats()
			wall0 := time.Now() //nolint:forbidigo // measuring elapsed wall time
			cpu0, cpuOK := processCPU()
			lps, err := st.Lifecycles(ctx, *lifecycles, *workers, 0)
			if err != nil {
				return fmt.Errorf("lifecycles: %w", err)
			}
			cpu1, _ := processCPU()
			if busy1, turns1, groups1, grouped1, _ := st.WriterStats(); wOK {
				wall := time.Since(wall0) //nolint:forbidigo // measuring elapsed wall time
				fmt.Fprintf(stderr, "bench %s: writer held %.0f%% of the run, %.1f turns and %s per lifecycle; %.1f calls per group commit\n", tg.name,
					100*float64(busy1-busy0)/float64(wall), float64(turns1-turns0)/float64(*lifecycles),
					ms((busy1-busy0)/time.Duration(*lifecycles)), float64(grouped1-grouped0)/float64(max(1, groups1-groups0)))
			}
			fmt.Fprintf(stderr, "bench %s: %.0f lifecycles/s; every request submitted and approved after %s\n", tg.name, lps, st.LastDecided.Round(time.Millisecond))
			stmts := float64(st.Statements()-stmts0) / float64(*lifecycles)
			cpu := "n/a"
			if cpuOK {
				cpu = ms((cpu1 - cpu0) / time.Duration(*lifecycles))
			}
			fmt.Fprintf(stderr, "bench %s: seeding %d requests\n", tg.name, *seed)
			if err := st.SeedRequests(ctx, *seed); err != nil {
				return err
			}
			// The deliveries the lifecycles left behind would compete with
			// the API's writes: the API is measured on a quiet queue.
			waited, err := st.Drain(ctx, 5*time.Minute)
			if err != nil {
				return fmt.Errorf("drain the job queue: %w", err)
			}
			fmt.Fprintf(stderr, "bench %s: job queue drained in %s\n", tg.name, waited.Round(time.Second))
			fmt.Fprintf(stderr, "bench %s: API latency, %d clients for %s\n", tg.name, *apiClients, *apiFor)
			busy0, turns0, groups0, grouped0, _ = st.WriterStats()
			cpu0, _ = processCPU()
			apiStart := time.Now() //nolint:forbidigo // measuring elapsed wall time
			res, err := st.APILatency(ctx, *apiClients, *apiFor, *lifecycles)
			if err != nil {
				return fmt.Errorf("api latency: %w", err)
			}
			// The run's own wall time: its set-up (a token per user) too.
			apiWall := time.Since(apiStart) //nolint:forbidigo // measuring elapsed wall time
			cpu1, _ = processCPU()
			fmt.Fprintf(stderr, "bench %s: API run (%s with its set-up) used %.2f cores", tg.name, apiWall.Round(100*time.Millisecond),
				float64(cpu1-cpu0)/float64(apiWall))
			if busy1, turns1, groups1, grouped1, _ := st.WriterStats(); wOK {
				fmt.Fprintf(stderr, "; writer held %.0f%% of it, %d turns, %.1f calls per group commit", 100*float64(busy1-busy0)/float64(apiWall),
					turns1-turns0, float64(grouped1-grouped0)/float64(max(1, groups1-groups0)))
			}
			fmt.Fprintln(stderr)
			// The rows of as many lifecycles written alone, on a new
			// database like the one the lifecycles started from: what the
			// rows cost (a stack of its own, so that the runs above are
			// measured as before).
			fmt.Fprintf(stderr, "bench %s: the writes of %d lifecycles alone, %d clients, on a new database\n", tg.name, *lifecycles, *workers)
			wps, err := writesOnly(ctx, tg, *lifecycles, *workers)
			if err != nil {
				return fmt.Errorf("writes only: %w", err)
			}
			fmt.Fprintf(stderr, "bench %s: writes only %.0f lifecycles/s (ceiling ÷ %.1f)\n", tg.name, wps, ceil/wps)
			fmt.Fprintf(stdout, "| %s | %.0f | %.0f | %.1f | %.0f (%.1f) | %.1f | %s | %s / %s (%d calls) | %s / %s (%d calls) |\n", tg.name, ceil, lps, ceil/lps,
				wps, ceil/wps, stmts, cpu, ms(res[0].P50), ms(res[0].P99), res[0].Calls, ms(res[1].P50), ms(res[1].P99), res[1].Calls)
			return nil
		})
		if err != nil {
			return 1
		}
		fmt.Fprintf(stdout, "\n*Writes only* is the same number of lifecycles' rows (request, decision, grant, audit events,\n"+
			"notifications) written alone through the store, on a new database, without the workflow's reads, the policy,\n"+
			"the connector or the job queue: what the rows themselves cost on this database.\n"+
			"Statements are the store's own (River's are not counted); CPU is this process's user + system time\n"+
			"during the lifecycle run (the database server's is not counted on PostgreSQL). The API clients start once the\n"+
			"job queue is empty (the lifecycles' notification deliveries done). %s\n", loadNote(loadBefore))
	}
	if *revocation {
		if err := b.revocation(ctx, *grants, *expiring); err != nil {
			return 1
		}
	}
	if *provision {
		if *pgURL == "" || *only == "sqlite" {
			fmt.Fprintln(stderr, "bench: --provision needs a PostgreSQL server (--postgres or SESAME_TEST_POSTGRES_URL) and not --only sqlite; skipped")
			return 0
		}
		if err := b.provision(ctx, *pgURL, *provisionN, *provisionWorkers); err != nil {
			return 1
		}
	}
	return 0
}

// writesOnly runs bench.Stack.WritesOnly on a new stack of tg.
func writesOnly(ctx context.Context, tg benchTarget, n, workers int) (float64, error) {
	st, cleanup, err := tg.open()
	if err != nil {
		return 0, err
	}
	defer cleanup()
	defer st.Close() //nolint:errcheck // best effort at the end of a benchmark
	return st.WritesOnly(ctx, n, workers, 0)
}

// benchTarget is a database to benchmark; open builds a fresh stack on it
// and returns what removes it.
type benchTarget struct {
	name string
	open func() (*bench.Stack, func(), error)
}

// benchRun holds what every table of one "sesame bench" shares.
type benchRun struct {
	stdout  io.Writer
	stderr  io.Writer
	targets []benchTarget
}

// each runs fn on a fresh stack of every target in turn, reporting a
// failure on stderr (and stopping at it).
func (b *benchRun) each(fn func(tg benchTarget, st *bench.Stack) error) error {
	for _, tg := range b.targets {
		fmt.Fprintf(b.stderr, "bench %s: opening\n", tg.name)
		st, cleanup, err := tg.open()
		if err != nil {
			fmt.Fprintf(b.stderr, "bench %s: %v\n", tg.name, err)
			return err
		}
		err = func() error {
			defer cleanup()
			defer st.Close() //nolint:errcheck // best effort at the end of a benchmark
			return fn(tg, st)
		}()
		if err != nil {
			fmt.Fprintf(b.stderr, "bench %s: %v\n", tg.name, err)
			return err
		}
	}
	return nil
}

// revocation prints the revocation lag table, then the due poll's query
// plan on every database.
func (b *benchRun) revocation(ctx context.Context, grants, expiring int) error {
	fmt.Fprintf(b.stdout, "\n| database | active grants | expiring within %.0f s | seeding | due poll, none due | revocation lag p50 / p99 / max |\n|---|---|---|---|---|---|\n",
		bench.RevocationWindow.Seconds())
	loadBefore := loadavg()
	var plans []string
	err := b.each(func(tg benchTarget, st *bench.Stack) error {
		fmt.Fprintf(b.stderr, "bench %s: revocation lag: seeding %d active grants, %d expiring\n", tg.name, grants, expiring)
		res, err := st.RevocationLag(ctx, grants, expiring)
		if err != nil {
			return fmt.Errorf("revocation lag: %w", err)
		}
		fmt.Fprintf(b.stdout, "| %s | %s | %s | %.0f s (%s grants/s) | %.3f ms | %s / %s / %s |\n", tg.name,
			thousands(res.Total), thousands(res.Expiring), res.Seed.Seconds(), thousands(int(res.SeedRate())),
			float64(res.DuePoll.Microseconds())/1000, ms(res.P50), ms(res.P99), ms(res.Max))
		plan, err := st.ExplainDue(ctx)
		if err != nil {
			return err
		}
		plans = append(plans, fmt.Sprintf("Due poll query plan on %s, %s active grants, none due:\n\n```text\n%s```\n", tg.name, thousands(grants-expiring), plan))
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(b.stdout, "\nLag is revoked_at − expires_at as stored. The grants were stored directly (seeding is timed separately),\n"+
		"so they have no River revoke job scheduled at activation: the lag is that of the due poller (leader, every 1 s,\n"+
		"revoking in batches), with the sweep (every 15 s) as backstop. %s\n\n", loadNote(loadBefore))
	for _, p := range plans {
		fmt.Fprintln(b.stdout, p)
	}
	return nil
}

// provision prints the PostgreSQL connector table.
func (b *benchRun) provision(ctx context.Context, url string, n, workers int) error {
	fmt.Fprintf(b.stderr, "bench postgres: connector Grant and Revoke of %d logins, %d workers\n", n, workers)
	loadBefore := loadavg()
	res, err := bench.ProvisionPostgres(ctx, url, n, workers)
	if err != nil {
		fmt.Fprintf(b.stderr, "bench postgres: %v\n", err)
		return err
	}
	fmt.Fprintf(b.stdout, "\n| connector | logins | workers | Grant/s | Grant p50 / p99 | Revoke/s | Revoke p50 / p99 |\n|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(b.stdout, "| postgresql (role mode) | %d | %d | %.0f | %s / %s | %.0f | %s / %s |\n\n", res.N, res.Workers,
		res.GrantsPerSecond(), ms(res.GrantP50), ms(res.GrantP99), res.RevokesPerSecond(), ms(res.RevokeP50), ms(res.RevokeP99))
	fmt.Fprintf(b.stdout, "Every call opens and closes its own connection; Revoke also ends the login's sessions. "+
		"Memberships checked after each phase. %s\n", loadNote(loadBefore))
	return nil
}

// thousands formats n with commas between groups of three digits: 1,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// loadavg returns the 1, 5 and 15 minute load averages, or "" where
// /proc/loadavg does not exist.
func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// loadNote says what else ran on the machine.
func loadNote(before string) string {
	after := loadavg()
	if before == "" || after == "" {
		return fmt.Sprintf("%d CPUs.", runtime.NumCPU())
	}
	return fmt.Sprintf("%d CPUs; load average (1/5/15 min) %s before, %s after.", runtime.NumCPU(), before, after)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// benchSchema creates a fresh schema on the server at raw and returns a URL
// using it and a function that drops it.
func benchSchema(ctx context.Context, raw string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx) //nolint:errcheck // short-lived admin connection
	schema := "sesame_bench_" + ids.Token(6)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, errors.New("bench: unparsable postgres URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		c, err := pgx.Connect(context.Background(), raw)
		if err != nil {
			return
		}
		defer c.Close(context.Background())                                                              //nolint:errcheck // cleanup
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck // cleanup
	}
	return u.String(), drop, nil
}
