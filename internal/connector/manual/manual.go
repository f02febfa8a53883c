// Package manual is the connector for systems Sesame cannot reach: it asks
// a person (the app's owners) to do the work, and the grant waits until
// someone marks the task done through the API.
package manual

import (
	"context"
	"fmt"

	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "manual"

// Connector turns every Grant and Revoke into a task for a person.
type Connector struct {
	instructions string
}

var _ connector.Connector = (*Connector)(nil)

// New is the connector.Factory. The optional setting "instructions" is
// appended to every task.
func New(settings map[string]string) (connector.Connector, error) {
	for k := range settings {
		if k != "instructions" {
			return nil, fmt.Errorf("unknown setting %q (known: instructions)", k)
		}
	}
	return &Connector{instructions: settings["instructions"]}, nil
}

func (c *Connector) task(verb string, t connector.Target) error {
	msg := fmt.Sprintf("%s %q in %s for %s <%s>", verb, t.EntitlementKey, t.AppID, t.Name, t.Email)
	if c.instructions != "" {
		msg += ". " + c.instructions
	}
	return &connector.PendingError{Task: msg}
}

// Grant always returns a *connector.PendingError describing the task.
func (c *Connector) Grant(_ context.Context, t connector.Target) error { return c.task("Grant", t) }

// Revoke always returns a *connector.PendingError describing the task.
func (c *Connector) Revoke(_ context.Context, t connector.Target) error { return c.task("Remove", t) }
