package postgresql

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-access/sesame/internal/connector"
)

var _ connector.ExpiryExtender = (*EphemeralConnector)(nil)

// ExtendGrant implements connector.ExpiryExtender: it moves the grant's
// login's VALID UNTIL to t.ExpiresAt (infinity when zero) and keeps its
// password, so the holder goes on with the credentials they have. The
// login must exist and carry Sesame's mark; otherwise it is a permanent
// error and nothing is changed.
func (c *EphemeralConnector) ExtendGrant(ctx context.Context, t connector.Target) (*connector.Credentials, error) {
	login, err := c.login(t)
	if err != nil {
		return nil, err
	}
	role, err := c.role(t)
	if err != nil {
		return nil, err
	}
	validUntil := "infinity"
	if !t.ExpiresAt.IsZero() {
		validUntil = t.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	comment := fmt.Sprintf("%s; grant %s; for %s; valid until %s", ephemeralMarker, t.GrantID, t.Email, validUntil)
	err = c.withConn(ctx, "", func(conn *pgx.Conn) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			st, err := lookup(ctx, tx.Conn(), login, role)
			if err != nil {
				return err
			}
			switch {
			case !st.loginExists:
				return connector.Permanent(fmt.Errorf("login %q does not exist: the grant was not provisioned or was dropped outside Sesame", login))
			case !st.ours:
				return connector.Permanent(fmt.Errorf("role %q exists and was not created by Sesame; not touching it", login))
			}
			for _, s := range []string{
				"ALTER ROLE " + ident(login) + " VALID UNTIL " + quoteLiteral(validUntil),
				"COMMENT ON ROLE " + ident(login) + " IS " + quoteLiteral(comment),
			} {
				if _, err := tx.Exec(ctx, s); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, wrap(err, "extend login %q", login)
	}
	return nil, nil //nolint:nilnil // the ExpiryExtender contract: nil credentials mean the holder keeps theirs
}
