package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway"
)

func TestRouterErrorsUseEnvelope(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	requireError(t, h.call("GET", "/api/nope", "", nil), 404, "NOT_FOUND")
	// GET of other paths is the agent console's (console_test.go); any
	// other method there stays the API's JSON 404.
	requireError(t, h.call("POST", "/nope", "", nil), 404, "NOT_FOUND")
	requireError(t, h.call("DELETE", "/api/auth/login", "", nil), 405, "METHOD_NOT_ALLOWED")
	requireError(t, h.call("PUT", "/api/customers", "", nil), 405, "METHOD_NOT_ALLOWED")
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		production bool
		wantHSTS   bool
	}{
		{name: "test"},
		{name: "production", production: true, wantHSTS: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{config: func(c *gateway.Options) { c.Production = tc.production }})
			r := h.call("GET", "/healthz", "", nil)
			require.Equal(t, 200, r.Status)
			assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
			assert.Equal(t, "DENY", r.Header.Get("X-Frame-Options"))
			assert.Equal(t, "no-referrer", r.Header.Get("Referrer-Policy"))
			assert.Contains(t, r.Header.Get("Content-Security-Policy"), "default-src 'none'")
			assert.NotEmpty(t, r.Header.Get("X-Request-Id"))
			assert.Equal(t, tc.wantHSTS, r.Header.Get("Strict-Transport-Security") != "")
		})
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{config: func(c *gateway.Options) { c.AllowedOrigins = []string{"https://console.example.com"} }})
	pre := h.call("OPTIONS", "/api/customers", "", nil, "Origin", "https://console.example.com", "Access-Control-Request-Method", "POST")
	require.Equal(t, 204, pre.Status, pre.String())
	assert.Equal(t, "https://console.example.com", pre.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, pre.Header.Get("Access-Control-Allow-Headers"), "Authorization")
	assert.Empty(t, pre.Header.Get("Access-Control-Allow-Credentials"), "no credentials: tokens are bearer headers, not cookies")

	bad := h.call("OPTIONS", "/api/customers", "", nil, "Origin", "https://evil.example.com", "Access-Control-Request-Method", "POST")
	requireError(t, bad, 403, "FORBIDDEN")
	assert.Empty(t, bad.Header.Get("Access-Control-Allow-Origin"))

	simple := h.call("GET", "/healthz", "", nil, "Origin", "https://evil.example.com")
	assert.Empty(t, simple.Header.Get("Access-Control-Allow-Origin"))
	simple = h.call("GET", "/healthz", "", nil, "Origin", "https://console.example.com")
	assert.Equal(t, "https://console.example.com", simple.Header.Get("Access-Control-Allow-Origin"))
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{config: func(c *gateway.Options) { c.MaxBodyBytes = 4096 }})
	agent := h.register()
	big := fmt.Sprintf(`{"name":"%s","phone":"+14155550100"}`, strings.Repeat("x", 5000))
	requireError(t, h.call("POST", "/api/customers", agent.Access, big), 413, "PAYLOAD_TOO_LARGE")

	// Without Content-Length (chunked) the limit still holds.
	req, err := http.NewRequest("POST", h.url+"/api/customers", &chunked{s: big})
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+agent.Access)
	req.Header.Set("Content-Type", "application/json")
	res, err := h.client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 413, res.StatusCode)
}

// chunked hides its length so the client sends Transfer-Encoding: chunked.
type chunked struct {
	s   string
	off int
}

func (c *chunked) Read(p []byte) (int, error) {
	if c.off >= len(c.s) {
		return 0, errEOF
	}
	n := copy(p, c.s[c.off:min(len(c.s), c.off+512)])
	c.off += n
	return n, nil
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{config: func(c *gateway.Options) {
		c.RateLimitAuthPerMin = 3
		c.RateLimitAPIPerMin = 600
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}})
	login := map[string]string{"email": "x@example.com", "password": "lumen-orbit-7"}
	fromIP := func(ip string) response {
		return h.call("POST", "/api/auth/login", "", login, "X-Forwarded-For", ip)
	}
	for i := 0; i < 3; i++ {
		requireError(t, fromIP("203.0.113.7"), 401, "UNAUTHORIZED")
	}
	limited := fromIP("203.0.113.7")
	requireError(t, limited, 429, "RATE_LIMITED")
	retry, err := strconv.Atoi(limited.Header.Get("Retry-After"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, retry, 1)
	assert.LessOrEqual(t, retry, 60)

	// Another client (per X-Forwarded-For from the trusted proxy) is not
	// limited on another account; on the same account it is (the account's
	// own budget is spent).
	requireError(t, h.call("POST", "/api/auth/login", "", map[string]string{"email": "y@example.com", "password": "lumen-orbit-7"},
		"X-Forwarded-For", "203.0.113.8"), 401, "UNAUTHORIZED")
	requireError(t, fromIP("203.0.113.9"), 429, "RATE_LIMITED")
	// A forged hop to the left of the real client does not help.
	requireError(t, fromIP("198.51.100.1, 203.0.113.7"), 429, "RATE_LIMITED")
	// The API limit is separate: health and non-auth routes still answer.
	require.Equal(t, 200, h.call("GET", "/healthz", "", nil, "X-Forwarded-For", "203.0.113.7").Status)

	// Recovery: the budget refills at 3/min, one request every 20s.
	h.t.Log("waiting for the limit to recover")
	require.Eventually(t, func() bool { return fromIP("203.0.113.7").Status == 401 }, 25*time.Second, 500*time.Millisecond)
}

// TestLoginThrottledPerAccount: failed logins against one account from
// many addresses are throttled like those from one address, for a known and
// an unknown account alike (same status, code and message), and other
// accounts are untouched.
func TestLoginThrottledPerAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{config: func(c *gateway.Options) {
		c.RateLimitAuthPerMin = 3
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}})
	victim := h.register()
	ip := 0
	attempt := func(email, password string) response {
		ip++
		return h.call("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password},
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", ip))
	}
	var known, unknown response
	for _, email := range []string{victim.Email, "  NOBODY@example.com"} {
		for i := 0; i < 3; i++ {
			requireError(t, attempt(email, "wrong-password-1"), 401, "UNAUTHORIZED")
		}
		r := attempt(email, "wrong-password-1")
		requireError(t, r, 429, "RATE_LIMITED")
		require.NotEmpty(t, r.Header.Get("Retry-After"))
		if email == victim.Email {
			known = r
		} else {
			unknown = r
		}
	}
	require.Equal(t, known.Env["message"], unknown.Env["message"], "a known and an unknown account are answered alike")
	// The normalised address shares the budget of the address as typed.
	requireError(t, attempt("nobody@example.com", "wrong-password-1"), 429, "RATE_LIMITED")
	// Another account, from an address already used, is not throttled.
	requireError(t, attempt("someone-else@example.com", "wrong-password-1"), 401, "UNAUTHORIZED")
}

func TestForwardedForIgnoredFromUntrustedPeer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{config: func(c *gateway.Options) { c.RateLimitAuthPerMin = 2 }})
	login := map[string]string{"email": "x@example.com", "password": "lumen-orbit-7"}
	for i := 0; i < 2; i++ {
		h.call("POST", "/api/auth/login", "", login, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
	}
	// The peer (127.0.0.1) is not a trusted proxy: spoofed addresses share
	// one budget.
	requireError(t, h.call("POST", "/api/auth/login", "", login, "X-Forwarded-For", "203.0.113.99"), 429, "RATE_LIMITED")
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	r := h.call("GET", "/api/openapi.json", "", nil)
	require.Equal(t, 200, r.Status)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(r.Raw, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	routes := h.srv.Routes()
	require.NotEmpty(t, routes)
	for _, rt := range routes {
		op, ok := doc.Paths[rt[1]][strings.ToLower(rt[0])]
		require.True(t, ok, "%s %s missing from the OpenAPI document", rt[0], rt[1])
		require.NotEmpty(t, op["summary"])
		require.NotEmpty(t, op["responses"])
	}
	// And every documented operation answers (is routed, not 404/405).
	for path, ops := range doc.Paths {
		for method := range ops {
			p := strings.NewReplacer("{id}", "x").Replace(path)
			res := h.call(strings.ToUpper(method), p, "", nil)
			assert.NotContains(t, []int{404, 405}, res.Status, "%s %s is documented but %d", method, path, res.Status)
		}
	}
	// The contract's paths are all there.
	for _, want := range []string{"/api/auth/register", "/api/auth/login", "/api/auth/refresh-token", "/api/auth/logout", "/api/auth/me",
		"/api/users/{id}", "/api/users/{id}/role", "/api/customers", "/api/customers/{id}", "/api/audit", "/healthz", "/readyz", "/metrics"} {
		assert.Contains(t, doc.Paths, want)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	require.Equal(t, 200, h.call("GET", "/healthz", "", nil).Status)
	ready := h.call("GET", "/readyz", "", nil)
	require.Equal(t, 200, ready.Status, ready.String())
	assert.Equal(t, "ready", ready.data()["state"])
	assert.NotContains(t, ready.data(), "dependencies", "no detail on the API port")
	// The detail is on the operations listener.
	opsReady := h.ops("GET", "/readyz")
	require.Equal(t, 200, opsReady.Status)
	assert.Equal(t, "up", opsReady.data()["dependencies"].(map[string]any)["store"].(map[string]any)["state"])

	// /metrics on the API port: admins only; open on the operations listener.
	assert.Equal(t, 401, h.call("GET", "/metrics", "", nil).Status)
	assert.Equal(t, 403, h.call("GET", "/metrics", h.register().Access, nil).Status)
	adminMetrics := h.call("GET", "/metrics", h.userWithRole(actors.RoleAdmin).Access, nil)
	require.Equal(t, 200, adminMetrics.Status)
	assert.Contains(t, string(adminMetrics.Raw), "engine_http_requests_total")
	m := h.ops("GET", "/metrics")
	require.Equal(t, 200, m.Status)
	body := string(m.Raw)
	assert.Contains(t, body, `engine_http_requests_total{method="GET",route="/readyz",status="200"}`)
	assert.Contains(t, body, `engine_http_request_duration_seconds_bucket{method="GET",route="/healthz"`)
	assert.Contains(t, body, "go_goroutines")
	assert.Contains(t, body, "engine_audit_buffered")

	require.NoError(t, h.store.Close())
	down := h.call("GET", "/readyz", "", nil)
	requireError(t, down, 503, "DEPENDENCY_UNAVAILABLE")
	assert.Contains(t, down.Env["message"], "store")
}

// rbacCase is one route checked for every role.
type rbacCase struct {
	method, path string
	body         any
	// allowed lists the roles that pass the permission check.
	allowed []actors.Role
}

func TestRBACMatrix(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	sessions := map[actors.Role]session{
		actors.RoleAdmin:      h.userWithRole(actors.RoleAdmin),
		actors.RoleSupervisor: h.userWithRole(actors.RoleSupervisor),
		actors.RoleAgent:      h.userWithRole(actors.RoleAgent),
	}
	all := []actors.Role{actors.RoleAdmin, actors.RoleSupervisor, actors.RoleAgent}
	cases := []rbacCase{
		{method: "GET", path: "/api/auth/me", allowed: all},
		{method: "PATCH", path: "/api/users/nobody/role", body: map[string]string{"role": "agent"}, allowed: []actors.Role{actors.RoleAdmin}},
		{method: "PATCH", path: "/api/users/nobody", body: map[string]any{"phone": nil}, allowed: []actors.Role{actors.RoleAdmin}},
		{method: "PATCH", path: "/api/auth/me", body: map[string]any{"phone": nil}, allowed: all},
		{method: "POST", path: "/api/customers", body: map[string]any{"name": "x"}, allowed: all},
		{method: "GET", path: "/api/customers", allowed: all},
		{method: "GET", path: "/api/customers/nobody", allowed: all},
		{method: "PUT", path: "/api/customers/nobody", body: map[string]any{"name": "x"}, allowed: all},
		{method: "DELETE", path: "/api/customers/nobody", allowed: []actors.Role{actors.RoleAdmin, actors.RoleSupervisor}},
		{method: "GET", path: "/api/audit", allowed: []actors.Role{actors.RoleAdmin, actors.RoleSupervisor}},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			requireError(t, h.call(tc.method, tc.path, "", tc.body), 401, "UNAUTHORIZED")
			for _, role := range all {
				r := h.call(tc.method, tc.path, sessions[role].Access, tc.body)
				if contains(tc.allowed, role) {
					assert.NotContains(t, []int{401, 403}, r.Status, "%s as %s: %s", tc.method, role, r)
				} else {
					requireError(t, r, 403, "FORBIDDEN")
				}
			}
		})
	}
}

func contains(rs []actors.Role, r actors.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func TestAuditEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	admin := h.userWithRole(actors.RoleAdmin)
	agent := h.register()
	h.call("POST", "/api/customers", agent.Access, customerBody("A", "+14155550123"))
	h.auditRecords(actors.AuditFilter{})

	r := h.call("GET", "/api/audit?actor="+agent.ID+"&action=customers.create", admin.Access, nil)
	require.Equal(t, 200, r.Status, r.String())
	items := r.data()["items"].([]any)
	require.Len(t, items, 1)
	it := items[0].(map[string]any)
	assert.Equal(t, "customers.create", it["action"])
	assert.Equal(t, "success", it["outcome"])
	assert.Equal(t, agent.ID, it["actorId"])
	assert.Equal(t, "127.0.0.1", it["ip"])
	assert.NotEmpty(t, it["requestId"])
	assert.NotEmpty(t, it["at"])

	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	assert.EqualValues(t, 0, h.call("GET", "/api/audit?from="+future, admin.Access, nil).data()["total"])
	requireError(t, h.call("GET", "/api/audit?from=yesterday", admin.Access, nil), 400, "VALIDATION_ERROR")
	requireError(t, h.call("GET", "/api/audit?actor[$ne]=x", admin.Access, nil), 400, "VALIDATION_ERROR")
}

// failingAudit wraps the store so audit appends fail until released.
func TestAuditSurvivesStoreOutage(t *testing.T) {
	t.Parallel()
	gate := &flakyAppend{}
	gate.failing.Store(true)
	h := newHarness(t, harnessOpts{store: gate.wrap})
	agent := h.register()
	for i := 0; i < 5; i++ {
		r := h.call("POST", "/api/customers", agent.Access, customerBody(fmt.Sprintf("C%d", i), fmt.Sprintf("+1415555%04d", 300+i)))
		require.Equal(t, 201, r.Status, "requests do not wait for or fail on audit: %s", r)
	}
	require.Eventually(t, func() bool { return gate.attempts.Load() >= 2 }, 5*time.Second, 10*time.Millisecond, "writes are retried")
	require.Greater(t, h.audit.Pending(), 0)
	m := h.ops("GET", "/metrics")
	assert.Contains(t, string(m.Raw), "engine_audit_retries_total")
	gate.failing.Store(false)
	recs := h.auditRecords(actors.AuditFilter{Action: "customers.create"})
	require.Len(t, recs, 5, "every buffered record lands exactly once")
	_, total, err := h.store.ListAudit(context.Background(), actors.AuditFilter{Page: 1, Limit: 100})
	require.NoError(t, err)
	require.Equal(t, 6, total, "register + 5 creates")
}
