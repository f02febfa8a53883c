package fake_test

import (
	"fmt"
	"testing"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
	"github.com/sesame-access/sesame/internal/connector/fake"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	b := fake.NewBackend()
	connectortest.Run(t, connectortest.Harness{
		Factory:  b.Factory(),
		Settings: map[string]string{},
		Target: func(_ *testing.T, i int) connector.Target {
			return connector.Target{GrantID: fmt.Sprint("grt_", i), Email: fmt.Sprintf("user%d@example.com", i), AppID: "app", EntitlementKey: "admin"}
		},
		Has: func(_ *testing.T, tg connector.Target) bool { return b.Has(tg.AppID, tg.Email, tg.EntitlementKey) },
		BadSettings: []connectortest.BadSettings{
			{Name: "unknown key", Settings: map[string]string{"colour": "red"}, WantInError: "colour"},
			{Name: "bad delay", Settings: map[string]string{"delay": "soon"}, WantInError: "delay"},
		},
		// The fake's "fail" setting stands for a target that is down.
		DownSettings:      map[string]string{"fail": "grant"},
		ForbiddenSettings: map[string]string{"deny": "grant"},
	})
}
