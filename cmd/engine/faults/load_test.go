//go:build faults

package faults

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/media/samples"
)

// corsEngine allows one origin besides the engine's own.
var corsEngine = &sharedEngine{env: map[string]string{"ALLOWED_ORIGINS": "https://app.example.com,http://localhost:4000"}}

// Test59_CORS: a preflight from evil.example or Origin null gets no
// Access-Control-Allow-Origin; an allowed origin gets itself back exactly
// (never *), with Vary: Origin and no credentials.
func Test59_CORS(t *testing.T) {
	t.Parallel()
	r := covers(t, 59)
	p := corsEngine.get(t)
	token := p.admin()
	preflight := func(origin string) (int, http.Header) {
		st, h, _ := p.do("OPTIONS", "/api/customers", "", nil, "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization,content-type")
		return st, h
	}
	for _, origin := range []string{"https://evil.example", "null", "https://app.example.com.evil.example", "https://evil.example/https://app.example.com",
		"http://app.example.com", "https://APP.example.com.", "https://app.example.com:8443", "file://", ""} {
		st, h := preflight(origin)
		assert.Empty(t, h.Get("Access-Control-Allow-Origin"), "preflight from %q: %d", origin, st)
		assert.Empty(t, h.Get("Access-Control-Allow-Credentials"), origin)
		// A simple request from the origin carries no allow header either.
		_, h2, _ := p.do("GET", "/api/customers", token, nil, "Origin", origin)
		assert.Empty(t, h2.Get("Access-Control-Allow-Origin"), "GET from %q", origin)
		r.count("inputs", 2)
	}
	for _, origin := range []string{"https://app.example.com", "http://localhost:4000"} {
		st, h := preflight(origin)
		assert.Contains(t, []int{200, 204}, st, origin)
		assert.Equal(t, origin, h.Get("Access-Control-Allow-Origin"), "an exact echo")
		assert.Contains(t, h.Values("Vary"), "Origin")
		assert.Empty(t, h.Get("Access-Control-Allow-Credentials"))
		assert.Contains(t, strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization")
		_, h2, _ := p.do("GET", "/api/customers", token, nil, "Origin", origin)
		assert.Equal(t, origin, h2.Get("Access-Control-Allow-Origin"))
		assert.Contains(t, h2.Values("Vary"), "Origin")
		r.count("inputs", 2)
	}
}

// securityHeaders are what every answer of the engine carries.
var securityHeaders = map[string]string{
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Content-Security-Policy": "default-src 'none'",
	"Cache-Control":           "no-store",
}

func assertSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	for k, v := range securityHeaders {
		assert.Contains(t, h.Get(k), v, "%s: %s", what, k)
	}
	assert.NotEmpty(t, h.Get("X-Request-Id"), what)
	assert.Empty(t, h.Get("Server"), what)
	assert.Empty(t, h.Get("X-Powered-By"), what)
}

// Test60_SecurityHeaders: the headers are on 200, 201, 204, 400, 401, 403,
// 404, 405, 413, 415, 429 and 503 answers (the 503 from /readyz while the
// engine's Redis, a redis-server this test owns, is stopped), and media
// downloads are attachments with nosniff and a sandboxing CSP.
func Test60_SecurityHeaders(t *testing.T) {
	t.Parallel()
	r := covers(t, 60)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is needed to make the engine answer 503: %v", err)
	}
	port := freePort(t)
	redis := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	require.NoError(t, redis.Start())
	t.Cleanup(func() { _ = redis.Process.Kill(); _ = redis.Wait() })
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	p := start(t, map[string]string{"REDIS_URL": fmt.Sprintf("redis://127.0.0.1:%d/0", port), "RATE_LIMIT_AUTH_PER_MIN": "3"})
	token := p.admin()

	check := func(want int, method, path, tok string, body any, headers ...string) http.Header {
		t.Helper()
		st, h, raw := p.do(method, path, tok, body, headers...)
		require.Equal(t, want, st, "%s %s: %s", method, path, raw)
		assertSecurityHeaders(t, fmt.Sprintf("%d %s %s", st, method, path), h)
		r.count("inputs", 1)
		return h
	}
	check(200, "GET", "/healthz", "", nil)
	check(200, "GET", "/readyz", "", nil)
	check(200, "GET", "/api/customers", token, nil)
	h := check(201, "POST", "/api/customers", token, map[string]any{"name": "H", "phone": "+14155552671"})
	_ = h
	check(400, "POST", "/api/customers", token, []byte(`{"name":`))
	check(401, "GET", "/api/customers", "", nil)
	check(401, "GET", "/api/customers", "not.a.token", nil)
	check(404, "GET", "/api/nope", "", nil)
	check(404, "GET", "/api/customers/0123456789abcdef0123456789abcdef", token, nil)
	check(405, "DELETE", "/healthz", "", nil)
	check(413, "POST", "/api/customers", token, []byte(`{"name":"`+strings.Repeat("a", 2<<20)+`"}`))
	check(415, "POST", "/api/customers", token, []byte("name=a"), "Content-Type", "application/x-www-form-urlencoded")
	agent := registerAgent(t, p)
	check(403, "PATCH", "/api/users/x/role", agent, map[string]any{"role": "admin"})

	// Media: upload, then the download and its 404.
	ct, body := multipartFile(t, "photo.png", "image/png", samples.PNG())
	st, _, raw := p.do("POST", "/api/media/upload", token, body, "Content-Type", ct)
	require.Equal(t, 201, st, string(raw))
	id := strings.SplitN(strings.SplitN(string(raw), `"id":"`, 2)[1], `"`, 2)[0]
	h = check(200, "GET", "/api/media/"+id+"/content", token, nil)
	assert.True(t, strings.HasPrefix(h.Get("Content-Disposition"), "attachment"), h.Get("Content-Disposition"))
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	assert.Contains(t, h.Get("Content-Security-Policy"), "sandbox")
	check(206, "GET", "/api/media/"+id+"/content", token, nil, "Range", "bytes=0-3")
	check(404, "GET", "/api/media/0123456789abcdef0123456789abcdef/content", token, nil)

	// 429: the auth limit is 3 a minute.
	var last int
	for i := 0; i < 10 && last != 429; i++ {
		last, _, _ = p.do("POST", "/api/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "wrong-password"})
	}
	require.Equal(t, 429, last)
	h = check(429, "POST", "/api/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "wrong-password"})
	assert.NotEmpty(t, h.Get("Retry-After"))

	// 503: Redis stopped.
	_ = redis.Process.Kill()
	_ = redis.Wait()
	require.Eventually(t, func() bool {
		st, _, _ := p.do("GET", "/readyz", "", nil)
		return st == 503
	}, 20*time.Second, 100*time.Millisecond)
	check(503, "GET", "/readyz", "", nil)
}

// registerAgent registers a fresh agent and returns its access token.
func registerAgent(t *testing.T, p *proc) string {
	t.Helper()
	email := fmt.Sprintf("agent%d@example.com", time.Now().UnixNano())
	st, body := p.api("POST", "/api/auth/register", "", map[string]any{"email": email, "password": "long-password-1", "name": "Agent"})
	require.Equal(t, 201, st, body)
	return body["data"].(map[string]any)["accessToken"].(string)
}

// Test57_RateLimitSharedThroughRedis: a burst above RATE_LIMIT_API_PER_MIN
// is answered 429 with Retry-After, and two engines on one Redis (one
// REDIS_PREFIX of this test's own) share one budget per client IP: what
// the first spent, the second does not give again.
func Test57_RateLimitSharedThroughRedis(t *testing.T) {
	t.Parallel()
	r := covers(t, 57)
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", 2*time.Second)
	require.NoError(t, err, "Redis on 127.0.0.1:6379")
	_ = c.Close()
	const perMin = 30
	env := map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_PREFIX": fmt.Sprintf("faults57-%d:", time.Now().UnixNano()),
		"RATE_LIMIT_API_PER_MIN": strconv.Itoa(perMin)}
	a, b := start(t, env), start(t, env)
	ta, tb := a.admin(), b.admin()

	// The burst: 2×perMin requests, half to each engine, interleaved.
	codes := map[int]int{}
	var retryAfter []string
	began := time.Now()
	for i := 0; i < 2*perMin; i++ {
		p, tok := a, ta
		if i%2 == 1 {
			p, tok = b, tb
		}
		st, h, _ := p.do("GET", "/api/customers", tok, nil)
		codes[st]++
		if st == 429 {
			retryAfter = append(retryAfter, h.Get("Retry-After"))
			assertSecurityHeaders(t, "429", h)
		}
	}
	t.Logf("burst of %d over %v: %v", 2*perMin, time.Since(began), codes)
	r.count("requests", 2*perMin)
	r.count("allowed", codes[200])
	r.count("limited", codes[429])
	assert.Equal(t, 2*perMin, codes[200]+codes[429], "only 200 and 429: %v", codes)
	// The logins took from the same budget (auth routes are under /api);
	// a separate budget per engine would have allowed about twice as many.
	assert.LessOrEqual(t, codes[200], perMin+1, "one budget across the two engines")
	assert.GreaterOrEqual(t, codes[200], perMin/2, "the budget is not spent twice as fast either")
	require.NotEmpty(t, retryAfter)
	for _, ra := range retryAfter {
		n, err := strconv.Atoi(ra)
		assert.NoError(t, err, "Retry-After %q is whole seconds", ra)
		assert.Positive(t, n)
		assert.LessOrEqual(t, n, 60)
	}
	// Both engines refuse now, whichever was asked last.
	for _, pt := range []struct {
		p   *proc
		tok string
	}{{a, ta}, {b, tb}} {
		st, _, _ := pt.p.do("GET", "/api/customers", pt.tok, nil)
		assert.Equal(t, 429, st)
	}
}
