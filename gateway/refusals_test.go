package gateway_test

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway"
)

// refusalCounts waits until the refusal records of the audit log count want
// refusals in all, then returns the counts per "ip place reason" and the
// number of records.
func (h *harness) refusalCounts(want int) (map[string]int, int) {
	h.t.Helper()
	var counts map[string]int
	var records int
	require.Eventually(h.t, func() bool {
		recs := h.auditRecords(actors.AuditFilter{Action: "auth.refused", Limit: 100})
		counts, records = map[string]int{}, len(recs)
		total := 0
		for _, r := range recs {
			require.Equal(h.t, actors.OutcomeDenied, r.Outcome)
			var reason string
			n := 0
			for _, f := range strings.Fields(r.Detail) {
				if v, ok := strings.CutPrefix(f, "reason="); ok {
					reason = v
				}
				if v, ok := strings.CutPrefix(f, "count="); ok {
					n, _ = strconv.Atoi(v)
				}
			}
			counts[r.IP+" "+r.Resource+" "+reason] += n
			total += n
		}
		return total == want
	}, 10*time.Second, 20*time.Millisecond, "refusals counted: %v", counts)
	return counts, records
}

func TestFloodOfBadTokensIsAuditedBounded(t *testing.T) {
	h := newHarness(t, harnessOpts{refusalWindow: 100 * time.Millisecond})
	const flood = 1000
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < flood; i += 8 {
				r := h.call("GET", "/api/auth/me", "not-a-token", nil)
				assert.Equal(t, http.StatusUnauthorized, r.Status)
			}
		}()
	}
	wg.Wait()
	counts, records := h.refusalCounts(flood)
	assert.Equal(t, map[string]int{"127.0.0.1 api token_invalid": flood}, counts)
	assert.Less(t, records, 100, "a flood is a bounded number of records, not one per request")
	t.Logf("%d refusals in %d audit records", flood, records)
}

func TestRefusalReasonsAreSeparate(t *testing.T) {
	h := newHarness(t, harnessOpts{refusalWindow: 50 * time.Millisecond, config: func(c *gateway.Options) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}})
	s := h.register()
	expired := s.Access
	fresh := h.register()
	logout := h.call("POST", "/api/auth/logout", fresh.Access, nil)
	require.Equal(t, http.StatusOK, logout.Status, logout.String())

	requireError(t, h.call("GET", "/api/auth/me", "garbage", nil, "X-Forwarded-For", "198.51.100.1"), 401, "UNAUTHORIZED")
	requireError(t, h.call("GET", "/api/auth/me", "garbage", nil, "X-Forwarded-For", "198.51.100.2"), 401, "UNAUTHORIZED")
	requireError(t, h.call("GET", "/api/auth/me", fresh.Access, nil, "X-Forwarded-For", "198.51.100.1"), 401, "TOKEN_REVOKED")
	requireError(t, h.call("GET", "/api/auth/me", "", nil, "X-Forwarded-For", "198.51.100.3"), 401, "UNAUTHORIZED")
	h.skew.Store(int64(time.Hour))
	requireError(t, h.call("GET", "/api/auth/me", expired, nil, "X-Forwarded-For", "198.51.100.1"), 401, "TOKEN_EXPIRED")
	requireError(t, h.call("GET", "/api/auth/me", expired, nil, "X-Forwarded-For", "198.51.100.1"), 401, "TOKEN_EXPIRED")

	counts, _ := h.refusalCounts(5)
	assert.Equal(t, map[string]int{
		"198.51.100.1 api token_invalid": 1,
		"198.51.100.2 api token_invalid": 1,
		"198.51.100.1 api token_revoked": 1,
		"198.51.100.1 api token_expired": 2,
	}, counts, "a missing token is no refusal")
}
