package slackbot

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/slackfake"
	"github.com/sesame-access/sesame/internal/store"
)

var (
	benchUsers = flag.Int("bench.users", 200, "simulated Slack users acting at once in BenchmarkAckLatency")                      //nolint:gochecknoglobals // benchmark flag
	benchThink = flag.Duration("bench.think", 0, "pause of each simulated user between two actions (0: none)")                    //nolint:gochecknoglobals // benchmark flag
	benchDB    = flag.String("bench.db", "sqlite", "store of BenchmarkAckLatency: sqlite or postgres (SESAME_TEST_POSTGRES_URL)") //nolint:gochecknoglobals // benchmark flag
)

// seedUsers adds n linked users ("usr_b007" / "UB007").
func seedUsers(t testing.TB, b *testBundle, n int) []string {
	t.Helper()
	ids := make([]string, n)
	require.NoError(t, b.st.InTx(t.Context(), func(q store.Queries) error {
		for i := range n {
			slackID := fmt.Sprintf("UB%03d", i)
			u := &access.User{ID: fmt.Sprintf("usr_b%03d", i), Email: fmt.Sprintf("b%03d@example.com", i), Name: fmt.Sprintf("B %03d", i),
				Status: access.UserActive, SlackUserID: slackID, CreatedAt: t0, UpdatedAt: t0}
			if err := q.UserUpsert(t.Context(), u); err != nil {
				return err
			}
			ids[i] = slackID
		}
		return nil
	}))
	for i, id := range ids {
		b.slack.AddUser(slackfake.User{ID: id, Name: fmt.Sprintf("b%03d", i), Email: fmt.Sprintf("b%03d@example.com", i), EmailConfirmed: true})
	}
	return ids
}

// BenchmarkAckLatency measures how long Slack waits for the bot's ack,
// with 200 simulated users at once on SQLite (or PostgreSQL with
// -bench.db=postgres) and a 10,000-app catalog,
// over signed HTTP requests (the fake's rate limits off). Each user acts
// in a loop, pausing -bench.think on average (0: back to back, which
// measures saturation). It reports p50 and p99 per kind:
//
//	go test -run '^$' -bench AckLatency -benchtime 2000x -bench.think 1s ./internal/slackbot
func BenchmarkAckLatency(b *testing.B) {
	for _, kind := range []string{"slash_command", "block_action", "view_submission", "options"} {
		b.Run(kind, func(b *testing.B) { benchAck(b, kind) })
	}
}

func benchAck(b *testing.B, kind string) {
	tb := setupWith(b, setupOpts{mode: ModeHTTP, fakeOpts: slackfake.Options{NoRateLimits: true}, postgres: *benchDB == "postgres"})
	ctx := b.Context()
	seedCatalog(b, tb.st, 10_000)
	users := seedUsers(b, tb, *benchUsers)
	require.NoError(b, tb.bot.catalog.refresh(ctx)) // a running server has its catalog loaded
	views := make([]string, len(users))
	prep := func(u int, text string) {
		_, err := tb.slack.Command(ctx, users[u], "/access", text)
		require.NoError(b, err)
		v, ok := tb.slack.Modal(users[u])
		require.True(b, ok)
		views[u] = v.ID
	}
	for u := range users {
		switch kind {
		case "options":
			prep(u, "")
		case "block_action":
			prep(u, "github")
		}
	}
	queries := []string{"service", "payments 1", "ledger service 01", "app-0", "billing", ""}
	op := func(u int, i int) time.Duration {
		user := users[u]
		switch kind {
		case "slash_command":
			ack, err := tb.slack.Command(ctx, user, "/access", fmt.Sprintf("app-%05d", (u*50+i)%10_000))
			require.NoError(b, err)
			return ack.Latency
		case "options":
			_, ack, err := tb.slack.Suggest(ctx, user, views[u], actionApp, queries[i%len(queries)])
			require.NoError(b, err)
			return ack.Latency
		case "block_action":
			role := []string{"github:admin", "github:read"}[i%2]
			ack, err := tb.slack.SelectOptions(ctx, user, views[u], actionRoles, role)
			require.NoError(b, err)
			return ack.Latency
		}
		app := fmt.Sprintf("app-%05d", (u*50+i)%10_000)
		prep(u, app)
		_, err := tb.slack.SelectOptions(ctx, user, views[u], actionRoles, app+":member")
		require.NoError(b, err)
		// The form shows the policy once its refresh, after the ack, lands.
		var v *slackfake.View
		require.Eventually(b, func() bool {
			v, _ = tb.slack.Modal(user)
			return v != nil && strings.Contains(v.Text(), "You are asking for")
		}, 30*time.Second, 50*time.Millisecond)
		require.NoError(b, tb.slack.TypeText(user, v.ID, actionReason, "benchmark run"))
		ack, err := tb.slack.Submit(ctx, user, v.ID)
		require.NoError(b, err)
		return ack.Latency
	}
	var (
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, b.N)
		next atomic.Int64
		wg   sync.WaitGroup
	)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for u := range users {
		wg.Go(func() {
			// Users act independently: they start spread over one think
			// time and pause 0.5–1.5 think times between actions.
			rng := rand.New(rand.NewPCG(uint64(u), 1)) //nolint:gosec // load shape, not security
			if *benchThink > 0 {
				time.Sleep(time.Duration(rng.Int64N(int64(*benchThink))))
			}
			for i := 0; ; i++ {
				if next.Add(1) > int64(b.N) {
					return
				}
				d := op(u, i)
				if *benchThink > 0 {
					time.Sleep(*benchThink/2 + time.Duration(rng.Int64N(int64(*benchThink))))
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(0, "ns/op")
	require.Empty(b, tb.slack.Violations())
}

// cpuTime is the CPU time (user + system) the test process used so far:
// bot, fake Slack and SQLite together.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
