package rediskv

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/kvtest"
	"github.com/wacc/engine/persistence/servicetest"
)

var _ kvtest.KV = (*KV)(nil)

func keysUnder(t *testing.T, rdb *redis.Client, prefix string) []string {
	t.Helper()
	var keys []string
	iter := rdb.Scan(t.Context(), 0, prefix+"*", 100).Iterator()
	for iter.Next(t.Context()) {
		keys = append(keys, iter.Val())
	}
	require.NoError(t, iter.Err())
	return keys
}

func TestContract(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kvtest.KV {
		rdb, prefix := servicetest.Redis(t)
		return New(rdb, prefix, kvtest.Holdoff)
	})
}

func TestKeysLiveUnderPrefix(t *testing.T) {
	ctx := t.Context()
	rdb, prefix := servicetest.Redis(t)
	kv := New(rdb, prefix, 5*time.Second)
	rateKey := "ip:" + rand.Text()

	require.NoError(t, kv.Revoke(ctx, "jti-1", time.Now().Add(time.Hour)))
	ok, _, err := kv.Allow(ctx, rateKey, 10)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, kv.CacheFill(ctx, "user:1", []byte("alice"), time.Minute))
	require.NoError(t, kv.CacheInvalidate(ctx, "user:2"))

	assert.ElementsMatch(t, []string{
		prefix + "revoked:jti-1",
		prefix + "rate:" + rateKey,
		prefix + "cache:user:1",
		prefix + "cache:user:2",
	}, keysUnder(t, rdb, prefix))
	n, err := rdb.Exists(ctx, "rate:"+rateKey).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "redis_rate's own key must not be written outside the prefix")

	tests := []struct {
		name     string
		key      string
		value    string
		minTTL   time.Duration
		maxTTL   time.Duration
		describe string
	}{
		{name: "revocation", key: prefix + "revoked:jti-1", value: "1", minTTL: 59 * time.Minute, maxTTL: time.Hour, describe: "expires at until"},
		{name: "value", key: prefix + "cache:user:1", value: "valice", minTTL: 59 * time.Second, maxTTL: time.Minute, describe: "tagged value with the fill's ttl"},
		{name: "tombstone", key: prefix + "cache:user:2", value: "t", minTTL: 4 * time.Second, maxTTL: 5 * time.Second, describe: "tombstone with the hold-off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			val, err := rdb.Get(ctx, tc.key).Result()
			require.NoError(t, err)
			assert.Equal(t, tc.value, val, tc.describe)
			ttl, err := rdb.PTTL(ctx, tc.key).Result()
			require.NoError(t, err)
			assert.GreaterOrEqual(t, ttl, tc.minTTL, tc.describe)
			assert.LessOrEqual(t, ttl, tc.maxTTL, tc.describe)
		})
	}
}

func TestDefaultHoldoff(t *testing.T) {
	ctx := t.Context()
	rdb, prefix := servicetest.Redis(t)
	kv := New(rdb, prefix, 0)
	require.NoError(t, kv.CacheInvalidate(ctx, "k"))
	ttl, err := rdb.PTTL(ctx, prefix+"cache:k").Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 9*time.Second)
	assert.LessOrEqual(t, ttl, DefaultHoldoff)
	assert.Equal(t, 10*time.Second, DefaultHoldoff, "documented default")
}

func TestForeignCacheValueIsError(t *testing.T) {
	ctx := t.Context()
	rdb, prefix := servicetest.Redis(t)
	kv := New(rdb, prefix, time.Second)
	require.NoError(t, rdb.Set(ctx, prefix+"cache:k", "xyz", time.Minute).Err())
	_, ok, err := kv.CacheGet(ctx, "k")
	assert.Error(t, err)
	assert.False(t, ok)
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestDial(t *testing.T) {
	addr := servicetest.RedisAddr(t)
	tests := []struct {
		name     string
		url      string
		password string
		// wantDB is the selected database when Dial succeeds.
		wantDB int
		// wantErr is a sentinel the error must match; nil with failErr
		// false means success.
		wantErr error
		failErr bool
		// secret must not appear in the error text.
		secret string
	}{
		{name: "default_db", url: "redis://" + addr, wantDB: 0},
		{name: "db_from_path", url: "redis://" + addr + "/5", wantDB: 5},
		{name: "unreachable", url: "redis://" + closedAddr(t) + "/0", wantErr: actors.ErrUnavailable, failErr: true},
		{name: "bad_scheme", url: "http://" + addr, failErr: true},
		{name: "bad_db", url: "redis://" + addr + "/x", failErr: true},
		{name: "unparsable_url_hides_password", url: "redis://:hunter2@host:port:bad/0", failErr: true, secret: "hunter2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			rdb, err := Dial(ctx, tc.url, tc.password)
			if tc.failErr {
				require.Error(t, err)
				assert.Nil(t, rdb)
				if tc.wantErr != nil {
					assert.ErrorIs(t, err, tc.wantErr)
				}
				if tc.secret != "" {
					assert.NotContains(t, err.Error(), tc.secret)
				}
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = rdb.Close() })
			client, ok := rdb.(*redis.Client)
			require.True(t, ok, "Dial returns a *redis.Client, got %T", rdb)
			assert.Equal(t, tc.wantDB, client.Options().DB)
			require.NoError(t, rdb.Ping(ctx).Err())
		})
	}
}

// authRecorder is a fake Redis that answers every command with WRONGPASS and
// records the commands it was sent, so tests can see which password a client
// presented.
type authRecorder struct {
	addr     string
	commands chan []string
}

func newAuthRecorder(t *testing.T) *authRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &authRecorder{addr: ln.Addr().String(), commands: make(chan []string, 100)}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { r.serve(conn) })
		}
	})
	return r
}

func (r *authRecorder) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	for {
		cmd, err := readCommand(br)
		if err != nil {
			return
		}
		select {
		case r.commands <- cmd:
		default:
		}
		if _, err := conn.Write([]byte("-WRONGPASS invalid username-password pair\r\n")); err != nil {
			return
		}
	}
}

// readCommand reads one RESP array of bulk strings.
func readCommand(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("want an array, got %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	cmd := make([]string, n)
	for i := range cmd {
		header, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(header, "$")))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, err
		}
		cmd[i] = string(buf[:size])
	}
	return cmd, nil
}

// received returns every command recorded so far, one per line.
func (r *authRecorder) received() string {
	var lines []string
	for {
		select {
		case cmd := <-r.commands:
			lines = append(lines, strings.Join(cmd, " "))
		default:
			return strings.Join(lines, "\n")
		}
	}
}

func TestDialPassword(t *testing.T) {
	tests := []struct {
		name     string
		userinfo string // of the URL, before "@"
		password string // given to Dial
		want     string // presented to the server
		notWant  string // never presented
	}{
		{name: "from_argument", password: "arg-secret", want: "arg-secret"},
		{name: "from_url", userinfo: ":url-secret", want: "url-secret"},
		{name: "argument_overrides_url", userinfo: ":url-secret", password: "arg-secret", want: "arg-secret", notWant: "url-secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newAuthRecorder(t)
			url := "redis://" + fake.addr + "/0"
			if tc.userinfo != "" {
				url = "redis://" + tc.userinfo + "@" + fake.addr + "/0"
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			rdb, err := Dial(ctx, url, tc.password)
			require.Error(t, err, "the fake refuses every password")
			assert.Nil(t, rdb)
			assert.ErrorIs(t, err, actors.ErrUnavailable)
			assert.NotContains(t, err.Error(), tc.want, "the error must not echo the password")

			got := fake.received()
			assert.Contains(t, got, tc.want, "password presented to the server")
			if tc.notWant != "" {
				assert.NotContains(t, got, tc.notWant)
			}
		})
	}
}

func TestRedisDownIsUnavailable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t), MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	kv := New(rdb, "down:", time.Second)
	ctx := t.Context()

	calls := []struct {
		name string
		call func() error
	}{
		{"revoke", func() error { return kv.Revoke(ctx, "jti", time.Now().Add(time.Hour)) }},
		{"any_revoked", func() error { _, err := kv.AnyRevoked(ctx, "jti", "family:f"); return err }},
		{"allow", func() error { _, _, err := kv.Allow(ctx, "k", 10); return err }},
		{"cache_get", func() error { _, _, err := kv.CacheGet(ctx, "k"); return err }},
		{"cache_fill", func() error { return kv.CacheFill(ctx, "k", []byte("v"), time.Minute) }},
		{"cache_invalidate", func() error { return kv.CacheInvalidate(ctx, "k") }},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			assert.ErrorIs(t, err, actors.ErrUnavailable)
		})
	}
}
