package callsender_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
	"github.com/wacc/engine/gateway/outbound/callsender"
	"github.com/wacc/engine/gateway/outbound/exotel"
	sandbox "github.com/wacc/engine/gateway/sandbox/exotel"
	"github.com/wacc/engine/persistence/memqueue"
)

func TestPlacesTheCallAndRecordsItBeforeTheAck(t *testing.T) {
	h := newHarness(t, setup{})
	h.start("call-1", custOK)
	h.waitSettled("call-1")

	placed := h.sb.CallsTo(custOK)
	require.Len(t, placed, 1)
	assert.Equal(t, "call-1", placed[0].CustomField)
	assert.Equal(t, 600, placed[0].TimeLimit)
	assert.Equal(t, 30, placed[0].TimeOut)
	assert.True(t, placed[0].Record)

	c := h.call("call-1")
	assert.Equal(t, placed[0].Sid, c.ExotelSid)
	assert.Equal(t, actors.StateActive, c.State)
	assert.Equal(t, actors.CallRinging, c.Status)
	requireBefore(t, h.j, "call-1", "connected "+placed[0].Sid, "ack")
}

func TestRefusedCallFailsForGood(t *testing.T) {
	h := newHarness(t, setup{})
	h.start("call-bad", "+91123") // too short a number: Exotel's 400
	h.waitSettled("call-bad")
	c := h.call("call-bad")
	assert.Equal(t, actors.StateClosed, c.State)
	assert.Equal(t, actors.CallFailed, c.Status)
	assert.Equal(t, "Exotel refused the call: http 400 INVALID_PARAMETER", c.Reason)
	requireBefore(t, h.j, "call-bad", "connect failed final=true", "ack")
	assert.Empty(t, h.sb.Calls())
	assert.True(t, h.sender.PausedUntil().IsZero(), "a bad request pauses nothing")
}

func TestAuthFailurePausesCallingAndHoldsJobs(t *testing.T) {
	h := newHarness(t, setup{
		client: func(o *exotel.Options) { o.APIToken = "revoked" },
		sender: func(o *callsender.Options) { o.AuthPause = time.Hour },
	})
	h.start("call-a", custOK)
	h.waitSettled("call-a")
	c := h.call("call-a")
	assert.Equal(t, actors.CallFailed, c.Status)
	assert.Equal(t, "Exotel refused the call: http 401 UNAUTHORIZED", c.Reason)
	assert.WithinDuration(t, time.Now().Add(time.Hour), h.sender.PausedUntil(), time.Minute)
	loud := h.logs.FilterLevelExact(zap.ErrorLevel).FilterMessageSnippet("calling paused").All()
	require.Len(t, loud, 1)
	assert.NotContains(t, loud[0].ContextMap()["error"], "revoked")

	h.start("call-b", custOK)
	require.Eventually(t, func() bool { return h.j.has("call-b", "hold calling paused") }, waitFor, tick)
	b := h.call("call-b")
	assert.Equal(t, actors.StateNew, b.State, "held, not failed")
	assert.True(t, b.ConnectStartedAt.IsZero(), "its call was not even asked")
	assert.False(t, h.j.settled("call-b"))
	assert.Empty(t, h.sb.Calls())
}

func TestNotTakenIsRetriedThenPlacedOnce(t *testing.T) {
	for _, fault := range []sandbox.Fault{sandbox.FaultUnavailable, sandbox.FaultRateLimit} {
		t.Run(string(fault), func(t *testing.T) {
			h := newHarness(t, setup{})
			h.sb.ArmFault(fault, 1)
			h.start("call-r", custOK)
			h.waitSettled("call-r")
			requireBefore(t, h.j, "call-r", "connect failed final=false", "retry http ")
			requireBefore(t, h.j, "call-r", "retry http ", "connected ")
			require.Len(t, h.sb.CallsTo(custOK), 1)
			assert.Equal(t, h.sb.CallsTo(custOK)[0].Sid, h.call("call-r").ExotelSid)
		})
	}
}

func TestLastAttemptDeadLettersAndClosesTheCall(t *testing.T) {
	var mq *memqueue.Queue
	h := newHarness(t, setup{queue: func(t *testing.T) queue {
		mq = memqueue.New(memqueue.Options{MaxAttempts: 2})
		t.Cleanup(func() { _ = mq.Close() })
		return mq
	}})
	h.sb.ArmFault(sandbox.FaultUnavailable, 5)
	h.start("call-d", custOK)
	h.waitSettled("call-d")
	require.True(t, h.j.has("call-d", "dead "), "%v", h.j.of("call-d"))
	c := h.waitClosed("call-d")
	assert.Equal(t, actors.StateClosed, c.State)
	assert.Equal(t, "dead-lettered: http 503 SERVICE_UNAVAILABLE", c.Reason)
	dls, err := mq.ListDeadLetters(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	assert.Equal(t, "call-d", dls[0].Job.CallID)
	assert.Empty(t, h.sb.Calls())
}

// TestConnectTimeoutAfterPlacingDoesNotPlaceTwice: the sandbox places the
// 0009 call and never answers; the sender looks it up and records it.
func TestConnectTimeoutAfterPlacingDoesNotPlaceTwice(t *testing.T) {
	h := newHarness(t, setup{sandbox: func(o *sandbox.Options) { o.TalkDelay = 10 * time.Second }})
	h.start("call-t", custTimeout)
	h.waitSettled("call-t")

	placed := h.sb.CallsTo(custTimeout)
	require.Len(t, placed, 1, "placed once")
	c := h.call("call-t")
	assert.Equal(t, placed[0].Sid, c.ExotelSid)
	assert.Equal(t, actors.StateActive, c.State)
	assert.Equal(t, actors.CallInProgress, c.Status, "as Exotel's lookup lists it")
	requireBefore(t, h.j, "call-t", "hold connect outcome unknown: timeout after sending", "begin resolve")
	requireBefore(t, h.j, "call-t", "begin resolve", "connected "+placed[0].Sid)
	assert.False(t, h.j.has("call-t", "connect failed"), "the actor was never told the connect failed")
	assert.False(t, h.j.has("call-t", "retry"), "%v", h.j.of("call-t"))
}

// TestLostConnectNotPlacedIsPlacedOnceAfterTheSettleWindow: a sandbox
// fault (a held and dropped request, or a 500) places nothing; the lookup
// finds nothing and, once the window passed, the call is placed, once.
func TestLostConnectNotPlacedIsPlacedOnceAfterTheSettleWindow(t *testing.T) {
	for _, fault := range []sandbox.Fault{sandbox.FaultTimeout, sandbox.FaultServerError} {
		t.Run(string(fault), func(t *testing.T) {
			h := newHarness(t, setup{sender: func(o *callsender.Options) { o.SettleWindow = 700 * time.Millisecond }})
			h.sb.ArmFault(fault, 1)
			c := newCall("call-f", custOK)
			c.TimeOut = 0 // Exotel's default ring: the window is SettleWindow alone
			h.startCall(c)
			h.waitSettled("call-f")
			placed := h.sb.CallsTo(custOK)
			require.Len(t, placed, 1, "placed once")
			assert.Equal(t, placed[0].Sid, h.call("call-f").ExotelSid)
			requireBefore(t, h.j, "call-f", "hold connect outcome unknown", "begin resolve")
			requireBefore(t, h.j, "call-f", "hold connect outcome unknown; looking", "connect failed final=false")
			requireBefore(t, h.j, "call-f", "connect failed final=false", "retry connect outcome unknown and Exotel lists no call")
			requireBefore(t, h.j, "call-f", "retry connect outcome unknown", "connected ")
		})
	}
}

// TestSettleWindowCoversTheRinging: a lost connect is not deemed unplaced
// before both legs could have rung out (2×TimeOut), however short
// SettleWindow is.
func TestSettleWindowCoversTheRinging(t *testing.T) {
	h := newHarness(t, setup{sender: func(o *callsender.Options) { o.SettleWindow = 100 * time.Millisecond }})
	h.sb.ArmFault(sandbox.FaultServerError, 1)
	c := newCall("call-w", custOK)
	c.TimeOut = 1
	start := time.Now()
	h.startCall(c)
	h.waitSettled("call-w")
	assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "placed again only after 2×TimeOut: %v", h.j.of("call-w"))
	requireBefore(t, h.j, "call-w", "connect failed final=false", "connected ")
	require.Len(t, h.sb.CallsTo(custOK), 1)
}

// TestLostAnswersOfTheActorLoseNothing: when the call's actor does not
// answer, the job is never acknowledged, and the call is still placed
// exactly once.
func TestLostAnswersOfTheActorLoseNothing(t *testing.T) {
	t.Run("connected applied, answer lost", func(t *testing.T) {
		h := newHarness(t, setup{})
		h.dir.loseAnswer("Connected", true)
		h.start("call-1", custOK)
		h.waitSettled("call-1")
		requireBefore(t, h.j, "call-1", "lost answer of Connected", "hold record placed call")
		requireBefore(t, h.j, "call-1", "hold record placed call", "begin skip") // Exotel has it
		requireBefore(t, h.j, "call-1", "begin skip", "ack")
		require.Len(t, h.sb.CallsTo(custOK), 1)
	})
	t.Run("connected not applied", func(t *testing.T) {
		h := newHarness(t, setup{})
		h.dir.loseAnswer("Connected", false)
		h.start("call-2", custOK)
		h.waitSettled("call-2")
		requireBefore(t, h.j, "call-2", "lost Connected", "hold record placed call")
		requireBefore(t, h.j, "call-2", "begin resolve", "connected ") // resolved by lookup
		require.Len(t, h.sb.CallsTo(custOK), 1)
		assert.Equal(t, h.sb.CallsTo(custOK)[0].Sid, h.call("call-2").ExotelSid)
	})
	t.Run("begin connect applied, answer lost", func(t *testing.T) {
		h := newHarness(t, setup{sender: func(o *callsender.Options) { o.SettleWindow = 700 * time.Millisecond }})
		h.dir.loseAnswer("BeginConnect", true)
		c := newCall("call-3", custOK)
		c.TimeOut = 0
		h.startCall(c)
		h.waitSettled("call-3")
		requireBefore(t, h.j, "call-3", "lost answer of BeginConnect", "retry ask call")
		requireBefore(t, h.j, "call-3", "retry ask call", "connect failed final=false")
		require.Len(t, h.sb.CallsTo(custOK), 1)
	})
	t.Run("final failure not recorded", func(t *testing.T) {
		h := newHarness(t, setup{sender: func(o *callsender.Options) { o.SettleWindow = 300 * time.Millisecond }})
		h.dir.loseAnswer("ConnectFailed", false)
		c := newCall("call-4", custOK)
		c.TimeLimit = exotel.MaxTimeLimit + 1 // refused by the client, for good
		c.TimeOut = 0
		h.startCall(c)
		h.waitSettled("call-4")
		requireBefore(t, h.j, "call-4", "lost ConnectFailed", "hold record failed call")
		requireBefore(t, h.j, "call-4", "hold record failed call", "begin resolve")
		requireBefore(t, h.j, "call-4", "begin resolve", "connect failed final=false")
		requireBefore(t, h.j, "call-4", "connect failed final=false", "connect failed final=true")
		requireBefore(t, h.j, "call-4", "connect failed final=true", "ack")
		stored := h.call("call-4")
		assert.Equal(t, actors.CallFailed, stored.Status)
		assert.Equal(t, "Exotel refused the call: invalid request", stored.Reason)
		assert.Empty(t, h.sb.Calls())
	})
}

func TestSkipsClosedCallsAndDeadLettersStrangers(t *testing.T) {
	h := newHarness(t, setup{manual: true})
	h.start("call-c", custOK)
	_, err := call.Ask(h.calls, "call-c", call.ConnectFailed{Reason: "canceled by the test", Final: true}, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, h.q.Publish(context.Background(), actors.OutboundJob{Kind: actors.JobCallConnect, MessageID: "call-unknown",
		CallID: "call-unknown", EnqueuedAt: time.Now()}))
	require.NoError(t, h.q.Publish(context.Background(), actors.OutboundJob{MessageID: "msg-1", EnqueuedAt: time.Now()}))
	h.runSender()

	h.waitSettled("call-c")
	requireBefore(t, h.j, "call-c", "begin skip", "ack")
	h.waitSettled("call-unknown")
	assert.True(t, h.j.has("call-unknown", "dead call not found"), "%v", h.j.of("call-unknown"))
	h.waitSettled("msg-1")
	assert.True(t, h.j.has("msg-1", "dead not a call.connect job"))
	assert.Empty(t, h.sb.Calls())
}

func TestNewChecksOptions(t *testing.T) {
	_, err := callsender.New(callsender.Options{})
	require.Error(t, err)
	for _, want := range []string{"consumer", "client", "directory", "logger"} {
		assert.Contains(t, err.Error(), want)
	}
}
