package sqldb

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// timeLayout is how SQLite columns hold times: fixed width, so that text
// order is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// truncate returns t as the store keeps it: UTC, whole microseconds, and
// the zero time unchanged.
func truncate(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// tm encodes t for a query argument: NULL for the zero time.
func (q *queries) tm(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = truncate(t)
	if q.db.dialect.TextTimes {
		return t.Format(timeLayout)
	}
	return t
}

// timeCol scans a time column (TEXT or timestamptz) into *dst.
type timeCol struct{ dst *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.dst = time.Time{}
	case time.Time:
		*c.dst = truncate(v)
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("scan time: unsupported %T", src)
	}
	return nil
}

func (c timeCol) parse(s string) error {
	if t, ok := parseTimeText(s); ok {
		*c.dst = t
		return nil
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return fmt.Errorf("scan time: %w", err)
	}
	*c.dst = truncate(t)
	return nil
}

// parseTimeText is time.Parse(timeLayout, s) without the generic layout
// interpreter, for the valid times the store writes; ok is false for
// anything else, which time.Parse then explains.
func parseTimeText(s string) (t time.Time, ok bool) {
	// 2006-01-02T15:04:05.000000Z
	if len(s) != len(timeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != '.' || s[26] != 'Z' {
		return time.Time{}, false
	}
	ok = true
	num := func(from, to int) int {
		n := 0
		for _, c := range []byte(s[from:to]) {
			if c < '0' || c > '9' {
				ok = false
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, usec := num(11, 13), num(14, 16), num(17, 19), num(20, 26)
	if !ok || month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, usec*1000, time.UTC), true
}

// daysIn returns the number of days in month of year.
func daysIn(month time.Month, year int) int {
	if month == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int(month-1)%7%2
}

// jsonArg marshals v for a TEXT column (a nil slice or map is "null").
func jsonArg(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode json: %w", err)
	}
	return string(b), nil
}

// jsonCol scans a TEXT column of JSON into dst (a pointer).
type jsonCol struct{ dst any }

func (c jsonCol) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		s = v
	case []byte:
		// A copy: a driver may reuse v, and what decodeFast returns
		// shares s's memory.
		s = string(v)
	default:
		return fmt.Errorf("scan json: unsupported %T", src)
	}
	if c.decodeFast(s) {
		return nil
	}
	if err := json.Unmarshal([]byte(s), c.dst); err != nil {
		return fmt.Errorf("scan json: %w", err)
	}
	return nil
}

// decodeFast decodes s into c.dst with the decoders of jsonfast.go when
// there is one for c.dst's type and s is in the form it reads.
func (c jsonCol) decodeFast(s string) bool {
	var ok bool
	switch dst := c.dst.(type) {
	case *[]string:
		var v []string
		if v, ok = decodeStrings[string](s); ok {
			*dst = v
		}
	case *[]access.Role:
		var v []access.Role
		if v, ok = decodeStrings[access.Role](s); ok {
			*dst = v
		}
	case *[]access.Step:
		var v []access.Step
		if v, ok = decodeSteps(s); ok {
			*dst = v
		}
	}
	return ok
}

// rawArg stores raw JSON as given; empty is NULL.
func rawArg(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

// rawCol scans a TEXT column into raw JSON, byte for byte; NULL is nil.
type rawCol struct{ dst *json.RawMessage }

func (c rawCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.dst = nil
	case string:
		*c.dst = json.RawMessage(v)
	case []byte:
		*c.dst = append(json.RawMessage(nil), v...)
	default:
		return fmt.Errorf("scan raw json: unsupported %T", src)
	}
	return nil
}

// encodeCursor makes an opaque cursor from a sort key.
func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// decodeCursor reverses encodeCursor; "" decodes to "" (the first page).
func decodeCursor(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || (cursor != "" && len(b) == 0) {
		return "", access.Invalid("invalid page cursor", access.FieldError{Field: "cursor", Message: "not a cursor from a previous page"})
	}
	return string(b), nil
}

// decodeSeqCursor decodes a cursor over audit sequence numbers.
func decodeSeqCursor(cursor string) (int64, bool, error) {
	key, err := decodeCursor(cursor)
	if err != nil || key == "" {
		return 0, false, err
	}
	n, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		return 0, false, access.Invalid("invalid page cursor", access.FieldError{Field: "cursor", Message: "not a cursor from a previous page"})
	}
	return n, true, nil
}

// page trims the limit+1 rows of a keyset query to limit and returns the
// next cursor ("" on the last page).
func page[T any](items []T, limit int, key func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, encodeCursor(key(items[limit-1]))
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
