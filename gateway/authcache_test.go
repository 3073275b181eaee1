package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway"
	"github.com/wacc/engine/persistence/memkv"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// dialSocket opens GET /ws with token and answers the HTTP status of the
// upgrade: 101 once the hello frame arrived (the socket is then closed).
func (h *harness) dialSocket(token string) int {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.url, "http")+"/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": []string{"Bearer " + token}}})
	if err != nil {
		require.NotNil(h.t, res, "dial: %v", err)
		return res.StatusCode
	}
	defer func() { _ = c.CloseNow() }()
	_, hello, err := c.Read(ctx)
	require.NoError(h.t, err)
	require.Contains(h.t, string(hello), `"hello"`)
	return http.StatusSwitchingProtocols
}

// TestAuthChangesHoldAtOnce: the token checks are answered from memory
// (verified tokens remembered, the user decoded in the read cache, no
// revocation lookup while nothing is revoked), and each change that ends a
// session is refused on the very next request and the very next socket,
// through the real server on loopback.
func TestAuthChangesHoldAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{sockets: true})
	admin := h.userWithRole(actors.RoleAdmin)
	for _, tc := range []struct {
		name string
		// change ends the session s (admin is an admin's session).
		change func(t *testing.T, s session)
		// refreshRefused: the session's refresh token is refused after.
		refreshRefused bool
	}{
		{name: "user_disabled", refreshRefused: true, change: func(t *testing.T, s session) {
			r := h.call("PATCH", "/api/users/"+s.ID, admin.Access, map[string]any{"disabled": true})
			require.Equal(t, http.StatusOK, r.Status, r.String())
		}},
		{name: "role_changed", refreshRefused: true, change: func(t *testing.T, s session) {
			r := h.call("PATCH", "/api/users/"+s.ID+"/role", admin.Access, map[string]any{"role": "supervisor"})
			require.Equal(t, http.StatusOK, r.Status, r.String())
		}},
		{name: "password_changed", refreshRefused: true, change: func(t *testing.T, s session) {
			r := h.call("POST", "/api/auth/password", s.Access, map[string]any{"currentPassword": "s3cret-pass", "newPassword": "another-s3cret-pass"})
			require.Equal(t, http.StatusOK, r.Status, r.String())
		}},
		{name: "session_revoked", refreshRefused: true, change: func(t *testing.T, s session) {
			r := h.call("POST", "/api/auth/logout", s.Access, map[string]any{"refreshToken": s.Refresh})
			require.Equal(t, http.StatusOK, r.Status, r.String())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := h.register()
			// Warm every cache: the token verified, the user cached.
			for range 3 {
				require.Equal(t, http.StatusOK, h.call("GET", "/api/auth/me", s.Access, nil).Status)
				require.Equal(t, http.StatusSwitchingProtocols, h.dialSocket(s.Access))
			}
			tc.change(t, s)
			requireError(t, h.call("GET", "/api/auth/me", s.Access, nil), http.StatusUnauthorized, "TOKEN_REVOKED")
			assert.Equal(t, http.StatusUnauthorized, h.dialSocket(s.Access), "next socket refused")
			if tc.refreshRefused {
				r := h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": s.Refresh})
				require.Equal(t, http.StatusUnauthorized, r.Status, r.String())
			}
		})
	}
}

// countingStore counts the store reads an authenticated request could
// repeat: users, customers and refresh families.
type countingStore struct {
	*sqlitestore.Store
	reads atomic.Int64
}

func (s *countingStore) UserByID(ctx context.Context, id string) (actors.User, error) {
	s.reads.Add(1)
	return s.Store.UserByID(ctx, id)
}

func (s *countingStore) Customer(ctx context.Context, id string) (actors.Customer, error) {
	s.reads.Add(1)
	return s.Store.Customer(ctx, id)
}

func (s *countingStore) CustomerByPhone(ctx context.Context, phone string) (actors.Customer, error) {
	s.reads.Add(1)
	return s.Store.CustomerByPhone(ctx, phone)
}

func (s *countingStore) Family(ctx context.Context, id string) (actors.RefreshFamily, error) {
	s.reads.Add(1)
	return s.Store.Family(ctx, id)
}

// countingKV counts the calls to the shared store (Redis when configured):
// cache reads and revocation lookups. It forwards memkv's LocalEntries and
// NoneRevoked, as the gateway sees memkv.
type countingKV struct {
	*memkv.KV
	cacheGets, revocationLookups atomic.Int64
}

func (k *countingKV) CacheGet(ctx context.Context, key string) ([]byte, bool, error) {
	k.cacheGets.Add(1)
	return k.KV.CacheGet(ctx, key)
}

func (k *countingKV) AnyRevoked(ctx context.Context, ids ...string) (bool, error) {
	k.revocationLookups.Add(1)
	return k.KV.AnyRevoked(ctx, ids...)
}

// TestRequestsReadFromMemory counts, through a counting store and KV, what
// authenticated requests and socket connects read once the caches are
// warm: nothing from the store, no cache decode through the KV, and no
// revocation lookup while nothing is revoked (one per request once
// something is).
func TestRequestsReadFromMemory(t *testing.T) {
	t.Parallel()
	var counted *countingStore
	kv := &countingKV{KV: memkv.New(memkv.Options{Holdoff: 300 * time.Millisecond})}
	t.Cleanup(func() { _ = kv.Close() })
	h := newHarness(t, harnessOpts{sockets: true, kv: kv, store: func(s *sqlitestore.Store) gateway.Store {
		counted = &countingStore{Store: s}
		return counted
	}})
	s := h.userWithRole(actors.RoleSupervisor)
	r := h.call("POST", "/api/customers", s.Access, customerBody("Asha", "+14155550142"))
	require.Equal(t, http.StatusCreated, r.Status, r.String())
	custID := r.data()["customer"].(map[string]any)["id"].(string)

	requests := []struct {
		name string
		do   func() int
		want int
	}{
		{"GET /api/auth/me", func() int { return h.call("GET", "/api/auth/me", s.Access, nil).Status }, http.StatusOK},
		{"GET /api/customers/{id}", func() int { return h.call("GET", "/api/customers/"+custID, s.Access, nil).Status }, http.StatusOK},
		{"GET /ws", func() int { return h.dialSocket(s.Access) }, http.StatusSwitchingProtocols},
	}
	for _, rq := range requests {
		require.Equal(t, rq.want, rq.do(), rq.name) // warms the caches
	}
	measure := func(t *testing.T, wantLookups int64) {
		t.Helper()
		for _, rq := range requests {
			reads, gets, lookups := counted.reads.Load(), kv.cacheGets.Load(), kv.revocationLookups.Load()
			const n = 5
			for range n {
				require.Equal(t, rq.want, rq.do(), rq.name)
			}
			t.Logf("%s: %.1f store reads, %.1f cache reads, %.1f revocation lookups per request", rq.name,
				float64(counted.reads.Load()-reads)/n, float64(kv.cacheGets.Load()-gets)/n, float64(kv.revocationLookups.Load()-lookups)/n)
			assert.Zero(t, counted.reads.Load()-reads, "%s: store reads", rq.name)
			assert.Zero(t, kv.cacheGets.Load()-gets, "%s: shared cache reads", rq.name)
			assert.Equal(t, wantLookups*n, kv.revocationLookups.Load()-lookups, "%s: revocation lookups", rq.name)
		}
	}
	t.Run("nothing_revoked", func(t *testing.T) { measure(t, 0) })
	t.Run("something_revoked", func(t *testing.T) {
		other := h.register()
		require.Equal(t, http.StatusOK, h.call("POST", "/api/auth/logout", other.Access, nil).Status)
		measure(t, 1)
		requireError(t, h.call("GET", "/api/auth/me", other.Access, nil), http.StatusUnauthorized, "TOKEN_REVOKED")
	})
}
