package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Group commit of the main database.
//
// SQLite has one writer, and with WAL each commit is a write and a sync of
// the log: one commit per store call made conversations apply a few thousand
// messages a second however many actors wrote at once. Every write of the
// store is therefore a job for one committer goroutine, which takes the jobs
// waiting (up to maxBatch) and runs them in one transaction, each inside its
// own savepoint:
//
//   - a job that fails is rolled back to its savepoint and gets its error;
//     the others are unaffected, as if each had its own transaction;
//   - a job's caller is answered only after the COMMIT that made its writes
//     durable, with the COMMIT's error if it fails (then nothing of the batch
//     was written);
//   - if SQLite rolled the whole transaction back by itself (a disk error,
//     for instance), the savepoint is gone, which the committer notices: the
//     batch is abandoned and every job of it gets the error;
//   - a job whose context ended before its turn is not run and gets the
//     context's error; once a job has started, its caller waits for the
//     answer, so a caller is never told "failed" about a write that commits.
//
// Jobs run with the committer's context, not their callers': SQLite
// interrupts a statement whose context ends, and an interrupted write inside
// a transaction rolls back the whole transaction, which would undo other
// callers' jobs.
type committer struct {
	db   *sql.DB
	jobs chan *writeJob
	// The savepoint statements, prepared once.
	save, rollbackTo, release *sql.Stmt

	mu     sync.RWMutex
	closed bool
	done   chan struct{}
}

// maxBatch bounds the jobs of one transaction, so one commit's latency stays
// bounded under any load.
const maxBatch = 512

// writeJob is one store call's writes.
type writeJob struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

var errStoreClosed = errors.New("sqlite store is closed")

func newCommitter(ctx context.Context, db *sql.DB) (*committer, error) {
	c := &committer{db: db, jobs: make(chan *writeJob, maxBatch), done: make(chan struct{})}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{{&c.save, "SAVEPOINT job"}, {&c.rollbackTo, "ROLLBACK TO job"}, {&c.release, "RELEASE job"}} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			c.closeStmts()
			return nil, fmt.Errorf("prepare %q: %w", p.query, mapErr(err))
		}
		*p.dst = st
	}
	go c.run()
	return c, nil
}

func (c *committer) closeStmts() {
	for _, st := range []*sql.Stmt{c.save, c.rollbackTo, c.release} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// do runs fn in a write transaction shared with other callers' jobs and
// returns once the transaction committed (nil) or fn's or the commit's
// error.
func (c *committer) do(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errStoreClosed
	}
	select {
	case c.jobs <- j:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	return <-j.done
}

// close lets the jobs already submitted finish, then stops the committer.
func (c *committer) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.jobs)
	c.mu.Unlock()
	<-c.done
	c.closeStmts()
}

func (c *committer) run() {
	defer close(c.done)
	batch := make([]*writeJob, 0, maxBatch)
	for j := range c.jobs {
		batch = append(batch[:0], j)
	fill:
		for len(batch) < maxBatch {
			select {
			case j, ok := <-c.jobs:
				if !ok {
					break fill
				}
				batch = append(batch, j)
			default:
				break fill
			}
		}
		c.commit(batch)
		clear(batch)
	}
}

// commit runs one batch and answers each of its jobs.
func (c *committer) commit(batch []*writeJob) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	defer func() {
		for i, j := range batch {
			j.done <- errs[i]
		}
	}()
	// fail answers err to every job not answered otherwise: nothing of
	// the batch was written.
	fail := func(err error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		fail(mapErr(err))
		return
	}
	if len(batch) == 1 {
		// Alone: its own transaction, no savepoint needed.
		j := batch[0]
		if errs[0] = j.ctx.Err(); errs[0] == nil {
			errs[0] = call(ctx, tx, j.fn)
		}
		if errs[0] != nil {
			_ = tx.Rollback()
			return
		}
		errs[0] = mapErr(tx.Commit())
		return
	}
	for i, j := range batch {
		if errs[i] = j.ctx.Err(); errs[i] != nil {
			continue // its caller gave up before its turn: not run
		}
		if _, err := tx.StmtContext(ctx, c.save).ExecContext(ctx); err != nil {
			_ = tx.Rollback()
			fail(fmt.Errorf("begin write: %w", mapErr(err)))
			return
		}
		if errs[i] = call(ctx, tx, j.fn); errs[i] != nil {
			// The savepoint is gone if SQLite rolled the transaction
			// back by itself: then nothing of the batch can commit.
			if _, err := tx.StmtContext(ctx, c.rollbackTo).ExecContext(ctx); err != nil {
				_ = tx.Rollback()
				fail(fmt.Errorf("write abandoned after %v: %w", errs[i], mapErr(err)))
				return
			}
		}
		if _, err := tx.StmtContext(ctx, c.release).ExecContext(ctx); err != nil {
			_ = tx.Rollback()
			fail(fmt.Errorf("end write: %w", mapErr(err)))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(mapErr(err))
	}
}

// call runs fn, turning a panic into an error so that one bad job fails
// alone instead of taking the committer, and every caller, down.
func call(ctx context.Context, tx *sql.Tx, fn func(ctx context.Context, tx *sql.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write panicked: %v", r)
		}
	}()
	return fn(ctx, tx)
}
