//go:build faults

package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/supervisors"
)

// Test50_ActorPanics: a conversation actor made to panic (the faults
// build's hook, a send whose text starts with conversation.PanicText) is
// answered 503 at once and restarted — the next send to it is accepted —
// while another conversation is unaffected; at the 11th panic within a
// minute it is parked with an ERROR log and engine_conversations_parked_total,
// its sends are refused at once, a webhook for it is accepted and kept,
// and once the park is over the webhook is applied (re-driven by the inbox).
func Test50_ActorPanics(t *testing.T) {
	t.Parallel()
	r := covers(t, 50)
	p := start(t, nil)
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range strings.Split(p.out.String(), "\n") {
				if !strings.Contains(l, "\trequest\t") {
					t.Log(l[:min(len(l), 300)])
				}
			}
		}
	})
	a, b := "919815000001", "919815000002"
	customersWrite(t, p, []string{a, b})
	token := p.admin()

	panics := 0
	for i := 0; i < 11; i++ {
		began := time.Now()
		st := sendText(p, token, "+"+a, fmt.Sprintf("%s %d", conversation.PanicText, i))
		d := time.Since(began)
		panics++
		r.count("faults", 1)
		assert.Equal(t, 503, st, "panic %d: the failing send is refused", i)
		assert.Less(t, d, 5*time.Second, "panic %d: answered at once, not after a timeout", i)
		r.timing("time_to_503", d)
		assert.Equal(t, 202, sendText(p, token, "+"+b, fmt.Sprintf("b after panic %d", i)), "another conversation is unaffected")
		if i < 10 {
			began = time.Now()
			assert.Equal(t, 202, sendText(p, token, "+"+a, fmt.Sprintf("a after panic %d", i)), "the restarted actor answers")
			r.timing("time_for_restarted_actor_to_answer", time.Since(began))
		}
	}
	// Parked: the alert fired, the conversation refuses at once.
	require.Eventually(t, func() bool { return p.metricValue("engine_conversations_parked_total") == 1 }, 5*time.Second, 50*time.Millisecond)
	assert.Regexp(t, `ERROR.*conversation actor parked`, p.out.String(), "an alert at ERROR")
	parkedAt := time.Now()
	began := time.Now()
	assert.Equal(t, 503, sendText(p, token, "+"+a, "while parked"))
	assert.Less(t, time.Since(began), 2*time.Second)
	// A webhook for it is accepted (kept in the inbox), and B carries on.
	require.Equal(t, 200, p.webhook(textBody(wcPhoneID, a, "wamid.p50.parked", "written while parked", time.Now())))
	require.Equal(t, 200, p.webhook(textBody(wcPhoneID, b, "wamid.p50.b", "b while a is parked", time.Now())))
	wcWaitStored(p, token, "wamid.p50.b")
	assert.Zero(t, wcCount(p, token, "wamid.p50.parked"), "not applied while parked")
	r.count("inputs", 2*panics+4)

	// After the park the inbox re-drives the webhook to a fresh actor.
	require.Eventually(t, func() bool { return wcCount(p, token, "wamid.p50.parked") == 1 },
		supervisors.ParkFor+30*time.Second, 500*time.Millisecond, "the kept webhook is applied after the park")
	r.timing("time_to_redrive_after_park", time.Since(parkedAt))

	assert.Equal(t, 202, sendText(p, token, "+"+a, "after the park"))
	assert.False(t, strings.Contains(p.out.String(), "goroutine "), "no panic reached the log raw")
	r.count("lost", 0)
}
