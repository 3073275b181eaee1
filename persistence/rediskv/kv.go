package rediskv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/wacc/engine/actors"
)

// DefaultHoldoff is the cache hold-off New uses when given zero.
const DefaultHoldoff = 10 * time.Second

// KV is the Redis store. Build it with New.
type KV struct {
	rdb     redis.UniversalClient
	prefix  string
	holdoff time.Duration
	limiter *redis_rate.Limiter
}

// New returns a KV keeping every key under prefix in rdb. A non-positive
// holdoff means DefaultHoldoff. The caller keeps ownership of rdb.
func New(rdb redis.UniversalClient, prefix string, holdoff time.Duration) *KV {
	if holdoff <= 0 {
		holdoff = DefaultHoldoff
	}
	return &KV{
		rdb:     rdb,
		prefix:  prefix,
		holdoff: holdoff,
		limiter: redis_rate.NewLimiter(prefixedScripter{UniversalClient: rdb, prefix: prefix}),
	}
}

// Dial connects to the Redis at redisURL (redis://host:port/db, or any form
// redis.ParseURL accepts), using password when it is not empty, and pings it
// once. The caller closes the returned client. Unless the URL says
// otherwise (read_timeout, write_timeout, dial_timeout, max_retries), a
// command waits at most DefaultCommandTimeout, a dial twice that, and is
// retried once; after a failure for want of the server every command fails
// at once for one command timeout (see breaker).
func Dial(ctx context.Context, redisURL, password string) (redis.UniversalClient, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		// url.Error repeats the URL, which may hold a password: drop it.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	if password != "" {
		opts.Password = password
	}
	q := mustQuery(redisURL)
	if !q.Has("read_timeout") {
		opts.ReadTimeout = DefaultCommandTimeout
	}
	if !q.Has("write_timeout") {
		opts.WriteTimeout = DefaultCommandTimeout
	}
	if !q.Has("dial_timeout") {
		opts.DialTimeout = 2 * DefaultCommandTimeout
	}
	if !q.Has("max_retries") {
		opts.MaxRetries = 1
	}
	rdb := redis.NewClient(opts)
	rdb.AddHook(&breaker{cooldown: opts.ReadTimeout})
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("ping redis %s db %d: %w: %w", opts.Addr, opts.DB, actors.ErrUnavailable, err)
	}
	return rdb, nil
}

// mustQuery is the query of a URL redis.ParseURL accepted.
func mustQuery(raw string) url.Values {
	u, err := url.Parse(raw)
	if err != nil {
		return url.Values{}
	}
	return u.Query()
}

// unavailable wraps a Redis error for op with actors.ErrUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, actors.ErrUnavailable, err)
}

// prefixedScripter moves the keys redis_rate touches (it always uses
// "rate:"+key) under our prefix; every other command goes straight through.
type prefixedScripter struct {
	redis.UniversalClient
	prefix string
}

func (p prefixedScripter) keys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = p.prefix + k
	}
	return out
}

func (p prefixedScripter) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.Eval(ctx, script, p.keys(keys), args...)
}

func (p prefixedScripter) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.EvalSha(ctx, sha1, p.keys(keys), args...)
}

func (p prefixedScripter) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.EvalRO(ctx, script, p.keys(keys), args...)
}

func (p prefixedScripter) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.EvalShaRO(ctx, sha1, p.keys(keys), args...)
}

func (p prefixedScripter) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	return p.UniversalClient.Del(ctx, p.keys(keys)...)
}
