package callsender_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	sandbox "github.com/wacc/engine/gateway/sandbox/exotel"
	"github.com/wacc/engine/persistence/rabbitqueue"
	"github.com/wacc/engine/persistence/servicetest"
)

// rabbitQueue opens a RabbitMQ queue of its own (a unique name under
// exotel.outbound) with short delay tiers, and deletes it at cleanup.
func rabbitQueue(maxAttempts int) func(t *testing.T) queue {
	return func(t *testing.T) queue {
		t.Helper()
		brokerURL := servicetest.RabbitURL(t)
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		tiers := []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, time.Second, 3 * time.Second}
		opts := rabbitqueue.Options{Name: "test.exotel.outbound." + hex.EncodeToString(b), MaxAttempts: maxAttempts, DelayTiers: tiers,
			ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q, err := rabbitqueue.New(ctx, brokerURL, opts, zaptest.NewLogger(t))
		require.NoError(t, err)
		t.Cleanup(func() {
			require.NoError(t, q.Close())
			conn, err := amqp.Dial(brokerURL)
			require.NoError(t, err)
			defer conn.Close()
			ch, err := conn.Channel()
			require.NoError(t, err)
			names := []string{opts.Name, opts.Name + ".dead"}
			for _, tier := range tiers {
				names = append(names, fmt.Sprintf("%s.retry.%d", opts.Name, tier.Milliseconds()))
			}
			for _, n := range names {
				_, err := ch.QueueDelete(n, false, false, false)
				require.NoError(t, err, "delete queue %s", n)
			}
		})
		return q
	}
}

func TestRabbitRetriesThenPlacesOnce(t *testing.T) {
	h := newHarness(t, setup{queue: rabbitQueue(5)})
	h.sb.ArmFault(sandbox.FaultUnavailable, 2)
	h.start("call-rr", custOK)
	h.waitSettled("call-rr")
	placed := h.sb.CallsTo(custOK)
	require.Len(t, placed, 1)
	assert.Equal(t, placed[0].Sid, h.call("call-rr").ExotelSid)
	requireBefore(t, h.j, "call-rr", "retry http 503", "connected ")
}

func TestRabbitDeadLettersAndClosesTheCall(t *testing.T) {
	h := newHarness(t, setup{queue: rabbitQueue(2)})
	h.sb.ArmFault(sandbox.FaultUnavailable, 10)
	h.start("call-rd", custOK)
	h.waitSettled("call-rd")
	c := h.waitClosed("call-rd")
	assert.Equal(t, actors.StateClosed, c.State)
	assert.Equal(t, "dead-lettered: http 503 SERVICE_UNAVAILABLE", c.Reason)
	require.Eventually(t, func() bool {
		dls, err := h.q.ListDeadLetters(context.Background(), 10)
		return err == nil && len(dls) == 1 && dls[0].Job.CallID == "call-rd" && dls[0].Job.Kind == actors.JobCallConnect
	}, waitFor, tick)
	assert.Empty(t, h.sb.Calls())
}

// TestRabbitConnectTimeoutPlacesOnce: the 0009 call through RabbitMQ,
// with its holds going through the delay queues.
func TestRabbitConnectTimeoutPlacesOnce(t *testing.T) {
	h := newHarness(t, setup{queue: rabbitQueue(5)})
	h.start("call-rt", custTimeout)
	h.waitSettled("call-rt")
	placed := h.sb.CallsTo(custTimeout)
	require.Len(t, placed, 1)
	assert.Equal(t, placed[0].Sid, h.call("call-rt").ExotelSid)
}
