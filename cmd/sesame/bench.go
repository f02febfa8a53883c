package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-access/sesame/internal/bench"
	"github.com/sesame-access/sesame/internal/ids"
)

// benchCmd is "sesame bench": end-to-end throughput and latency on SQLite
// and (when a URL is given) PostgreSQL, printed as Markdown tables.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pgURL := fs.String("postgres", getenv("SESAME_TEST_POSTGRES_URL"), "PostgreSQL URL to benchmark too (a schema is created and dropped); empty skips")
	lifecycles := fs.Int("lifecycles", 2000, "request lifecycles to run per database")
	workers := fs.Int("workers", 16, "concurrent clients for the lifecycle run")
	ceilingFor := fs.Duration("ceiling-duration", 5*time.Second, "how long to measure the raw-commit ceiling")
	seed := fs.Int("seed", 100_000, "requests stored before the API latency run")
	apiClients := fs.Int("api-clients", 50, "concurrent API clients")
	apiFor := fs.Duration("api-duration", 10*time.Second, "how long the API latency run lasts")
	only := fs.String("only", "", "run only \"sqlite\" or \"postgres\"")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	type target struct {
		name string
		open func() (*bench.Stack, func(), error)
	}
	var targets []target
	if *only != "postgres" {
		targets = append(targets, target{"sqlite", func() (*bench.Stack, func(), error) {
			dir, err := os.MkdirTemp("", "sesame-bench-")
			if err != nil {
				return nil, nil, err
			}
			st, err := bench.OpenSQLite(ctx, dir)
			return st, func() { _ = os.RemoveAll(dir) }, err //nolint:errcheck // temp dir
		}})
	}
	if *pgURL != "" && *only != "sqlite" {
		targets = append(targets, target{"postgres", func() (*bench.Stack, func(), error) {
			u, drop, err := benchSchema(ctx, *pgURL)
			if err != nil {
				return nil, nil, err
			}
			st, err := bench.OpenPostgres(ctx, u)
			return st, drop, err
		}})
	}
	fmt.Fprintf(stdout, "| database | raw commits/s | lifecycles/s | ceiling ÷ lifecycles | POST /requests p50 / p99 | GET /requests p50 / p99 |\n|---|---|---|---|---|---|\n")
	for _, tg := range targets {
		fmt.Fprintf(stderr, "bench %s: opening\n", tg.name)
		st, cleanup, err := tg.open()
		if err != nil {
			fmt.Fprintf(stderr, "bench %s: %v\n", tg.name, err)
			return 1
		}
		err = func() error {
			defer cleanup()
			defer st.Close() //nolint:errcheck // best effort at the end of a benchmark
			fmt.Fprintf(stderr, "bench %s: raw-commit ceiling for %s\n", tg.name, *ceilingFor)
			ceil, err := st.Ceiling(ctx, *workers, *ceilingFor)
			if err != nil {
				return fmt.Errorf("ceiling: %w", err)
			}
			fmt.Fprintf(stderr, "bench %s: %d lifecycles with %d clients\n", tg.name, *lifecycles, *workers)
			lps, err := st.Lifecycles(ctx, *lifecycles, *workers, 0)
			if err != nil {
				return fmt.Errorf("lifecycles: %w", err)
			}
			fmt.Fprintf(stderr, "bench %s: seeding %d requests\n", tg.name, *seed)
			if err := st.SeedRequests(ctx, *seed); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "bench %s: API latency, %d clients for %s\n", tg.name, *apiClients, *apiFor)
			res, err := st.APILatency(ctx, *apiClients, *apiFor, *lifecycles)
			if err != nil {
				return fmt.Errorf("api latency: %w", err)
			}
			fmt.Fprintf(stdout, "| %s | %.0f | %.0f | %.1f | %s / %s (%d calls) | %s / %s (%d calls) |\n", tg.name, ceil, lps, ceil/lps,
				ms(res[0].P50), ms(res[0].P99), res[0].Calls, ms(res[1].P50), ms(res[1].P99), res[1].Calls)
			return nil
		}()
		if err != nil {
			fmt.Fprintf(stderr, "bench %s: %v\n", tg.name, err)
			return 1
		}
	}
	return 0
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
