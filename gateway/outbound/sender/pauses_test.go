package sender_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/outbound/sender"
)

// recordingShaper records pauses; Wait grants at once.
type recordingShaper struct {
	mu     sync.Mutex
	number map[string]time.Time
	recip  map[string]time.Time
}

func (s *recordingShaper) Wait(context.Context, string, string) error { return nil }
func (s *recordingShaper) PauseNumber(id string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.number[id] = until
}
func (s *recordingShaper) PauseRecipient(id, to string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recip[id+"/"+to] = until
}

// people lists fixed users by role and keeps notifications.
type people struct {
	mu    sync.Mutex
	users []actors.User
	notes []actors.Notification
}

func (p *people) ListUsers(_ context.Context, role actors.Role) ([]actors.User, error) {
	var out []actors.User
	for _, u := range p.users {
		if u.Role == role {
			out = append(out, u)
		}
	}
	return out, nil
}

func (p *people) AddNotifications(_ context.Context, ns []actors.Notification) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notes = append(p.notes, ns...)
	return nil
}

type published struct {
	mu  sync.Mutex
	evs []actors.Event
}

func (p *published) Publish(ev actors.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evs = append(p.evs, ev)
}

// TestPausesAlertOperators: a number stopped by Meta alerts every admin and
// supervisor (stored notification and a socket event to each), once per
// number and code within AlertEvery; recipients' hour-long pauses take the
// configured override, 131056's seconds do not.
func TestPausesAlertOperators(t *testing.T) {
	shaper := &recordingShaper{number: map[string]time.Time{}, recip: map[string]time.Time{}}
	ppl := &people{users: []actors.User{{ID: "a1", Role: actors.RoleAdmin}, {ID: "s1", Role: actors.RoleSupervisor}, {ID: "g1", Role: actors.RoleAgent}}}
	pub := &published{}
	reg := prometheus.NewRegistry()
	p := sender.NewPauses(sender.PausesOptions{Shaper: shaper, RecipientPause: time.Minute, Users: ppl, Notifications: ppl, Publisher: pub,
		Log: zap.NewNop(), Registry: reg})
	ctx := context.Background()

	before := time.Now()
	p.PauseNumber(ctx, "pn1", 30*time.Minute, actors.WhatsAppError{Code: 131042})
	p.PauseNumber(ctx, "pn1", 30*time.Minute, actors.WhatsAppError{Code: 131042}) // the same again: one alert
	p.PauseNumber(ctx, "pn1", 30*time.Minute, actors.WhatsAppError{Code: 368})    // another code: alerted
	require.Contains(t, shaper.number, "pn1")
	assert.WithinDuration(t, before.Add(30*time.Minute), shaper.number["pn1"], 5*time.Second)

	var users []string
	for _, n := range ppl.notes {
		users = append(users, n.UserID)
		assert.Equal(t, actors.NotifyNumberBlocked, n.Kind)
		assert.Contains(t, n.Body, "pn1")
	}
	assert.Equal(t, []string{"a1", "s1", "a1", "s1"}, users, "admins and supervisors, not agents; once per code")
	assert.Len(t, pub.evs, 4)
	for _, ev := range pub.evs {
		assert.Equal(t, actors.EventNotification, ev.Type)
		assert.NotEmpty(t, ev.UserID)
	}
	assert.Equal(t, 1.0, testutil.ToFloat64(mustCounter(t, reg, "engine_operator_alerts_total", "131042")))
	assert.Equal(t, 1.0, testutil.ToFloat64(mustCounter(t, reg, "engine_operator_alerts_total", "368")))

	p.PauseRecipient(ctx, "pn1", "91", 4*time.Hour, actors.WhatsAppError{Code: 131048})
	p.PauseRecipient(ctx, "pn1", "92", 6*time.Second, actors.WhatsAppError{Code: 131056})
	assert.WithinDuration(t, time.Now().Add(time.Minute), shaper.recip["pn1/91"], 5*time.Second, "the override replaces 131048's hours")
	assert.WithinDuration(t, time.Now().Add(6*time.Second), shaper.recip["pn1/92"], 2*time.Second, "131056 keeps its seconds")
}

// mustCounter returns the counter of name with the one label value.
func mustCounter(t *testing.T, reg *prometheus.Registry, name, label string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == label {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "copy"})
				c.Add(m.GetCounter().GetValue())
				return c
			}
		}
	}
	t.Fatalf("no %s{%s}", name, label)
	return nil
}
