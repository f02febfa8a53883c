package postgresql

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sesame-access/sesame/internal/connector"
)

// permanentCode reports whether a SQLSTATE is one that retrying will not fix.
func permanentCode(code string) bool {
	switch code {
	case "28000", // invalid_authorization_specification (no pg_hba entry, role missing)
		"28P01", // invalid_password
		"3D000", // invalid_catalog_name: the database does not exist
		"42501", // insufficient_privilege
		"42704", // undefined_object: the role does not exist
		"42601", // syntax_error
		"42939", // reserved_name (public, pg_*)
		"0LP01", // invalid_grant_operation (circular membership)
		"0P000", // invalid_role_specification
		"2BP01", // dependent_objects_still_exist: DROP ROLE needs a person
		"22023": // invalid_parameter_value
		return true
	}
	return false
}

// classify marks err permanent when retrying cannot help. Connection
// failures (refused, timeout, SQLSTATE class 08), shutdowns (57P01..03),
// resource exhaustion (53) and serialization failures stay retryable,
// and so does anything unknown.
func classify(err error) error {
	if err == nil || connector.IsPermanent(err) {
		return err
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		if permanentCode(pgErr.Code) {
			return connector.Permanent(err)
		}
		return err
	}
	return err
}
