package slackbot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// Match scores. exactScore means the query names the app (its ID, name or
// an alias, ignoring case).
const (
	exactScore     = 1000
	prefixScore    = 800
	wordScore      = 700
	substringScore = 600
	tokensScore    = 500
	subseqScore    = 300
	typoScore      = 200
)

// normalizeQuery lowercases q and collapses its whitespace.
func normalizeQuery(q string) string {
	return strings.ToLower(strings.Join(strings.Fields(q), " "))
}

// matcher scores fields (lowercased) against one normalized query.
type matcher struct {
	q       string
	qr      []rune
	tokens  []string
	allowed int // edit distance a typo may have
}

func newMatcher(q string) matcher {
	m := matcher{q: q, qr: []rune(q), tokens: strings.Fields(q)}
	m.allowed = max(1, len(m.qr)/4)
	return m
}

// scoreApp rates how well q (normalized) names app: 0 is no match. The
// best of the ID, name and aliases counts.
func scoreApp(q string, app *access.App) int {
	if q == "" {
		return 1
	}
	m := newMatcher(q)
	best := 0
	for _, f := range append([]string{app.ID, app.Name}, app.Aliases...) {
		best = max(best, m.score(strings.ToLower(f)))
	}
	return best
}

func (m matcher) score(f string) int {
	if s := m.contains(f); s > 0 {
		return s
	}
	return m.fuzzy(f)
}

// contains scores f containing the query: equal, a prefix, a word's
// prefix, inside, or (several words) every word inside.
func (m matcher) contains(f string) int {
	if f == "" || m.q == "" {
		return 0
	}
	switch {
	case f == m.q:
		return exactScore
	case strings.HasPrefix(f, m.q):
		return prefixScore - min(99, len(f)-len(m.q))
	}
	i := strings.Index(f, m.q)
	if i < 0 {
		if len(m.tokens) < 2 {
			return 0
		}
		for _, t := range m.tokens {
			if !strings.Contains(f, t) {
				return 0
			}
		}
		return tokensScore - min(99, len(f)-len(m.q))
	}
	if i == 0 || strings.ContainsRune(" -_./", rune(f[i-1])) {
		return wordScore - min(99, len(f)-len(m.q))
	}
	return substringScore - min(99, i)
}

// fuzzy scores f matching the query loosely: its characters in order, or
// within a small edit distance of f or of f's start (a typo).
func (m matcher) fuzzy(f string) int {
	if f == "" || m.q == "" {
		return 0
	}
	if gaps, ok := subsequence(m.q, f); ok {
		return subseqScore - min(99, gaps)
	}
	if len(m.qr) < 3 || m.missing(f) > m.allowed {
		return 0
	}
	d := m.allowed + 1
	if ascii(m.q) && ascii(f) {
		if len(f) <= len(m.q)+m.allowed {
			d = editDistanceASCII(m.q, f)
		}
		if len(f) > len(m.q) {
			d = min(d, editDistanceASCII(m.q, f[:len(m.q)]))
		}
	} else {
		fr := []rune(f)
		if len(fr) <= len(m.qr)+m.allowed {
			d = editDistance(m.qr, fr)
		}
		if len(fr) > len(m.qr) {
			d = min(d, editDistance(m.qr, fr[:len(m.qr)]))
		}
	}
	if d <= m.allowed {
		return typoScore - 50*d
	}
	return 0
}

func ascii(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// editDistanceASCII is editDistance for ASCII strings, without allocating
// (longer strings do not match).
func editDistanceASCII(a, b string) int {
	const maxLen = 64
	if len(a) > maxLen || len(b) > maxLen {
		return 1 << 20
	}
	var prevBuf, curBuf [maxLen + 1]int
	prev, cur := prevBuf[:len(b)+1], curBuf[:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// missing counts the query's bytes that f lacks: a cheap lower bound on
// the edit distance, to skip most fields without computing it.
func (m matcher) missing(f string) int {
	var has [256]bool
	for i := range len(f) {
		has[f[i]] = true
	}
	n := 0
	for i := range len(m.q) {
		if !has[m.q[i]] {
			n++
		}
	}
	return n
}

// subsequence reports whether q's characters appear in f in order, and how
// many characters of f lie between the first and last matched ones beyond
// len(q) (fewer is a tighter match). It compares bytes, which is exact for
// ASCII and conservative otherwise.
func subsequence(q, f string) (gaps int, ok bool) {
	i, first, last := 0, -1, -1
	for j := 0; j < len(f) && i < len(q); j++ {
		if f[j] == q[i] {
			if first < 0 {
				first = j
			}
			last = j
			i++
		}
	}
	if i < len(q) {
		return 0, false
	}
	return last - first + 1 - len(q), true
}

// editDistance is the Levenshtein distance of a and b, with an early cap
// (queries and names are short).
func editDistance(a, b []rune) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

type scored struct {
	app   *access.App
	score int
}

// rank scores apps (any order) for q and returns the best limit, by score
// then name.
func rank(q string, apps []*access.App, limit int) []scored {
	byName := slices.Clone(apps)
	slices.SortFunc(byName, func(x, y *access.App) int {
		return cmp.Or(cmp.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)), cmp.Compare(x.ID, y.ID))
	})
	out := make([]scored, 0, len(apps))
	for _, a := range byName {
		if s := scoreApp(q, a); s > 0 {
			out = append(out, scored{a, s})
		}
	}
	return topScored(out, limit)
}

// fuzzyScanBudget bounds the full-catalog scan of a query that matches no
// app as a substring.
const fuzzyScanBudget = time.Second

// searchApps returns up to limit apps matching query, best first, from the
// in-memory catalog (see catalog). Until that is loaded, it asks the
// store: a substring of an ID, name or alias first and, when nothing
// contains the query, a scan of the whole catalog for subsequences and
// typos, within fuzzyScanBudget.
func (b *Bot) searchApps(ctx context.Context, query string, limit int) ([]scored, error) {
	q := normalizeQuery(query)
	if entries, byID, ok := b.catalog.snapshot(ctx); ok {
		out := searchEntries(q, entries, limit)
		if app, found := byID[q]; found && !slices.ContainsFunc(out, func(s scored) bool { return s.app == app }) {
			out = topScored(append(out, scored{app, exactScore}), limit)
		}
		if len(out) > 0 {
			return out, nil
		}
		// Nothing in the copy: ask the store, in case the app is newer
		// than the copy (which is then refreshed).
		out, err := b.searchStore(ctx, q, limit)
		if len(out) > 0 {
			b.catalog.invalidate()
		}
		return out, err
	}
	return b.searchStore(ctx, q, limit)
}

// exactApp returns the app whose ID is query (ignoring case) from the
// in-memory catalog: such a query names one app, without ranking.
func (b *Bot) exactApp(ctx context.Context, query string) (*access.App, bool) {
	q := normalizeQuery(query)
	if q == "" {
		return nil, false
	}
	_, byID, ok := b.catalog.snapshot(ctx)
	if !ok {
		return nil, false
	}
	app, found := byID[q]
	return app, found
}

// searchStore is searchApps without the in-memory catalog.
func (b *Bot) searchStore(ctx context.Context, q string, limit int) ([]scored, error) {
	// Rank a few more substring matches than are shown, and make sure an
	// app whose ID is the query is among them.
	first, _, err := b.st.AppList(ctx, store.AppListParams{Query: q, Page: store.Page{Limit: 2 * limit}})
	if err != nil {
		return nil, fmt.Errorf("search apps: %w", err)
	}
	if q != "" && idPattern.MatchString(q) && !slices.ContainsFunc(first, func(a *access.App) bool { return strings.EqualFold(a.ID, q) }) {
		if app, err := b.st.AppGetByID(ctx, q); err == nil {
			first = append(first, app)
		}
	}
	if len(first) > 0 || q == "" {
		return rank(q, first, limit), nil
	}
	ctx, cancel := context.WithTimeout(ctx, fuzzyScanBudget)
	defer cancel()
	var best []scored
	cursor := ""
	for {
		page, next, err := b.st.AppList(ctx, store.AppListParams{Page: store.Page{Cursor: cursor, Limit: 500}})
		if err != nil && (errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil) {
			b.log.WarnContext(ctx, "fuzzy app search stopped at its time budget", "query", q)
			break
		}
		if err != nil {
			return nil, fmt.Errorf("scan apps: %w", err)
		}
		best = append(best, rank(q, page, limit)...)
		if next == "" {
			break
		}
		cursor = next
	}
	apps := make([]*access.App, len(best))
	for i, s := range best {
		apps[i] = s.app
	}
	return rank(q, apps, limit), nil
}

// uniqueMatch returns the app the query names without doubt: an exact
// match ahead of any other exact match, or the only match.
func uniqueMatch(ms []scored) (*access.App, bool) {
	switch {
	case len(ms) == 1:
		return ms[0].app, true
	case len(ms) > 1 && ms[0].score >= exactScore && ms[1].score < exactScore:
		return ms[0].app, true
	}
	return nil, false
}
