package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/persistence/rediskv"
	"github.com/wacc/engine/persistence/servicetest"
)

// existsLog records the EXISTS commands a Redis client sends.
type existsLog struct {
	mu   sync.Mutex
	keys [][]string // the keys of each EXISTS
}

func (h *existsLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *existsLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.EqualFold(cmd.Name(), "exists") {
			var keys []string
			for _, a := range cmd.Args()[1:] {
				keys = append(keys, a.(string))
			}
			h.mu.Lock()
			h.keys = append(h.keys, keys)
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (h *existsLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if strings.EqualFold(c.Name(), "exists") {
				h.mu.Lock()
				h.keys = append(h.keys, []string{"(pipelined)"})
				h.mu.Unlock()
			}
		}
		return next(ctx, cmds)
	}
}

func (h *existsLog) take() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.keys
	h.keys = nil
	return out
}

// TestOneRevocationLookupPerRequest: on the real Redis, an authenticated
// request checks its access token, its user's token version and its
// refresh family with one EXISTS, and either revocation refuses the token.
func TestOneRevocationLookupPerRequest(t *testing.T) {
	t.Parallel()
	client, prefix := servicetest.Redis(t)
	hook := &existsLog{}
	client.AddHook(hook)
	h := newHarness(t, harnessOpts{kv: rediskv.New(client, prefix, 300*time.Millisecond)})

	// oneLookup makes the call and checks it cost one EXISTS of the token's
	// and its family's keys.
	oneLookup := func(t *testing.T, path, token string) response {
		t.Helper()
		hook.take()
		r := h.call("GET", path, token, nil)
		lookups := hook.take()
		require.Len(t, lookups, 1, "one revocation lookup: %v", lookups)
		require.Len(t, lookups[0], 3, "the token, its user's token version and its family: %v", lookups[0])
		assert.True(t, strings.HasPrefix(lookups[0][0], prefix+"revoked:"), lookups[0][0])
		assert.True(t, strings.HasPrefix(lookups[0][1], prefix+"revoked:user-version:"), lookups[0][1])
		assert.True(t, strings.HasPrefix(lookups[0][2], prefix+"revoked:family:"), lookups[0][2])
		return r
	}

	s := h.register()
	require.Equal(t, http.StatusOK, oneLookup(t, "/api/auth/me", s.Access).Status)

	t.Run("family_revoked", func(t *testing.T) {
		r := h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": s.Refresh})
		require.Equal(t, http.StatusOK, r.Status, r.String())
		rotated := sessionOf(t, r)
		require.Equal(t, http.StatusOK, oneLookup(t, "/api/auth/me", rotated.Access).Status)
		// Reusing the spent refresh token revokes the family: the rotated
		// access token, itself never revoked, is refused by its family.
		requireError(t, h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": s.Refresh}), 401, "TOKEN_REVOKED")
		requireError(t, oneLookup(t, "/api/auth/me", rotated.Access), 401, "TOKEN_REVOKED")
	})
	t.Run("token_revoked", func(t *testing.T) {
		r := h.call("POST", "/api/auth/login", "", map[string]string{"email": s.Email, "password": "s3cret-pass"})
		require.Equal(t, http.StatusOK, r.Status, r.String())
		other := sessionOf(t, r)
		require.Equal(t, http.StatusOK, h.call("POST", "/api/auth/logout", other.Access, nil).Status)
		requireError(t, oneLookup(t, "/api/auth/me", other.Access), 401, "TOKEN_REVOKED")
	})
}
