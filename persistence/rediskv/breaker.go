package rediskv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wacc/engine/actors"
)

// DefaultCommandTimeout bounds one Redis command (read and write) when
// REDIS_URL sets no read_timeout/write_timeout: the limiter, the revocation
// check and the cache sit on every request's path, so a Redis that stops
// answering must fail them fast rather than hold each for go-redis's 3 s.
const DefaultCommandTimeout = time.Second

// errBreakerOpen is what a command gets while the breaker is open.
var errBreakerOpen = errors.New("redis unreachable a moment ago (fail-fast window)")

// breaker is a go-redis hook that, once a command or dial fails for want
// of the server (a timeout, a refused or reset connection), fails every
// command at once for cooldown instead of waiting for its own timeout:
// one request then pays at most one timeout, not one per Redis command
// on its path (limiter, revocation, cache), and a paused Redis does not
// pile up waiting goroutines. After the cooldown the next command tries
// the server again, so recovery needs no restart. Answers from the server
// (redis.Nil, error replies) are not failures.
type breaker struct {
	cooldown  time.Duration
	openUntil atomic.Int64 // unix nanoseconds
}

var _ redis.Hook = (*breaker)(nil)

func (b *breaker) check() error {
	if time.Now().UnixNano() < b.openUntil.Load() {
		return fmt.Errorf("%w: %w", actors.ErrUnavailable, errBreakerOpen)
	}
	return nil
}

func (b *breaker) observe(err error) {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		var ne net.Error
		if !errors.As(err, &ne) {
			return // the server answered with an error: it is up
		}
	}
	b.openUntil.Store(time.Now().Add(b.cooldown).UnixNano())
}

func (b *breaker) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err := b.check(); err != nil {
			return nil, err
		}
		c, err := next(ctx, network, addr)
		b.observe(err)
		return c, err
	}
}

func (b *breaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := b.check(); err != nil {
			cmd.SetErr(err)
			return err
		}
		err := next(ctx, cmd)
		b.observe(err)
		return err
	}
}

func (b *breaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := b.check(); err != nil {
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		err := next(ctx, cmds)
		b.observe(err)
		return err
	}
}
