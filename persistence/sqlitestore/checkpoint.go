package sqlitestore

import (
	"context"
	"database/sql"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Checkpoints off the write path.
//
// In WAL mode SQLite copies the log back into the database file (a
// checkpoint) once the log passes 1000 pages, inside the commit that crossed
// the line: that commit, and every write queued behind it, waits for the
// copy and its fsync. The writer connections turn that off
// (wal_autocheckpoint=0) and a checkpointer per database file runs PASSIVE
// checkpoints on a connection of its own instead, concurrently with the
// writer: PASSIVE never blocks the writer or readers, it copies what no
// reader still needs. The log is checkpointed every checkpointEvery, so it
// holds at most a few seconds of writes; Close runs a final TRUNCATE
// checkpoint, leaving an empty log.
//
// A tick with nothing to copy costs no checkpoint: the log file's size and
// modification time are compared with the previous tick's (one stat), and
// the checkpoint runs only if they changed in the last two ticks (the second
// covers a write within the file system's timestamp granularity of the
// previous stat) or the last checkpoint left frames behind (a reader held
// them); and while the log does not change, the tick slows down to every
// checkpointIdle. An idle engine ran 8 no-op checkpoints a second, 40% of
// its profiled idle CPU.
type checkpointer struct {
	db   *sql.DB
	wal  string
	log  *zap.Logger
	stop chan struct{}
	wg   sync.WaitGroup
	// runs counts the PASSIVE checkpoints run (tests).
	runs atomic.Int64
}

// walStat is what a tick compares of the log file.
type walStat struct {
	size  int64
	mtime time.Time
}

func (w walStat) same(o walStat) bool { return w.size == o.size && w.mtime.Equal(o.mtime) }

func statWAL(path string) walStat {
	fi, err := os.Stat(path)
	if err != nil {
		return walStat{size: -1}
	}
	return walStat{size: fi.Size(), mtime: fi.ModTime()}
}

// checkpointEvery is how often the log is copied back while it is written;
// an idle log is looked at less and less often, down to every
// checkpointIdle (a write is then copied back within that).
const (
	checkpointEvery = 250 * time.Millisecond
	checkpointIdle  = 2 * time.Second
)

func newCheckpointer(ctx context.Context, path string, log *zap.Logger) (*checkpointer, error) {
	db, err := openPool(path, checkpointParams)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, mapErr(err)
	}
	c := &checkpointer{db: db, wal: path + "-wal", log: log, stop: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer c.wg.Done()
	t := time.NewTimer(checkpointEvery)
	defer t.Stop()
	failing := false
	// A first checkpoint copies what an earlier run left.
	prev, changed, behind := walStat{size: -2}, true, true
	// every is the tick: checkpointEvery while the log changes, doubling
	// up to checkpointIdle while it does not.
	every := checkpointEvery
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		st := statWAL(c.wal)
		changedNow := !st.same(prev)
		prev = st
		if changedNow || behind {
			every = checkpointEvery
		} else {
			every = min(2*every, checkpointIdle)
		}
		t.Reset(every)
		if !changedNow && !changed && !behind {
			continue
		}
		changed = changedNow
		var err error
		behind, err = c.passive()
		switch {
		case err != nil && !failing:
			// Logged once per failure streak: the log keeps growing (and
			// reads slow down) until a checkpoint succeeds again.
			c.log.Warn("sqlite checkpoint failed; will retry", zap.Error(err))
			failing = true
		case err == nil && failing:
			c.log.Info("sqlite checkpoints succeed again")
			failing = false
		}
	}
}

// passive runs a PASSIVE checkpoint and reports whether it left frames
// uncopied (or failed).
func (c *checkpointer) passive() (bool, error) {
	c.runs.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy, logPages, done int
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &done)
	return err != nil || done < logPages, mapErr(err)
}

func (c *checkpointer) checkpoint(mode string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy, logPages, done int
	return mapErr(c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logPages, &done))
}

// close stops the loop and, once the writer is closed, empties the log.
func (c *checkpointer) close() error {
	close(c.stop)
	c.wg.Wait()
	if err := c.checkpoint("TRUNCATE"); err != nil {
		c.log.Warn("final sqlite checkpoint", zap.Error(err))
	}
	return c.db.Close()
}
