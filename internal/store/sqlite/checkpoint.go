package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// checkpointEvery is how often the background checkpointer copies the WAL
// into the database file.
const checkpointEvery = 250 * time.Millisecond

// writerPragmas are the writer connection's settings on top of DSN's: it
// never checkpoints itself (the checkpointer does); the WAL file is cut
// back to 64 MiB when it restarts rather than keeping the size of its
// largest burst; savepoint journals stay in memory (temp_store): a group
// commit runs each call in a savepoint, and with the default temp_store a
// savepoint's journal spills to a temporary file past 64 KiB, one write
// system call per page it saves (a tenth of a lifecycle's CPU); and the
// page cache holds 64 MiB instead of 2 MiB (the only writer's cache stays
// valid between its transactions, so the indexes it writes stay hot).
const writerPragmas = "&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-65536)"

// checkpointer copies the WAL back into the database file in the
// background, with a connection of its own, so that the writer's commits
// never do it. With SQLite's automatic checkpoint the commit that takes the
// WAL past 1,000 pages copies them and syncs the database file while it
// still holds the write lock, and every writer queued behind it waits (the
// API's worst latencies). A PASSIVE checkpoint does not block writers or
// readers: it copies what no reader still needs, and the WAL restarts from
// its beginning once a writer finds it all copied.
type checkpointer struct {
	db       *sql.DB
	stop     chan struct{}
	wg       sync.WaitGroup
	log      *slog.Logger
	stopOnce sync.Once
}

func startCheckpointer(path string, every time.Duration) *checkpointer {
	db := sql.OpenDB(&cachingConnector{dsn: DSN(path), drv: &sqlite.Driver{}})
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	c := &checkpointer{db: db, stop: make(chan struct{}), log: slog.Default()}
	c.wg.Add(1)
	go c.run(every)
	return c
}

func (c *checkpointer) run(every time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if err := c.checkpoint(context.Background()); err != nil {
				c.log.WarnContext(context.Background(), "sqlite: background WAL checkpoint failed; the next one retries", "err", err)
			}
		}
	}
}

// checkpoint runs one PASSIVE checkpoint.
func (c *checkpointer) checkpoint(ctx context.Context) error {
	var busy, logFrames, copied int
	return c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied)
}

// close stops the checkpointer, runs a last checkpoint and closes its
// connection. Calls after the first do nothing.
func (c *checkpointer) close() error {
	var err error
	c.stopOnce.Do(func() {
		close(c.stop)
		c.wg.Wait()
		err = c.checkpoint(context.Background())
		if cerr := c.db.Close(); err == nil {
			err = cerr
		}
	})
	return err
}
