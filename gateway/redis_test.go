package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway"
	"github.com/wacc/engine/persistence/rediskv"
	"github.com/wacc/engine/persistence/servicetest"
)

// sharedRedis returns a Redis-backed KV under a fresh prefix, removed after
// the test.
func sharedRedis(t *testing.T) gateway.KV {
	t.Helper()
	client, prefix := servicetest.Redis(t)
	return rediskv.New(client, prefix, 300*time.Millisecond)
}

// TestTwoNodesShareRedis runs two gateways over one database and one Redis,
// as two engine nodes would:
// a logout on one node revokes the token on the other, the auth limit is
// shared, and a cached customer read on one node cannot be stale after an
// update on the other.
func TestTwoNodesShareRedis(t *testing.T) {
	t.Parallel()
	kv := sharedRedis(t)
	cfg := func(c *gateway.Options) { c.RateLimitAuthPerMin = 4 }
	a := newHarness(t, harnessOpts{kv: kv, config: cfg})
	b := newHarness(t, harnessOpts{kv: kv, config: cfg, shareStore: a})

	s := a.register()
	require.Equal(t, http.StatusOK, b.call("GET", "/api/auth/me", s.Access, nil).Status)

	// Cache: node b reads (fills the shared cache), node a updates, node b
	// must see the update.
	r := a.call("POST", "/api/customers", s.Access, customerBody("before", "+14155550142"))
	id := r.data()["customer"].(map[string]any)["id"].(string)
	require.Equal(t, "before", b.call("GET", "/api/customers/"+id, s.Access, nil).data()["customer"].(map[string]any)["name"])
	require.Equal(t, http.StatusOK, a.call("PUT", "/api/customers/"+id, s.Access, customerBody("after", "+14155550142")).Status)
	require.Equal(t, "after", b.call("GET", "/api/customers/"+id, s.Access, nil).data()["customer"].(map[string]any)["name"])

	// Revocation: logout on a, refused on b at once.
	require.Equal(t, http.StatusOK, a.call("POST", "/api/auth/logout", s.Access, nil).Status)
	requireError(t, b.call("GET", "/api/auth/me", s.Access, nil), 401, "TOKEN_REVOKED")

	// Rate limit: the register above used one of 4 auth requests, the
	// logout a second; two more on b, then both nodes refuse.
	login := map[string]string{"email": s.Email, "password": "wrong-password"}
	requireError(t, b.call("POST", "/api/auth/login", "", login), 401, "UNAUTHORIZED")
	requireError(t, b.call("POST", "/api/auth/login", "", login), 401, "UNAUTHORIZED")
	requireError(t, a.call("POST", "/api/auth/login", "", login), 429, "RATE_LIMITED")
	requireError(t, b.call("POST", "/api/auth/login", "", login), 429, "RATE_LIMITED")
}
