package supervisors

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Bounds of a Host's mailbox workers (see workers).
const (
	// maxWorkers is how many workers a Host keeps at most; a batch that
	// finds none waiting runs on a fresh goroutine, as protoactor's default
	// dispatcher runs every batch.
	maxWorkers = 64
	// workerIdle is how long the workers may all sit idle before they
	// stop: a Host at rest keeps no goroutine.
	workerIdle = 50 * time.Millisecond
	// mailboxThroughput is how many messages a mailbox handles per batch
	// (protoactor's default).
	mailboxThroughput = 300
)

// workers is the dispatcher of a Host's shards and conversation actors: it
// runs each mailbox batch on a worker goroutine waiting for one, and on a
// fresh goroutine when none is. protoactor's default dispatcher starts a
// goroutine per batch, whose small starting stack the path of a message
// (shard, conversation actor, store) outgrows, so the runtime copies it
// twice for nearly every message; a worker keeps the stack it grew. It
// never makes a batch wait: a batch is handed to a worker only if one is
// waiting. Workers stop once none was handed a batch for workerIdle, so
// nothing outlives a Host at rest.
type workers struct {
	work chan func()
	// n is how many workers run; handed counts batches handed to them.
	n      atomic.Int32
	handed atomic.Uint64
	mu     sync.Mutex
	// reaper retires idle workers; seen is handed when it last looked.
	reaper *time.Timer
	seen   uint64
}

var _ actor.Dispatcher = (*workers)(nil)

func newWorkers() *workers { return &workers{work: make(chan func())} }

// Throughput is protoactor's default.
func (w *workers) Throughput() int { return mailboxThroughput }

// Schedule runs fn on a waiting worker, a new worker, or a fresh goroutine.
func (w *workers) Schedule(fn func()) {
	select {
	case w.work <- fn:
		w.handed.Add(1)
		return
	default:
	}
	if w.n.Load() < maxWorkers && w.start(fn) {
		return
	}
	go fn()
}

// start starts a worker that runs fn first, unless there are enough.
func (w *workers) start(fn func()) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n.Load() >= maxWorkers {
		return false
	}
	w.n.Add(1)
	if w.reaper == nil {
		w.seen = w.handed.Load()
		w.reaper = time.AfterFunc(workerIdle, w.reap)
	}
	go w.run(fn)
	return true
}

// run is a worker: it runs fn, then each batch it is handed, until it is
// handed nil (retired).
func (w *workers) run(fn func()) {
	for fn != nil {
		fn()
		fn = <-w.work
	}
}

// reap retires every waiting worker if none was handed a batch since it
// last looked, and looks again after workerIdle while workers remain.
func (w *workers) reap() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h := w.handed.Load(); h != w.seen {
		w.seen = h
		w.reaper.Reset(workerIdle)
		return
	}
retire:
	for w.n.Load() > 0 {
		select {
		case w.work <- nil:
			w.n.Add(-1)
		default:
			break retire
		}
	}
	if w.n.Load() > 0 {
		// Some are busy (a long store call): look again later.
		w.reaper.Reset(workerIdle)
		return
	}
	w.reaper = nil
}
