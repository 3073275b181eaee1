//go:build faults

package faults

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redisServer is a redis-server of the test's own on a free port, which
// the test stops, pauses and starts again.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is needed: %v", err)
	}
	s := &redisServer{t: t, port: freePort(t)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	require.NoError(s.t, s.cmd.Start())
	require.Eventually(s.t, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
}

func (s *redisServer) signal(sig syscall.Signal) { _ = s.cmd.Process.Signal(sig) }

func (s *redisServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// metricValue reads one sample of the engine's /metrics: the first line
// starting with series (its name, with labels if given).
func (p *proc) metricValue(series string) float64 {
	p.t.Helper()
	res, err := http.Get(p.metricsURL() + "/metrics")
	require.NoError(p.t, err)
	defer res.Body.Close()
	require.Equal(p.t, 200, res.StatusCode)
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[len(series):]), 64)
			require.NoError(p.t, err, line)
			return v
		}
	}
	return 0
}

// readyz is GET /readyz's status and the dependencies its 503 names.
func (p *proc) readyz() (int, []string) {
	p.t.Helper()
	st, body := p.api("GET", "/readyz", "", nil)
	var down []string
	if errs, ok := body["errors"].([]any); ok {
		for _, e := range errs {
			down = append(down, e.(map[string]any)["field"].(string))
		}
	}
	return st, down
}

// Test45_RedisDown: the engine's Redis (a redis-server of the test's own)
// paused with SIGSTOP, then killed and started again empty. While it is
// gone: /readyz is 503 naming redis; the rate limiter lets requests
// through (fail open, counted in engine_rate_limiter_errors_total);
// authenticated requests are 503 with Retry-After within a bounded time,
// since revocation cannot be checked (fail closed); signed webhooks are
// still answered 200 and stored (the store does not need Redis). Once it
// is back, without an engine restart, everything answers again and a
// logout revokes through the new Redis.
func Test45_RedisDown(t *testing.T) {
	t.Parallel()
	r := covers(t, 45)
	redis := startRedis(t)
	p := start(t, map[string]string{"REDIS_URL": redis.url(), "RATE_LIMIT_API_PER_MIN": "100000"})
	token := p.admin()
	st, _ := p.readyz()
	require.Equal(t, 200, st)
	require.Equal(t, 200, p.webhook(textBody(wcPhoneID, "14155550450", "wamid.r45.before", "before", time.Now())))

	down := func(what string, n int) {
		t.Helper()
		began := time.Now()
		require.Eventually(t, func() bool {
			st, deps := p.readyz()
			return st == 503 && strings.Contains(strings.Join(deps, ","), "redis")
		},
			20*time.Second, 100*time.Millisecond, "%s: /readyz names redis", what)
		r.timing("time_to_readyz_503_"+what, time.Since(began))
		limiterErrs := p.metricValue("engine_rate_limiter_errors_total")
		for i := 0; i < n; i++ {
			began := time.Now()
			st, h, raw := p.do("GET", "/api/customers", token, nil)
			d := time.Since(began)
			r.timing("time_to_503_"+what, d)
			assert.Equal(t, 503, st, "%s: an authenticated request while revocations cannot be checked: %s", what, raw)
			assert.NotEmpty(t, h.Get("Retry-After"), what)
			assert.Less(t, d, 5*time.Second, "%s: the 503 comes within a bounded time (one Redis command timeout, then fail-fast)", what)
			r.count("inputs", 1)
			// Inbound keeps flowing: the webhook needs only the store.
			wamid := fmt.Sprintf("wamid.r45.%s.%d", what, i)
			assert.Equal(t, 200, p.webhook(textBody(wcPhoneID, "14155550450", wamid, "while redis is "+what, time.Now())), what)
			r.count("inputs", 1)
		}
		assert.Greater(t, p.metricValue("engine_rate_limiter_errors_total"), limiterErrs, "%s: the limiter failed open, counted", what)
	}
	recovered := func(what string) {
		t.Helper()
		began := time.Now()
		require.Eventually(t, func() bool {
			st, _, _ := p.do("GET", "/api/customers", token, nil)
			return st == 200
		}, 30*time.Second, 100*time.Millisecond, "%s: the API answers again without a restart", what)
		r.timing("time_to_recover_"+what, time.Since(began))
		st, _ := p.readyz()
		assert.Equal(t, 200, st, what)
	}

	// Paused: connections hang rather than fail.
	redis.signal(syscall.SIGSTOP)
	r.count("faults", 1)
	down("paused", 3)
	redis.signal(syscall.SIGCONT)
	recovered("paused")

	// Killed, then started again empty on the same port.
	redis.stop()
	r.count("faults", 1)
	down("killed", 3)
	redis.start()
	recovered("killed")

	// Every webhook answered 200 is stored once.
	lost := 0
	for _, w := range []string{"wamid.r45.before", "wamid.r45.paused.0", "wamid.r45.paused.1", "wamid.r45.paused.2",
		"wamid.r45.killed.0", "wamid.r45.killed.1", "wamid.r45.killed.2"} {
		wcWaitStored(p, token, w)
		if wcCount(p, token, w) != 1 {
			lost++
		}
	}
	r.count("lost", lost)

	// Revocation works through the new Redis: a logout refuses the token.
	other := p.admin()
	st, body := p.api("POST", "/api/auth/logout", other, nil)
	require.Equal(t, 200, st, body)
	st, _, _ = p.do("GET", "/api/customers", other, nil)
	assert.Equal(t, 401, st, "a logged-out token after Redis came back")
	st, _, _ = p.do("GET", "/api/customers", token, nil)
	assert.Equal(t, 200, st)
}

// metricsURL is the engine's operations listener (METRICS_ADDR), where
// /metrics and the detailed /readyz are.
func (p *proc) metricsURL() string {
	p.t.Helper()
	var addr string
	require.Eventually(p.t, func() bool { addr = p.ops.String(); return addr != "" }, 10*time.Second, 10*time.Millisecond,
		"the engine logged no \"metrics listening\" line")
	return "http://" + addr
}
