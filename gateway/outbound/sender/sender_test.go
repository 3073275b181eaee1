package sender_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
)

func TestSenderClassifiesMetasErrors(t *testing.T) {
	t.Parallel()
	const (
		numberPause    = 90 * time.Minute
		recipientPause = 7 * time.Hour
	)
	tests := []struct {
		name   string
		answer answer
		// wantOp is how the failed delivery is settled.
		wantOp string
		// wantMinDelay is the least retry delay (Meta's minimum for the
		// code); wantDelay, when set, the exact one (a pause).
		wantMinDelay, wantDelay time.Duration
		// wantWindowClosed: the conversation is told its window closed.
		wantWindowClosed bool
		// pauses: a later send to the same number (pausedNumber) or
		// recipient is held back untried.
		pausedNumber, pausedRecipient bool
	}{
		// Retried with backoff.
		{name: "130429 throughput", answer: answer{status: 400, code: 130429}, wantOp: "retry", wantMinDelay: time.Second, pausedNumber: true},
		{name: "131056 pair rate", answer: answer{status: 400, code: 131056}, wantOp: "retry", wantMinDelay: 6 * time.Second, pausedRecipient: true},
		{name: "4 app call limit", answer: answer{status: 400, code: 4}, wantOp: "retry", wantMinDelay: 30 * time.Second},
		{name: "80007 account rate limit", answer: answer{status: 400, code: 80007}, wantOp: "retry", wantMinDelay: 30 * time.Second},
		{name: "1 unknown error", answer: answer{status: 500, code: 1}, wantOp: "retry"},
		{name: "2 service unavailable", answer: answer{status: 503, code: 2}, wantOp: "retry"},
		{name: "131000 something went wrong", answer: answer{status: 500, code: 131000}, wantOp: "retry"},
		{name: "131016 service unavailable", answer: answer{status: 503, code: 131016}, wantOp: "retry"},
		{name: "5xx without Meta's error", answer: answer{status: 502, code: whatsapp.NoCode}, wantOp: "retry"},
		{name: "timeout", answer: answer{hang: true}, wantOp: "retry"},
		// Failed for good.
		{name: "131047 window closed", answer: answer{status: 400, code: 131047}, wantOp: "dead-letter", wantWindowClosed: true},
		{name: "131026 undeliverable", answer: answer{status: 400, code: 131026}, wantOp: "dead-letter"},
		{name: "100 invalid parameter", answer: answer{status: 400, code: 100}, wantOp: "dead-letter"},
		{name: "132000 template parameters", answer: answer{status: 400, code: 132000}, wantOp: "dead-letter"},
		{name: "132001 template missing", answer: answer{status: 404, code: 132001}, wantOp: "dead-letter"},
		{name: "131051 unsupported type", answer: answer{status: 400, code: 131051}, wantOp: "dead-letter"},
		{name: "130472 experiment", answer: answer{status: 400, code: 130472}, wantOp: "dead-letter"},
		{name: "unknown code", answer: answer{status: 400, code: 987654}, wantOp: "dead-letter"},
		// The number paused.
		{name: "0 auth exception", answer: answer{status: 401, code: 0}, wantOp: "retry", wantDelay: numberPause, pausedNumber: true},
		{name: "190 token expired", answer: answer{status: 401, code: 190}, wantOp: "retry", wantDelay: numberPause, pausedNumber: true},
		{name: "368 policy block", answer: answer{status: 403, code: 368}, wantOp: "retry", wantDelay: numberPause, pausedNumber: true},
		{name: "131031 account locked", answer: answer{status: 403, code: 131031}, wantOp: "retry", wantDelay: numberPause, pausedNumber: true},
		{name: "131042 payment issue", answer: answer{status: 400, code: 131042}, wantOp: "retry", wantDelay: numberPause, pausedNumber: true},
		// The recipient paused.
		{name: "131048 spam rate limit", answer: answer{status: 400, code: 131048}, wantOp: "retry", wantDelay: recipientPause, pausedRecipient: true},
		{name: "131049 ecosystem limit", answer: answer{status: 400, code: 131049}, wantOp: "retry", wantDelay: recipientPause, pausedRecipient: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, options{numberPause: numberPause, recipientPause: recipientPause})
			w.api.answer("4915100000001", tt.answer)
			id := w.send("4915100000001")
			got := w.settled(id, 1)
			require.Equal(t, tt.wantOp, got.op, "settled as %+v", got)
			assert.Equal(t, 1, got.attempt)
			assert.Equal(t, 1, w.api.calls("4915100000001"))
			m := w.store.get(id)
			assert.False(t, w.store.claimed(id), "answered: the claim is released (retry) or ended by the failed status")

			switch tt.wantOp {
			case "retry":
				assert.GreaterOrEqual(t, got.delay, tt.wantMinDelay)
				if tt.wantDelay > 0 {
					assert.Equal(t, tt.wantDelay, got.delay)
				}
				assert.NotEmpty(t, got.reason)
				assert.Equal(t, actors.StatusQueued, m.Status, "still queued: it will be tried again")
				assert.Empty(t, w.outcomes.of(id), "nothing to tell the conversation yet")
				// Counted just after the retry is settled.
				assert.Eventually(t, func() bool { return w.counter("engine_sends_total", "outcome", "retried") == 1 }, 5*time.Second, 5*time.Millisecond)
			case "dead-letter":
				assert.True(t, strings.HasPrefix(got.reason, "failed for good: "), got.reason)
				assert.Equal(t, actors.StatusFailed, m.Status)
				require.NotNil(t, m.Error)
				assert.Equal(t, max(tt.answer.code, 0), m.Error.Code)
				outs := w.outcomes.of(id)
				require.Len(t, outs, 1, "the conversation is told")
				assert.Equal(t, actors.StatusFailed, outs[0].Status)
				assert.Equal(t, tt.wantWindowClosed, outs[0].WindowClosed)
				assert.Equal(t, 1.0, w.counter("engine_sends_total", "outcome", "failed"))
			}

			// What a pause holds back, untried, and what it lets through.
			if tt.pausedNumber || tt.pausedRecipient {
				w.api.accept("4915100000001")
				same := w.send("4915100000001")
				held := w.settled(same, 1)
				assert.Equal(t, "hold", held.op, "the same recipient is held back")
				assert.Equal(t, 1, held.attempt)
				other := w.send("4915100000002")
				wantOther := "ack"
				if tt.pausedNumber {
					wantOther = "hold"
				}
				assert.Equal(t, wantOther, w.settled(other, 1).op, "another recipient on the same number")
				assert.Equal(t, 1, w.api.calls("4915100000001"), "nothing held reached the Cloud API")
				scope := "recipient"
				if tt.pausedNumber {
					scope = "number"
				}
				if tt.wantDelay > 0 {
					assert.Equal(t, 1.0, w.counter("engine_sender_paused_total", "scope", scope))
				}
			}
		})
	}
}

func TestSentMessageIsRecordedAndReported(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	id := w.send("4915100000003")
	require.Equal(t, "ack", w.settled(id, 1).op)
	m := w.store.get(id)
	assert.Equal(t, actors.StatusSent, m.Status)
	assert.Equal(t, "wamid.4915100000003.1", m.WaMessageID)
	outs := w.outcomes.of(id)
	require.Len(t, outs, 1)
	assert.Equal(t, conversation.SendOutcome{MessageID: id, WaMessageID: m.WaMessageID, Status: actors.StatusSent}, outs[0])
	assert.Equal(t, 1.0, w.counter("engine_sends_total", "outcome", "sent"))
}

func TestHeldSendUsesNoAttempt(t *testing.T) {
	t.Parallel()
	// One attempt per send, and a short pause so the held send comes back.
	w := newWorld(t, options{maxAttempts: 1, numberPause: 300 * time.Millisecond})
	w.api.answer("4915100000004", answer{status: 401, code: 190})
	first := w.send("4915100000004")
	assert.Equal(t, "dead-letter", w.settled(first, 1).op, "the 190 used the only attempt")
	assert.Equal(t, actors.StatusFailed, w.store.get(first).Status)

	w.api.accept("4915100000004")
	second := w.send("4915100000004")
	held := w.settled(second, 1)
	assert.Equal(t, "hold", held.op)
	assert.Equal(t, actors.StatusQueued, w.store.get(second).Status, "held on its only attempt, not failed")

	// The pause ends: the held send comes back with its attempt unused
	// and goes out.
	sent := w.settled(second, 2)
	assert.Equal(t, "ack", sent.op)
	assert.Equal(t, 1, sent.attempt, "the hold used no attempt")
	assert.Equal(t, actors.StatusSent, w.store.get(second).Status)
	dead, err := w.queue.ListDeadLetters(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, dead, 1, "only the send that failed is a dead letter")
	assert.Equal(t, first, dead[0].Job.MessageID)
}

func TestSendIsDeadLetteredAfterItsLastAttempt(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{maxAttempts: 2})
	w.api.answer("4915100000005", answer{status: 500, code: 1})
	id := w.send("4915100000005")
	assert.Equal(t, "retry", w.settled(id, 1).op)
	last := w.settled(id, 2)
	assert.Equal(t, "dead-letter", last.op)
	assert.Equal(t, 2, last.attempt)
	assert.Equal(t, 2, w.api.calls("4915100000005"))
	// The dead letter is settled before the message's status is written.
	require.Eventually(t, func() bool { return w.store.get(id).Status == actors.StatusFailed }, 5*time.Second, 2*time.Millisecond)
	m := w.store.get(id)
	require.NotNil(t, m.Error)
	assert.Contains(t, m.Error.Title, "dead-lettered")
	require.Eventually(t, func() bool { return len(w.outcomes.of(id)) == 1 }, 5*time.Second, 2*time.Millisecond, "the conversation is told")
	assert.Equal(t, actors.StatusFailed, w.outcomes.of(id)[0].Status)
	dead, err := w.queue.ListDeadLetters(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.True(t, strings.HasPrefix(dead[0].Reason, "attempts exhausted"), dead[0].Reason)
	assert.Equal(t, 1.0, w.counter("engine_sends_total", "outcome", "dead_lettered"))
}

// A job that makes the handler panic is retried, then dead-lettered with
// the panic as its reason; the sender keeps going.
func TestPanickingJobIsDeadLetteredAfterItsAttempts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{maxAttempts: 2})
	w.store.mu.Lock()
	w.store.poison = fmt.Sprintf("msg-%d", w.n.Load()+1)
	w.store.mu.Unlock()
	id := w.send("4915100000006")
	assert.Equal(t, "retry", w.settled(id, 1).op)
	last := w.settled(id, 2)
	assert.Equal(t, "dead-letter", last.op)
	assert.Contains(t, last.reason, "handler panicked: poison message "+id)
	assert.Zero(t, w.api.calls("4915100000006"))
	assert.Equal(t, 2.0, w.counter("engine_sends_total", "outcome", "panicked"))

	good := w.send("4915100000007")
	assert.Equal(t, "ack", w.settled(good, 1).op, "the queue keeps flowing")
	assert.Equal(t, 1, w.api.calls("4915100000007"))
}

func TestRedeliveredSendIsNotSentTwice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status string
	}{
		{name: "already sent", status: actors.StatusSent},
		{name: "already failed", status: actors.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, options{})
			id := w.send("4915100000006")
			require.Equal(t, "ack", w.settled(id, 1).op)
			require.Equal(t, 1, w.api.calls("4915100000006"))

			// The same job again (a redelivery after a crash), its message
			// no longer queued.
			m := w.store.get(id)
			m.Status = tt.status
			w.store.put(m)
			job := actors.OutboundJob{MessageID: id, ConversationID: m.ConversationID, PhoneNumberID: number, To: "4915100000006",
				Body: json.RawMessage(`{"to":"4915100000006"}`), Attempt: 1}
			require.NoError(t, w.queue.Publish(t.Context(), job))
			assert.Equal(t, "ack", w.settled(id, 2).op)
			assert.Equal(t, 1, w.api.calls("4915100000006"), "not sent again")
			assert.Equal(t, 1.0, w.counter("engine_sends_total", "outcome", "skipped"))
		})
	}
}

func TestJobForAnUnknownMessageIsDeadLettered(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	require.NoError(t, w.queue.Publish(t.Context(), actors.OutboundJob{MessageID: "nobody", PhoneNumberID: number, To: "4915100000007",
		Body: json.RawMessage(`{}`), Attempt: 1}))
	got := w.settled("nobody", 1)
	assert.Equal(t, "dead-letter", got.op)
	assert.Zero(t, w.api.calls("4915100000007"), "nothing to send")
	dead, err := w.queue.ListDeadLetters(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, "message not found", dead[0].Reason)
}

// A send is claimed while in flight and its claim ends with its outcome; a
// job whose claim was left by a process that died mid-call is not sent
// again: its message fails as "send outcome unknown" and the job is
// dead-lettered.
func TestClaimStopsASecondSendAfterACrash(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	id := w.send("4915100000008")
	assert.Equal(t, "ack", w.settled(id, 1).op)
	assert.Equal(t, 1, w.api.calls("4915100000008"))
	assert.False(t, w.store.claimed(id), "its outcome ended the claim")

	// The claim a dead process left: its lease ended.
	next := fmt.Sprintf("msg-%d", w.n.Load()+1)
	past := time.Now().UTC().Add(-2 * time.Minute)
	w.store.claim(next, sendClaim{owner: "dead", claimedAt: past, leaseUntil: past.Add(time.Minute)})
	require.Equal(t, next, w.send("4915100000009"))
	got := w.settled(next, 1)
	assert.Equal(t, "dead-letter", got.op)
	assert.Contains(t, got.reason, "send outcome unknown")
	assert.Zero(t, w.api.calls("4915100000009"), "not sent again")
	require.Eventually(t, func() bool { return w.store.get(next).Status == actors.StatusFailed }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, "send outcome unknown", w.store.get(next).Error.Title)
	assert.False(t, w.store.claimed(next), "a re-drive may send it")
	assert.Equal(t, 1.0, w.counter("engine_sends_total", "outcome", "unknown"))
}

// A claim under a live lease is another send of the same message in
// flight (in another process): the job is held for the lease, untried.
func TestLiveClaimHoldsTheJob(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	next := fmt.Sprintf("msg-%d", w.n.Load()+1)
	now := time.Now().UTC()
	w.store.claim(next, sendClaim{owner: "alive", claimedAt: now, leaseUntil: now.Add(time.Minute)})
	require.Equal(t, next, w.send("4915100000010"))
	got := w.settled(next, 1)
	assert.Equal(t, "hold", got.op)
	assert.Equal(t, time.Minute, got.delay)
	assert.Contains(t, got.reason, "in flight")
	assert.Zero(t, w.api.calls("4915100000010"))
	assert.Equal(t, actors.StatusQueued, w.store.get(next).Status)
	assert.True(t, w.store.claimed(next), "the other holder's claim stays")
}

// An answered error that is retried releases the claim: the next attempt
// claims afresh and sends.
func TestRetriedSendReleasesItsClaim(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{maxAttempts: 3})
	const to = "4915100000011"
	w.api.answer(to, answer{status: 500, code: 2})
	id := w.send(to)
	assert.Equal(t, "retry", w.settled(id, 1).op)
	assert.False(t, w.store.claimed(id), "released once answered")
	w.api.accept(to)
	assert.Equal(t, "ack", w.settled(id, 2).op)
	assert.Equal(t, actors.StatusSent, w.store.get(id).Status)
	assert.Equal(t, 2, w.api.calls(to))
}
