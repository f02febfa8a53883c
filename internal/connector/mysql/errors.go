package mysql

import (
	"errors"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/sesame-access/sesame/internal/connector"
)

// permanentNumber reports whether a server error number is one that
// retrying will not fix.
func permanentNumber(n uint16) bool {
	switch n {
	case 1044, // ER_DBACCESS_DENIED_ERROR
		1045, // ER_ACCESS_DENIED_ERROR (bad admin credentials)
		1049, // ER_BAD_DB_ERROR: the DSN's database does not exist
		1064, // ER_PARSE_ERROR
		1095, // ER_KILL_DENIED_ERROR
		1133, // ER_PASSWORD_NO_MATCH: no such account
		1142, // ER_TABLEACCESS_DENIED_ERROR
		1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR
		1396, // ER_CANNOT_USER: unknown (or existing) user or role
		1470, // ER_WRONG_STRING_LENGTH: name too long
		1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
		1959, // ER_INVALID_ROLE
		1962, // ER_INVALID_ROLE_REVOKE (MariaDB: "cannot revoke role")
		3523: // ER_UNKNOWN_AUTHID (MySQL: unknown role)
		return true
	}
	return false
}

// classify marks err permanent when retrying cannot help. Connection
// failures (driver.ErrBadConn, invalid connection, net errors, client
// errors 2002/2003/2006/2013), too many connections, lock timeouts and
// anything unknown stay retryable.
func classify(err error) error {
	if err == nil || connector.IsPermanent(err) {
		return err
	}
	if me, ok := errors.AsType[*gomysql.MySQLError](err); ok && permanentNumber(me.Number) {
		return connector.Permanent(err)
	}
	return err
}

// isNumber reports whether err is the server error n.
func isNumber(err error, n uint16) bool {
	me, ok := errors.AsType[*gomysql.MySQLError](err)
	return ok && me.Number == n
}
