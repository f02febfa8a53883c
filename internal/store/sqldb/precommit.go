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
// PreCommitter in the order each was first used (a transaction uses one
// or two, so a slice searched in order is all it needs).
type preCommits struct {
	lists []preList
}

type preList struct {
	pc    PreCommitter
	items []any
}

// preMark is how many items each list had at a savepoint; lists added
// since have no entry.
type preMark []int

func (p *preCommits) mark() preMark {
	m := make(preMark, len(p.lists))
	for i, l := range p.lists {
		m[i] = len(l.items)
	}
	return m
}

// rollback drops what was added since m.
func (p *preCommits) rollback(m preMark) {
	p.lists = p.lists[:len(m)]
	for i, n := range m {
		p.lists[i].items = p.lists[i].items[:n]
	}
}

// add appends item to pc's list.
func (p *preCommits) add(pc PreCommitter, item any) {
	for i := range p.lists {
		if p.lists[i].pc == pc {
			p.lists[i].items = append(p.lists[i].items, item)
			return
		}
	}
	p.lists = append(p.lists, preList{pc: pc, items: []any{item}})
}

// run calls every PreCommitter with its items.
func (p *preCommits) run(ctx context.Context, tx *sql.Tx) error {
	for _, l := range p.lists {
		if len(l.items) > 0 {
			if err := l.pc.PreCommit(ctx, tx, l.items); err != nil {
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
	sq.pre.add(pc, item)
	return true
}
