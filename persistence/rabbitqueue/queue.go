package rabbitqueue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Sentinel errors. Each wraps actors.ErrUnavailable where the edge should
// answer 503, so callers may test for either.
var (
	// ErrClosed means Close was called.
	ErrClosed = fmt.Errorf("outbound queue closed: %w", actors.ErrUnavailable)
	// ErrUnroutable means the broker confirmed a publish but returned it
	// because no queue was bound for it (someone deleted or unbound a queue):
	// the job was not queued.
	ErrUnroutable = fmt.Errorf("message unroutable: %w", actors.ErrUnavailable)
	// ErrOutcomeUnknown means a publish reached the broker but no confirm
	// came back (the connection died, or the wait ran out): the job may be
	// queued. It wraps actors.ErrPublishUnknown (and so
	// actors.ErrUnavailable).
	ErrOutcomeUnknown = fmt.Errorf("rabbitmq publish not confirmed: %w", actors.ErrPublishUnknown)
	// ErrNacked means the broker refused a publish (basic.nack).
	ErrNacked = fmt.Errorf("publish refused by broker: %w", actors.ErrUnavailable)
	// ErrDeliveryLost means the channel a delivery came on is gone (its
	// Consume call ended or the connection was lost): the broker has
	// requeued the job (actors.ErrDeliveryLost).
	ErrDeliveryLost = actors.ErrDeliveryLost
	// ErrSettled is actors.ErrSettled.
	ErrSettled = actors.ErrSettled
)

// Compile-time checks that Queue is the outbound queue the engine needs.
var (
	_ actors.OutboundPublisher = (*Queue)(nil)
	_ actors.OutboundConsumer  = (*Queue)(nil)
	_ actors.DeadLetters       = (*Queue)(nil)
)

// Queue is the RabbitMQ outbound queue. Build it with New; it is safe for
// concurrent use.
type Queue struct {
	url  string
	host string // url without credentials, for logs and errors
	opts Options
	topo topology
	log  *zap.Logger

	publishSeq  atomic.Uint64
	redeclaring atomic.Bool // a redeclare after an unroutable publish runs

	mu    sync.Mutex
	cur   *session      // nil while reconnecting
	ready chan struct{} // closed once cur is set; replaced when cur is lost

	// life is cancelled by Close; done is its Done channel.
	life      context.Context
	kill      context.CancelFunc
	done      <-chan struct{}
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // the supervisor goroutine
}

// New connects to the broker at rawURL, declares the topology, and starts
// the goroutine that reconnects after a lost connection. It keeps trying to
// connect until ctx ends (the caller bounds start-up), but returns at once on
// errors retrying cannot fix: bad credentials, or a queue that exists with
// other arguments. Close releases the connection.
func New(ctx context.Context, rawURL string, opts Options, log *zap.Logger) (*Queue, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("rabbitqueue: parse url: invalid url")
	}
	q := &Queue{
		url:   rawURL,
		host:  u.Host,
		opts:  opts,
		topo:  newTopology(opts),
		log:   log.With(zap.String("queue", opts.Name), zap.String("host", u.Host)),
		ready: make(chan struct{}),
	}
	q.life, q.kill = context.WithCancel(context.Background())
	q.done = q.life.Done()
	s, err := q.connectRetrying(ctx, true)
	if err != nil {
		q.kill()
		return nil, fmt.Errorf("rabbitqueue: connect %s queue %s: %w", q.host, opts.Name, err)
	}
	q.setSession(s)
	q.log.Info("outbound queue connected")
	q.wg.Add(1)
	go q.supervise(s)
	return q, nil
}

// Close stops reconnecting and closes the connection. Consumers return
// ErrClosed, their unacknowledged jobs go back to the queue, and publishes
// still waiting fail. It is safe to call twice.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.kill()
		q.wg.Wait()
		q.mu.Lock()
		s := q.cur
		q.cur = nil
		q.mu.Unlock()
		if s != nil {
			q.closeErr = s.close()
		}
		q.log.Info("outbound queue closed")
	})
	return q.closeErr
}

// session is one connection with its publisher channel.
type session struct {
	conn *amqp.Connection
	pub  *amqp.Channel

	// returns receives basic.return for mandatory publishes that found no
	// queue. Only publishers drain it, under retMu, after their confirm:
	// the broker sends the return before the ack, and the client buffers it
	// before it resolves the confirm, so a publisher that drains after its
	// ack sees its own return. See returnedFor.
	returns  chan amqp.Return
	retMu    sync.Mutex
	waiting  map[string]struct{}    // publish ids awaiting their confirm
	returned map[string]amqp.Return // returns of waiting publish ids

	// lost is closed by the supervisor once the connection or the
	// publisher channel is gone.
	lost chan struct{}

	// block is set while the broker blocks this connection
	// (connection.blocked); see watchBlocked.
	block blockState
}

// returnCapacity bounds the returns buffered between two publisher confirms.
const returnCapacity = 1024

func (s *session) close() error {
	if s.conn.IsClosed() {
		return nil
	}
	if err := s.conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("close rabbitmq connection: %w", err)
	}
	return nil
}

// connect dials once, declares the topology and opens the publisher channel.
func (q *Queue) connect(ctx context.Context) (*session, error) {
	conn, err := amqp.DialConfig(q.url, amqp.Config{
		Heartbeat: 10 * time.Second,
		Locale:    "en_US",
		Properties: amqp.Table{
			"connection_name": "engine outbound " + q.opts.Name,
		},
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: q.opts.DialTimeout}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The handshake has no heartbeat yet: bound it. amqp clears
			// the deadline once the connection is open.
			if err := c.SetDeadline(time.Now().Add(q.opts.DialTimeout)); err != nil {
				_ = c.Close()
				return nil, err
			}
			return c, nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	s, err := q.openSession(conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

func (q *Queue) openSession(conn *amqp.Connection) (*session, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := q.topo.declare(ch); err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		return nil, fmt.Errorf("enable publisher confirms: %w", err)
	}
	s := &session{
		conn:     conn,
		pub:      ch,
		returns:  ch.NotifyReturn(make(chan amqp.Return, returnCapacity)),
		waiting:  make(map[string]struct{}),
		returned: make(map[string]amqp.Return),
		lost:     make(chan struct{}),
	}
	q.watchBlocked(conn, s)
	return s, nil
}

// permanent reports whether a connect error cannot be fixed by retrying:
// credentials, vhost access, or a topology that clashes with the broker's.
func permanent(err error) bool {
	if errors.Is(err, amqp.ErrCredentials) || errors.Is(err, amqp.ErrVhost) || errors.Is(err, amqp.ErrSASL) {
		return true
	}
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case amqp.AccessRefused, amqp.PreconditionFailed, amqp.NotAllowed:
			return true
		}
	}
	return false
}

// connectRetrying connects with doubling backoff until it succeeds, ctx
// ends, or Close is called. With stopOnPermanent it gives up on errors
// retrying cannot fix; without it (after start-up) it keeps trying, since an
// operator may fix the broker.
func (q *Queue) connectRetrying(ctx context.Context, stopOnPermanent bool) (*session, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(q.life, cancel) // Close stops the retries
	defer stop()

	backoff := q.opts.ReconnectMin
	for attempt := 1; ; attempt++ {
		s, err := q.connect(ctx)
		if err == nil {
			return s, nil
		}
		if stopOnPermanent && permanent(err) {
			return nil, err
		}
		lvl := zap.WarnLevel
		if permanent(err) {
			lvl = zap.ErrorLevel
		}
		q.log.Log(lvl, "outbound queue connect failed", zap.Int("attempt", attempt), zap.Duration("backoff", backoff), zap.Error(err))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if q.isClosed() {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("%w: %w (last error: %w)", actors.ErrUnavailable, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, q.opts.ReconnectMax)
	}
}

func (q *Queue) isClosed() bool {
	select {
	case <-q.done:
		return true
	default:
		return false
	}
}

func (q *Queue) setSession(s *session) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cur = s
	close(q.ready)
}

// supervise waits for the session to be lost, then reconnects, until Close.
func (q *Queue) supervise(s *session) {
	defer q.wg.Done()
	for {
		connClosed := s.conn.NotifyClose(make(chan *amqp.Error, 1))
		pubClosed := s.pub.NotifyClose(make(chan *amqp.Error, 1))
		var cause *amqp.Error
		select {
		case <-q.done:
			return
		case cause = <-connClosed:
		case cause = <-pubClosed:
		}

		q.mu.Lock()
		q.cur = nil
		q.ready = make(chan struct{})
		q.mu.Unlock()
		close(s.lost)
		_ = s.close()
		q.log.Warn("outbound queue connection lost", zap.Error(errOrNil(cause)))

		next, err := q.connectRetrying(context.Background(), false)
		if err != nil { // only ErrClosed: Close was called
			return
		}
		q.setSession(next)
		q.log.Info("outbound queue reconnected")
		s = next
	}
}

// errOrNil keeps a nil *amqp.Error from becoming a non-nil error.
func errOrNil(e *amqp.Error) error {
	if e == nil {
		return nil
	}
	return e
}

// session returns the live session, waiting for a reconnect until ctx ends.
func (q *Queue) session(ctx context.Context) (*session, error) {
	for {
		q.mu.Lock()
		s, ready := q.cur, q.ready
		q.mu.Unlock()
		if q.isClosed() {
			return nil, ErrClosed
		}
		if s != nil {
			return s, nil
		}
		select {
		case <-ready:
		case <-q.done:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for rabbitmq connection: %w: %w", actors.ErrUnavailable, ctx.Err())
		}
	}
}
