package audit_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/audit"
)

// recorder keeps the records it is given.
type recorder struct {
	mu   sync.Mutex
	recs []actors.AuditRecord
}

func (r *recorder) Record(rec actors.AuditRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

func (r *recorder) all() []actors.AuditRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]actors.AuditRecord(nil), r.recs...)
}

// clock is a fake clock moved by the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// parsed is a refusal record's detail.
type parsed struct {
	reason string
	count  int
}

func detailOf(t *testing.T, rec actors.AuditRecord) parsed {
	t.Helper()
	var p parsed
	fields := strings.Fields(rec.Detail)
	require.Len(t, fields, 2, "detail %q", rec.Detail)
	p.reason = strings.TrimPrefix(fields[0], "reason=")
	n, err := strconv.Atoi(strings.TrimPrefix(fields[1], "count="))
	require.NoError(t, err, "detail %q", rec.Detail)
	p.count = n
	return p
}

// totals sums the counts per ip/place/reason.
func totals(t *testing.T, recs []actors.AuditRecord) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range recs {
		assert.Equal(t, audit.ActionAuthRefused, r.Action)
		assert.Equal(t, actors.OutcomeDenied, r.Outcome)
		assert.NotEmpty(t, r.ID)
		assert.False(t, r.At.IsZero())
		d := detailOf(t, r)
		out[r.IP+" "+r.Resource+" "+d.reason] += d.count
	}
	return out
}

func refusal(ip, place string) actors.AuditRecord {
	return actors.AuditRecord{IP: ip, Resource: place, UserAgent: "curl/8"}
}

func TestFloodFromOneSourceIsAggregated(t *testing.T) {
	rec := &recorder{}
	clk := &clock{now: time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	r := audit.NewRefusals(rec, reg, audit.RefusalOptions{Window: time.Minute, Now: clk.Now})

	for range 1000 {
		r.Refused(refusal("203.0.113.7", "api"), "token_invalid")
	}
	recs := rec.all()
	require.Len(t, recs, 1, "the first refusal is recorded at once, the rest are counted")
	assert.Equal(t, "203.0.113.7", recs[0].IP)
	assert.Equal(t, "curl/8", recs[0].UserAgent)
	assert.Equal(t, parsed{reason: "token_invalid", count: 1}, detailOf(t, recs[0]))

	clk.advance(time.Minute)
	r.Flush()
	recs = rec.all()
	require.Len(t, recs, 2, "one summary per window")
	assert.Equal(t, parsed{reason: "token_invalid", count: 999}, detailOf(t, recs[1]))
	assert.Equal(t, clk.Now(), recs[1].At, "a summary is dated when written")
	assert.Equal(t, map[string]int{"203.0.113.7 api token_invalid": 1000}, totals(t, recs))
	assert.Equal(t, 1000.0, counterValue(t, reg, "engine_auth_refused_total", "api", "token_invalid"))

	// The flood goes on for two more windows: one summary each.
	for range 2 {
		for range 500 {
			r.Refused(refusal("203.0.113.7", "api"), "token_invalid")
		}
		clk.advance(time.Minute)
		r.Flush()
	}
	recs = rec.all()
	assert.Len(t, recs, 4)
	assert.Equal(t, map[string]int{"203.0.113.7 api token_invalid": 2000}, totals(t, recs))

	// Quiet for a window: the key is forgotten and the next refusal is
	// recorded at once again.
	clk.advance(time.Minute)
	r.Flush()
	assert.Zero(t, r.Tracked())
	assert.Len(t, rec.all(), 4, "no summary for a quiet window")
	r.Refused(refusal("203.0.113.7", "api"), "token_invalid")
	assert.Len(t, rec.all(), 5)
}

func TestSourcesPlacesAndReasonsAreSeparate(t *testing.T) {
	rec := &recorder{}
	clk := &clock{now: time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)}
	r := audit.NewRefusals(rec, nil, audit.RefusalOptions{Window: time.Minute, Now: clk.Now})
	sent := map[string]int{
		"198.51.100.1 api token_expired":         3,
		"198.51.100.1 api token_revoked":         2,
		"198.51.100.1 ws token_expired":          4,
		"198.51.100.2 api token_expired":         1,
		"198.51.100.2 webhook signature_invalid": 7,
	}
	for key, n := range sent {
		f := strings.Fields(key)
		for range n {
			r.Refused(refusal(f[0], f[1]), f[2])
		}
	}
	assert.Len(t, rec.all(), len(sent), "each key's first refusal is recorded at once")
	clk.advance(time.Minute)
	r.Flush()
	recs := rec.all()
	assert.Len(t, recs, len(sent)+4, "a summary for each key refused more than once")
	assert.Equal(t, sent, totals(t, recs))
}

func TestKeysAreCapped(t *testing.T) {
	rec := &recorder{}
	clk := &clock{now: time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)}
	r := audit.NewRefusals(rec, nil, audit.RefusalOptions{Window: time.Minute, MaxKeys: 10, Now: clk.Now})
	for i := range 1000 {
		r.Refused(refusal(fmt.Sprintf("10.0.%d.%d", i/256, i%256), "api"), "token_invalid")
	}
	assert.Equal(t, 10, r.Tracked(), "memory is bounded")
	assert.Len(t, rec.all(), 10)

	clk.advance(time.Minute)
	r.Flush()
	recs := rec.all()
	require.Len(t, recs, 11, "the untracked refusals are one summary")
	last := recs[10]
	assert.Equal(t, "", last.IP)
	assert.Equal(t, "*", last.Resource)
	assert.Equal(t, parsed{reason: "overflow", count: 990}, detailOf(t, last))
	total := 0
	for _, n := range totals(t, recs) {
		total += n
	}
	assert.Equal(t, 1000, total, "every refusal is counted once")
}

func TestRunFlushesEveryWindowAndAtTheEnd(t *testing.T) {
	rec := &recorder{}
	r := audit.NewRefusals(rec, nil, audit.RefusalOptions{Window: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	for range 5 {
		r.Refused(refusal("192.0.2.1", "ws"), "token_revoked")
	}
	require.Eventually(t, func() bool { return len(rec.all()) == 2 }, 2*time.Second, 5*time.Millisecond, "the ticker writes the summary")
	r.Refused(refusal("192.0.2.1", "ws"), "token_revoked")
	r.Refused(refusal("192.0.2.1", "ws"), "token_revoked")
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, map[string]int{"192.0.2.1 ws token_revoked": 7}, totals(t, rec.all()), "Run flushes what it counted before it returns")
}

func TestConcurrentRefusalsAreAllCounted(t *testing.T) {
	rec := &recorder{}
	r := audit.NewRefusals(rec, nil, audit.RefusalOptions{Window: time.Hour})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 250 {
				r.Refused(refusal(fmt.Sprintf("10.1.0.%d", g%2), "api"), "token_invalid")
			}
		}()
	}
	wg.Wait()
	r.Flush()
	assert.Equal(t, map[string]int{"10.1.0.0 api token_invalid": 1000, "10.1.0.1 api token_invalid": 1000}, totals(t, rec.all()))
	assert.Len(t, rec.all(), 4)
}

// counterValue reads one child of a counter vector with labels place and
// reason from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, place, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["place"] == place && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("metric %s{place=%q,reason=%q} not found", name, place, reason)
	return 0
}
