package rediskv

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/persistence/servicetest"
)

// roundTrips records what a client sends: each single command and each
// pipeline is one round trip.
type roundTrips struct {
	mu    sync.Mutex
	sent  [][]any // args of each single command
	piped int     // pipelines
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.sent = append(h.sent, cmd.Args())
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		h.piped++
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (h *roundTrips) take() (sent [][]any, piped int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sent, piped = h.sent, h.piped
	h.sent, h.piped = nil, 0
	return sent, piped
}

// TestAnyRevokedIsOneRoundTrip: on the real Redis, asking about a token and
// its family is one EXISTS of both keys, and asking about nothing sends
// nothing.
func TestAnyRevokedIsOneRoundTrip(t *testing.T) {
	ctx := t.Context()
	rdb, prefix := servicetest.Redis(t)
	require.NoError(t, rdb.Ping(ctx).Err(), "connect before counting")
	hook := &roundTrips{}
	rdb.AddHook(hook)
	kv := New(rdb, prefix, time.Second)
	require.NoError(t, kv.Revoke(ctx, "family:f1", time.Now().Add(time.Hour)))
	hook.take()

	tests := []struct {
		name string
		ids  []string
		want bool
		// sent is the one command expected on the wire; nil: none.
		sent []any
	}{
		{name: "neither", ids: []string{"jti-1", "family:f2"}, want: false,
			sent: []any{"exists", prefix + "revoked:jti-1", prefix + "revoked:family:f2"}},
		{name: "family_revoked", ids: []string{"jti-1", "family:f1"}, want: true,
			sent: []any{"exists", prefix + "revoked:jti-1", prefix + "revoked:family:f1"}},
		{name: "one_id", ids: []string{"family:f1"}, want: true,
			sent: []any{"exists", prefix + "revoked:family:f1"}},
		{name: "no_ids", ids: nil, want: false, sent: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			revoked, err := kv.AnyRevoked(ctx, tc.ids...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, revoked)
			sent, piped := hook.take()
			assert.Zero(t, piped, "no pipeline")
			if tc.sent == nil {
				assert.Empty(t, sent, "nothing sent")
				return
			}
			require.Len(t, sent, 1, "one command, one round trip: %v", sent)
			assert.Equal(t, tc.sent, sent[0])
		})
	}
}
