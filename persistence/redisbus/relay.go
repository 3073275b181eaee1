package redisbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Defaults of Options.
const (
	DefaultMaxLen    = 100_000
	DefaultQueueSize = 65_536
	// maxBatch is how many events one pipeline of XADDs carries.
	maxBatch = 256
	// readCount and readBlock bound one XREAD.
	readCount = 512
	readBlock = time.Second
	// maxBackoff caps the wait between two attempts on Redis.
	maxBackoff = 2 * time.Second
)

// Options configure a Relay.
type Options struct {
	// Node names this process in the stream; it must be unique among the
	// live nodes and is best new at every start (NewNodeID).
	Node string
	// Prefix is put before every key (REDIS_PREFIX).
	Prefix string
	// MaxLen is about how many events the stream keeps (XADD MAXLEN ~):
	// how far back a reconnecting socket can resume.
	MaxLen int64
	// QueueSize bounds the events waiting to be written to Redis.
	QueueSize int
	// OnLost, when set, is called (on the reader's goroutine) when events
	// were trimmed from the stream before this node read them: its sockets
	// missed them and should reconnect (their cursors then tell them to
	// reload).
	OnLost func()
	Log    *zap.Logger
}

// Relay carries the events of every node to the subscribers of every node
// through one Redis stream. See the package documentation.
type Relay struct {
	rdb    redis.UniversalClient
	opts   Options
	log    *zap.Logger
	stream string

	local     *actors.Bus
	delivered *actors.Bus
	relayed   map[string]bool

	queue chan entry
	seq   atomic.Uint64
	// dropped counts events refused by a full queue; malformed the
	// entries read that could not be decoded.
	dropped, malformed atomic.Int64
	// lost counts the entries trimmed before this node read them.
	lost atomic.Int64
	// failing is set while writing to Redis fails (Flush does not wait).
	failing atomic.Bool

	unsubscribe func()
	runOnce     sync.Once
	// ready is closed once Run knows where the stream ends.
	ready chan struct{}
}

var _ actors.Publisher = (*Relay)(nil)

// New returns a relay of the events published on local. It subscribes to
// local for actors.SocketEvents at once; nothing reaches Redis until Run.
func New(rdb redis.UniversalClient, local *actors.Bus, opts Options) *Relay {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.MaxLen <= 0 {
		opts.MaxLen = DefaultMaxLen
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Node == "" {
		opts.Node = NewNodeID()
	}
	r := &Relay{rdb: rdb, opts: opts, log: opts.Log.With(zap.String("node", opts.Node)), stream: opts.Prefix + "events",
		local: local, delivered: actors.NewBus(), relayed: map[string]bool{}, queue: make(chan entry, opts.QueueSize), ready: make(chan struct{})}
	for _, t := range actors.SocketEvents {
		r.relayed[t] = true
	}
	r.unsubscribe = local.Subscribe(r, actors.SocketEvents...)
	return r
}

// Delivered is the bus the events of every node come out of, in stream
// order, each with its Cursor: the one agent sockets subscribe to.
func (r *Relay) Delivered() *actors.Bus { return r.delivered }

// Subscribe subscribes p to the relayed types on the delivered bus (every
// node's events) and to the other types on the local bus (this node's
// only: agent.requested is answered by the node that asked).
func (r *Relay) Subscribe(p actors.Publisher, types ...string) (unsubscribe func()) {
	var relayed, local []string
	for _, t := range types {
		if r.relayed[t] {
			relayed = append(relayed, t)
		} else {
			local = append(local, t)
		}
	}
	var subs []func()
	if len(relayed) > 0 || len(types) == 0 {
		subs = append(subs, r.delivered.Subscribe(p, relayed...))
	}
	if len(local) > 0 {
		subs = append(subs, r.local.Subscribe(p, local...))
	}
	return func() {
		for _, u := range subs {
			u()
		}
	}
}

// Publish queues a locally produced event for the stream. It never
// blocks: when the queue is full the event is dropped, counted and logged.
func (r *Relay) Publish(ev actors.Event) {
	e := entry{origin: r.opts.Node, seq: r.seq.Add(1), ev: ev}
	select {
	case r.queue <- e:
	default:
		r.dropped.Add(1)
		r.log.Error("event not relayed: queue full (Redis too slow or down)", zap.String("event", ev.Type),
			zap.String("conversation_id", ev.ConversationID), zap.Int("queued", len(r.queue)))
	}
}

// ErrRelayFailing is Flush's answer while writing to Redis fails.
var ErrRelayFailing = errors.New("redisbus: writing events to Redis fails")

// Flush waits until every event published before it was written to the
// stream (so it reaches every node's sockets even if this process dies
// now), or ctx ends. While Redis fails it answers ErrRelayFailing at once
// rather than hold the caller for the outage; the events stay queued.
func (r *Relay) Flush(ctx context.Context) error {
	if r.failing.Load() {
		return ErrRelayFailing
	}
	done := make(chan struct{})
	select {
	case r.queue <- entry{flushed: done}:
	default:
		return errors.New("redisbus: flush: queue full")
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redisbus: flush: %w", ctx.Err())
	}
}

// Ready is closed once Run has found the stream's end: every event
// written after it is delivered.
func (r *Relay) Ready() <-chan struct{} { return r.ready }

// Node is the name this relay writes its events under.
func (r *Relay) Node() string { return r.opts.Node }

// Dropped counts the events a full queue refused.
func (r *Relay) Dropped() int64 { return r.dropped.Load() }

// Lost counts the events trimmed from the stream before this node read
// them (it stalled longer than the stream's retention).
func (r *Relay) Lost() int64 { return r.lost.Load() }

// Queued is how many events wait to be written.
func (r *Relay) Queued() int { return len(r.queue) }

// Run writes the queued events to the stream and delivers the stream's
// events (every node's, its own included) to the delivered bus, from the
// stream's end as of now, until ctx ends; then it writes what is still
// queued (for at most drainTimeout) and returns. Redis errors are retried
// with backoff. Run may be called once.
func (r *Relay) Run(ctx context.Context) error {
	first := false
	r.runOnce.Do(func() { first = true })
	if !first {
		return errors.New("redisbus: Run called twice")
	}
	defer r.unsubscribe()
	start, err := r.tailWithRetry(ctx)
	if err != nil {
		return nil // ctx ended before Redis answered
	}
	close(r.ready)
	// io outlives ctx by drainTimeout, for writing what is still queued.
	io, cancelIO := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelIO()
	stopIO := context.AfterFunc(ctx, func() { time.AfterFunc(drainTimeout, cancelIO) })
	defer stopIO()
	var wg sync.WaitGroup
	wg.Go(func() { r.read(ctx, &start) })
	r.write(ctx, io)
	wg.Wait()
	return nil
}

// drainTimeout bounds the writing of what is queued at shutdown.
const drainTimeout = 5 * time.Second

// position is where a reader stands in the stream: the last entry it
// read, how many entries the stream had taken in (entries-added) when it
// started there, and how many it has read since. When it has caught up
// with the stream's last entry, added-read-added0 entries went by unread:
// trimmed before it got to them.
type position struct {
	last          string
	added0, read  int64
	lastCheckedAt time.Time
}

// tailWithRetry returns the position at the stream's end, retrying until
// Redis answers or ctx ends.
func (r *Relay) tailWithRetry(ctx context.Context) (position, error) {
	backoff := 50 * time.Millisecond
	for {
		p, err := r.tail(ctx)
		if err == nil {
			return p, nil
		}
		r.log.Warn("read the event stream's end; will retry", zap.Duration("retry_in", backoff), zap.Error(err))
		if !sleep(ctx, backoff) {
			return position{}, ctx.Err()
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (r *Relay) tail(ctx context.Context) (position, error) {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := r.rdb.XInfoStream(c, r.stream).Result()
	if isNoStream(err) {
		return position{last: "0-0"}, nil
	}
	if err != nil {
		return position{}, fmt.Errorf("xinfo %s: %w", r.stream, err)
	}
	return position{last: info.LastGeneratedID, added0: info.EntriesAdded, lastCheckedAt: time.Now()}, nil
}

// lossCheckEvery is how often a busy reader checks it lost nothing; an
// idle one checks at every empty read.
const lossCheckEvery = 5 * time.Second

// checkLoss tells whether entries went by unread (the stream trimmed them
// before this reader got to them: a node stalled longer than the stream's
// retention). It can tell only when the reader is at the stream's end; it
// counts and logs a loss once, and calls Options.OnLost.
func (r *Relay) checkLoss(ctx context.Context, p *position) {
	p.lastCheckedAt = time.Now()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := r.rdb.XInfoStream(c, r.stream).Result()
	if err != nil || info.LastGeneratedID != p.last {
		return // not at the end (or Redis failed): next time
	}
	lost := info.EntriesAdded - p.added0 - p.read
	if lost <= 0 {
		return
	}
	p.added0 += lost
	r.lost.Add(lost)
	r.log.Error("events trimmed from the stream before this node read them; its sockets reconnect and reload",
		zap.Int64("events", lost), zap.Int64("max_len", r.opts.MaxLen))
	if r.opts.OnLost != nil {
		r.opts.OnLost()
	}
}

// write drains the queue into the stream, in batches, in order, until
// ctx ends and the queue is empty, or io ends (drainTimeout after ctx). A
// batch that fails is written again after a backoff (the readers drop the
// entries a partly applied batch repeats: see dedup); events queue up
// meanwhile.
func (r *Relay) write(ctx, io context.Context) {
	batch := make([]entry, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case e := <-r.queue:
			batch = append(batch, e)
		case <-ctx.Done():
			if len(r.queue) == 0 {
				return
			}
			continue
		}
		batch = r.fill(batch)
		ok := r.writeBatch(io, batch)
		r.failing.Store(!ok)
		if ok {
			for _, e := range batch {
				if e.flushed != nil {
					close(e.flushed)
				}
			}
		}
		if !ok {
			if n := len(r.queue); n > 0 {
				r.log.Error("events not relayed at shutdown", zap.Int("events", n))
			}
			return
		}
	}
}

// fill adds what is already queued to batch, up to maxBatch.
func (r *Relay) fill(batch []entry) []entry {
	for len(batch) < maxBatch {
		select {
		case e := <-r.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// writeBatch writes batch until it is written (true) or io ends.
func (r *Relay) writeBatch(io context.Context, batch []entry) bool {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := r.xadd(io, batch)
		if err == nil {
			return true
		}
		if io.Err() != nil {
			r.log.Error("events not relayed: stopped while Redis failed", zap.Int("events", len(batch)), zap.Error(err))
			return false
		}
		r.failing.Store(true)
		r.log.Warn("relay events to Redis; will retry", zap.Int("attempt", attempt), zap.Int("events", len(batch)),
			zap.Duration("retry_in", backoff), zap.Error(err))
		sleep(io, backoff)
		backoff = min(2*backoff, maxBackoff)
	}
}

func (r *Relay) xadd(ctx context.Context, batch []entry) error {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pipe := r.rdb.Pipeline()
	n := 0
	for _, e := range batch {
		if e.flushed != nil {
			continue
		}
		values, err := encode(e)
		if err != nil {
			r.log.Error("event not relayed", zap.String("event", e.ev.Type), zap.String("conversation_id", e.ev.ConversationID), zap.Error(err))
			continue
		}
		pipe.XAdd(c, &redis.XAddArgs{Stream: r.stream, MaxLen: r.opts.MaxLen, Approx: true, Values: values})
		n++
	}
	if n == 0 {
		return nil
	}
	if _, err := pipe.Exec(c); err != nil {
		return fmt.Errorf("xadd %d events to %s: %w", n, r.stream, err)
	}
	return nil
}

// read delivers the stream's entries after start to the delivered bus, in
// order, until ctx ends; errors are retried with backoff from the last
// entry delivered, so a Redis outage delays events but loses none the
// stream still holds.
func (r *Relay) read(ctx context.Context, pos *position) {
	seen := dedup{}
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		streams, err := r.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{r.stream, pos.last}, Count: readCount, Block: readBlock}).Result()
		if errors.Is(err, redis.Nil) {
			backoff = 50 * time.Millisecond
			r.checkLoss(ctx, pos)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("read the event stream; will retry", zap.Duration("retry_in", backoff), zap.Error(err))
			sleep(ctx, backoff)
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = 50 * time.Millisecond
		n := 0
		for _, s := range streams {
			for _, m := range s.Messages {
				pos.last = m.ID
				pos.read++
				n++
				e, err := decode(m.ID, m.Values)
				if err != nil {
					r.malformed.Add(1)
					r.log.Error("event stream entry skipped", zap.Error(err))
					continue
				}
				if seen.repeat(e) {
					continue
				}
				r.delivered.Publish(e.ev)
			}
		}
		if n < readCount && time.Since(pos.lastCheckedAt) >= lossCheckEvery {
			r.checkLoss(ctx, pos)
		}
	}
}

// dedup remembers the last sequence number seen of each node: an entry
// whose number is not above it is a retried write's repeat.
type dedup map[string]uint64

func (d dedup) repeat(e entry) bool {
	if last, ok := d[e.origin]; ok && e.seq <= last {
		return true
	}
	d[e.origin] = e.seq
	return false
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
