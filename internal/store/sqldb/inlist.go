package sqldb

import "math/bits"

// idsPerQuery bounds the values of one inPadded list, far below the
// placeholders a statement may have (32,766 on SQLite, 65,535 on
// PostgreSQL).
const idsPerQuery = 1000

// inPadded is in for a list of keys whose length varies from call to call
// (the users or requests of a page): it repeats the last value up to the
// next power of two (at least 8; one value stays one, an equality to the
// planners), which leaves the condition's meaning alone but keeps the
// distinct statement texts, and so the statements prepared and cached per
// connection, to a handful. Call it only with a non-empty vals of at most
// idsPerQuery values.
func inPadded(w *where, col string, vals []string) {
	n := 1
	if len(vals) > 1 {
		n = max(8, 1<<bits.Len(uint(len(vals)-1)))
	}
	w.conds = append(w.conds, col+" IN ("+marks(n)+")")
	for _, v := range vals {
		w.args = append(w.args, v)
	}
	for range n - len(vals) {
		w.args = append(w.args, vals[len(vals)-1])
	}
}
