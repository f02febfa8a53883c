package sqldb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sesame-access/sesame/internal/store"
)

// PreCommitter writes, in a transaction just before it commits, what the
// transaction's work asked of it with AddPreCommit: a job queue inserts
// the jobs of every InTx call of a group commit in one statement instead
// of one per call, and the jobs still commit with the changes that made
// them, or not at all.
type PreCommitter interface {
	// PreCommit writes items (in the order they were added) in tx. An
	// error rolls the whole transaction back.
	PreCommit(ctx context.Context, tx *sql.Tx, items []any) error
}

// preCommits holds a transaction's pending PreCommit items, by
// PreCommitter in the order each was first used.
type preCommits struct {
	order []PreCommitter
	items map[PreCommitter][]any
}

// mark is how much of each PreCommitter's list existed at a savepoint.
type preMark map[PreCommitter]int

func (p *preCommits) mark() preMark {
	m := make(preMark, len(p.order))
	for _, pc := range p.order {
		m[pc] = len(p.items[pc])
	}
	return m
}

// rollback drops what was added since m.
func (p *preCommits) rollback(m preMark) {
	order := p.order[:0]
	for _, pc := range p.order {
		n, ok := m[pc]
		if !ok {
			delete(p.items, pc)
			continue
		}
		p.items[pc] = p.items[pc][:n]
		order = append(order, pc)
	}
	p.order = order
}

// run calls every PreCommitter with its items.
func (p *preCommits) run(ctx context.Context, tx *sql.Tx) error {
	for _, pc := range p.order {
		if items := p.items[pc]; len(items) > 0 {
			if err := pc.PreCommit(ctx, tx, items); err != nil {
				return fmt.Errorf("before commit: %w", err)
			}
		}
	}
	return nil
}

// AddPreCommit asks pc to write item in q's transaction just before it
// commits (see PreCommitter). It reports false, doing nothing, when q is
// not the Queries of a DB's InTx; the caller then writes item itself.
func AddPreCommit(q store.Queries, pc PreCommitter, item any) bool {
	sq, ok := q.(*queries)
	if !ok || sq.tx == nil || sq.pre == nil {
		return false
	}
	if _, seen := sq.pre.items[pc]; !seen {
		if sq.pre.items == nil {
			sq.pre.items = map[PreCommitter][]any{}
		}
		sq.pre.order = append(sq.pre.order, pc)
	}
	sq.pre.items[pc] = append(sq.pre.items[pc], item)
	return true
}
