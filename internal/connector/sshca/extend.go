package sshca

import (
	"context"

	"github.com/sesame-access/sesame/internal/connector"
)

var _ connector.ExpiryExtender = (*Connector)(nil)

// ExtendGrant implements connector.ExpiryExtender. A certificate cannot
// be changed once signed, so an extended grant gets a new key pair and
// certificate valid until t.ExpiresAt (capped at max_validity), issued and
// recorded as IssueGrant does; the holder fetches it once like the first.
// The older certificates stay valid until their own expiry and are revoked
// with the grant.
func (c *Connector) ExtendGrant(ctx context.Context, t connector.Target) (*connector.Credentials, error) {
	creds, err := c.IssueGrant(ctx, t)
	if err != nil {
		return nil, err
	}
	return &creds, nil
}
