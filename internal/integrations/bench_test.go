package integrations

import (
	"fmt"
	"testing"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

// BenchmarkRoute measures routing one app-wide message among 100
// integrations (app, connector, tag and set selectors) with 200 apps in
// the catalog, on SQLite: the cost every notification and alert pays
// before its deliveries are written.
func BenchmarkRoute(b *testing.B) {
	ctx := b.Context()
	st := sqlite.OpenTest(b)
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	box, err := secrets.New(make([]byte, secrets.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	sets, err := ParseSets(map[string][]string{"cloud-accounts": {"connector:awsidc", "app:app-7"}})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := New(Config{Store: st, Clock: clk, Secrets: box, Sets: sets, BotToken: "xoxb-bench"})
	if err != nil {
		b.Fatal(err)
	}
	for n := range 200 {
		a := &access.App{ID: fmt.Sprintf("app-%d", n), Name: "App", ConnectorType: []string{"awsidc", "github", "sshca"}[n%3], Source: access.SourceConfig}
		if err := st.AppUpsert(ctx, a); err != nil {
			b.Fatal(err)
		}
		e := &access.Entitlement{ID: a.ID + ":admin", AppID: a.ID, Key: "admin", Name: "Admin", Risk: access.RiskLow,
			Tags: []string{[]string{"gateway", "private-server"}[n%2]}}
		if err := st.EntitlementUpsert(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	admin := &access.User{ID: "usr_admin", Email: "a@example.com", Roles: []access.Role{access.RoleAdmin}, Status: access.UserActive}
	for n := range 100 {
		covers := [][]string{{fmt.Sprintf("app:app-%d", n)}, {"connector:github"}, {"tag:gateway"}, {"set:cloud-accounts"}}[n%4]
		if _, err := svc.Create(ctx, admin, Spec{Name: fmt.Sprintf("i-%d", n), Channel: fmt.Sprintf("C0%04d", n), Covers: covers,
			Categories: []string{"alerts", "grants"}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	matched := 0
	for n := 0; b.Loop(); n++ {
		ds, err := svc.Route(ctx, CategoryAlerts, fmt.Sprintf("app-%d", n%200))
		if err != nil {
			b.Fatal(err)
		}
		matched += len(ds)
	}
	b.ReportMetric(float64(matched)/float64(b.N), "destinations/op")
}
