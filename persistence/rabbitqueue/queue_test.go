package rabbitqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/queuetest"
	"github.com/wacc/engine/persistence/servicetest"
)

var _ queuetest.Queue = (*Queue)(nil)

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Queue {
		q, _ := openQueue(t, "", Options{Prefetch: queuetest.Prefetch, MaxAttempts: queuetest.MaxAttempts})
		return q
	})
}

func TestTierFor(t *testing.T) {
	topo := newTopology(Options{Name: "q", DelayTiers: DefaultDelayTiers})
	cases := []struct {
		name    string
		delay   time.Duration
		tier    time.Duration
		clamped bool
	}{
		{name: "below the first tier rounds up to it", delay: time.Millisecond, tier: time.Second},
		{name: "exactly a tier stays", delay: 5 * time.Second, tier: 5 * time.Second},
		{name: "just above a tier rounds up to the next", delay: 5*time.Second + time.Millisecond, tier: 15 * time.Second},
		{name: "the last tier stays", delay: time.Hour, tier: time.Hour},
		{name: "above the last tier is clamped to it", delay: 3 * time.Hour, tier: time.Hour, clamped: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tier, clamped := topo.tierFor(c.delay)
			assert.Equal(t, c.tier, tier)
			assert.Equal(t, c.clamped, clamped)
		})
	}
	assert.Equal(t, "q.retry.15000", topo.retryQueue(15*time.Second))
}

func TestOptionsRejectBadValues(t *testing.T) {
	cases := []struct {
		name string
		opts Options
	}{
		{name: "prefetch above uint16", opts: Options{Prefetch: 70000}},
		{name: "negative max attempts", opts: Options{MaxAttempts: -1}},
		{name: "backoff min above max", opts: Options{ReconnectMin: time.Second, ReconnectMax: time.Millisecond}},
		{name: "tier not whole milliseconds", opts: Options{DelayTiers: []time.Duration{1500 * time.Microsecond}}},
		{name: "tiers not ascending", opts: Options{DelayTiers: []time.Duration{time.Minute, time.Second}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(context.Background(), "amqp://127.0.0.1:1/", c.opts, zap.NewNop())
			require.ErrorContains(t, err, "rabbitqueue options")
		})
	}
}

func TestNewFailsFastOnConflictingQueue(t *testing.T) {
	ch := admin(t)
	name := testName(t)
	_, err := ch.QueueDeclare(name, true, false, false, false, amqp.Table{"x-max-priority": int32(3)})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = ch.QueueDelete(name, false, false, false) })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = New(ctx, servicetest.RabbitURL(t), testOptions(t, Options{Name: name}), zap.NewNop())
	require.Error(t, err)
	assert.ErrorContains(t, err, "PRECONDITION_FAILED")
	assert.Less(t, time.Since(start), 5*time.Second, "a clashing queue is not retried")
}

func TestNewGivesUpWhenBrokerUnreachable(t *testing.T) {
	p, proxyURL := startProxy(t)
	p.Cut()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := New(ctx, proxyURL, testOptions(t, Options{}), zap.NewNop())
	require.ErrorIs(t, err, actors.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// consumeInto runs Consume until cleanup, sending deliveries to the channel.
func consumeInto(t *testing.T, q *Queue) <-chan actors.Delivery {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan actors.Delivery, 4096)
	done := make(chan error, 1)
	go func() { done <- q.Consume(ctx, func(d actors.Delivery) { out <- d }) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return out
}

func next(t *testing.T, deliveries <-chan actors.Delivery) actors.Delivery {
	t.Helper()
	select {
	case d := <-deliveries:
		return d
	case <-time.After(15 * time.Second):
		t.Fatal("no delivery within 15s")
		return nil
	}
}

func testJob(id string) actors.OutboundJob {
	return actors.OutboundJob{MessageID: id, ConversationID: "conv", Priority: actors.PriorityBulk, Body: json.RawMessage(`{}`)}
}

func TestPublishDuringBrokerSideClose(t *testing.T) {
	q, logs := openQueue(t, "", Options{PublishTimeout: 3 * time.Second})
	ctx := context.Background()

	// Publishers run until stopped, so they are busy before, during and
	// after the close.
	const publishers = 4
	var mu sync.Mutex
	var ok, failed []string
	var stopped atomic.Bool
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := 0; !stopped.Load(); i++ {
				id := fmt.Sprintf("g%d-%05d", p, i)
				err := q.Publish(ctx, testJob(id))
				mu.Lock()
				if err == nil {
					ok = append(ok, id)
				} else {
					failed = append(failed, id)
					assert.ErrorIs(t, err, actors.ErrUnavailable)
				}
				mu.Unlock()
			}
		})
	}
	defer wg.Wait()
	defer stopped.Store(true)
	succeeded := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(ok)
	}
	require.Eventually(t, func() bool { return succeeded() >= 40 }, 15*time.Second, 5*time.Millisecond)
	closeBrokerSide(t, q)
	require.Eventually(t, func() bool { return logs.FilterMessage("outbound queue reconnected").Len() == 1 },
		15*time.Second, 5*time.Millisecond, "the close must be noticed")
	okAtReconnect := succeeded()
	require.Eventually(t, func() bool { return succeeded() >= okAtReconnect+40 }, 15*time.Second, 5*time.Millisecond,
		"publishing resumes after the reconnect")
	stopped.Store(true)
	wg.Wait()
	t.Logf("published %d, failed %d, %d publishes repeated on the new connection",
		len(ok), len(failed), logs.FilterMessage("publish interrupted by lost connection").Len())

	// Every publish reported as successful must be in the queue.
	deliveries := consumeInto(t, q)
	seen := make(map[string]int)
	missing := func() int {
		n := 0
		for _, id := range ok {
			if seen[id] == 0 {
				n++
			}
		}
		return n
	}
	deadline := time.After(20 * time.Second)
	for missing() > 0 {
		select {
		case d := <-deliveries:
			seen[d.Job().MessageID]++
			require.NoError(t, d.Ack())
		case <-deadline:
			t.Fatalf("%d confirmed jobs never arrived", missing())
		}
	}
}

func TestConsumeResumesAfterBrokerSideClose(t *testing.T) {
	q, logs := openQueue(t, "", Options{})
	ctx := context.Background()
	deliveries := consumeInto(t, q)

	require.NoError(t, q.Publish(ctx, testJob("a")))
	require.NoError(t, next(t, deliveries).Ack())
	require.NoError(t, q.Publish(ctx, testJob("b")))
	held := next(t, deliveries)
	require.Equal(t, "b", held.Job().MessageID)

	closeBrokerSide(t, q)
	require.Eventually(t, func() bool { return logs.FilterMessage("outbound queue reconnected").Len() == 1 },
		15*time.Second, 10*time.Millisecond)
	require.ErrorIs(t, held.Ack(), ErrDeliveryLost, "the old channel is gone")
	_, err := held.Retry(0, "x")
	require.ErrorIs(t, err, ErrDeliveryLost)

	again := next(t, deliveries)
	require.Equal(t, "b", again.Job().MessageID, "unacked job redelivered after the reconnect")
	require.Equal(t, 1, again.Job().Attempt)
	require.NoError(t, again.Ack())

	require.NoError(t, q.Publish(ctx, testJob("c")))
	d := next(t, deliveries)
	require.Equal(t, "c", d.Job().MessageID)
	require.NoError(t, d.Ack())
}

func TestPublishDuringOutage(t *testing.T) {
	p, proxyURL := startProxy(t)
	const timeout = 700 * time.Millisecond
	q, _ := openQueue(t, proxyURL, Options{PublishTimeout: timeout})
	ctx := context.Background()
	deliveries := consumeInto(t, q)
	require.NoError(t, q.Publish(ctx, testJob("before")))
	require.NoError(t, next(t, deliveries).Ack())

	p.Cut()
	require.Eventually(t, func() bool { // the supervisor saw the loss: nothing is written during the outage
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.cur == nil
	}, 5*time.Second, 10*time.Millisecond)
	start := time.Now()
	err := q.Publish(ctx, testJob("during"))
	elapsed := time.Since(start)
	require.ErrorIs(t, err, actors.ErrUnavailable)
	require.NotErrorIs(t, err, actors.ErrPublishUnknown, "a publish that never reached the broker surely queued nothing")
	assert.GreaterOrEqual(t, elapsed, timeout, "publish waits for a reconnect first")
	assert.Less(t, elapsed, timeout+2*time.Second)

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, q.Publish(short, testJob("short")), context.DeadlineExceeded, "the caller's ctx bounds the wait too")

	p.Restore()
	require.NoError(t, q.Publish(ctx, testJob("after")), "publish waits for the reconnect")
	for {
		d := next(t, deliveries)
		id := d.Job().MessageID
		require.NoError(t, d.Ack())
		if id == "after" {
			break
		}
		// "before" may come again: its ack can be lost in the cut.
		require.Equal(t, "before", id, "a failed publish must not be queued")
	}
}

func TestUnconfirmedPublishTimesOut(t *testing.T) {
	p, proxyURL := startProxy(t)
	const timeout = 500 * time.Millisecond
	q, _ := openQueue(t, proxyURL, Options{PublishTimeout: timeout})
	ctx := context.Background()

	p.Freeze()
	start := time.Now()
	err := q.Publish(ctx, testJob("frozen"))
	require.ErrorIs(t, err, actors.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, ErrOutcomeUnknown, "the publish reached the socket: the broker may have it")
	require.ErrorIs(t, err, actors.ErrPublishUnknown)
	assert.GreaterOrEqual(t, time.Since(start), timeout)
	p.Thaw()

	require.NoError(t, q.Publish(ctx, testJob("thawed")))
	// The unconfirmed publish was queued after all: that is why its
	// outcome is unknown, not failed.
	deliveries := consumeInto(t, q)
	got := map[string]bool{}
	for len(got) < 2 {
		d := next(t, deliveries)
		got[d.Job().MessageID] = true
		require.NoError(t, d.Ack())
	}
	require.Equal(t, map[string]bool{"frozen": true, "thawed": true}, got)
}

func TestPublishLostWithConnectionIsUnknown(t *testing.T) {
	p, proxyURL := startProxy(t)
	const timeout = 600 * time.Millisecond
	q, _ := openQueue(t, proxyURL, Options{PublishTimeout: timeout, ReconnectMin: time.Minute, ReconnectMax: time.Minute})
	ctx := context.Background()

	// Written, then the connection dies before the confirm, and no
	// reconnect comes in time.
	p.Freeze()
	errc := make(chan error, 1)
	go func() { errc <- q.Publish(ctx, testJob("cut")) }()
	time.Sleep(100 * time.Millisecond)
	p.Cut()
	err := <-errc
	require.ErrorIs(t, err, actors.ErrPublishUnknown)
	require.ErrorIs(t, err, actors.ErrUnavailable)

	// Refused by the broker, not unknown: unroutable.
	q2, _ := openQueue(t, "", Options{})
	require.NoError(t, admin(t).QueueUnbind(q2.topo.main, q2.topo.main, q2.topo.exchange, nil))
	err = q2.Publish(ctx, testJob("unroutable"))
	require.ErrorIs(t, err, ErrUnroutable)
	require.NotErrorIs(t, err, actors.ErrPublishUnknown)
}

func TestUnroutablePublishIsAnError(t *testing.T) {
	q, _ := openQueue(t, "", Options{})
	ctx := context.Background()
	require.NoError(t, admin(t).QueueUnbind(q.topo.main, q.topo.main, q.topo.exchange, nil))

	err := q.Publish(ctx, testJob("lost"))
	require.ErrorIs(t, err, ErrUnroutable)
	require.ErrorIs(t, err, actors.ErrUnavailable)

	// The binding was declared again: the next publish is routed.
	require.NoError(t, q.Publish(ctx, testJob("rebound")))
	d := next(t, consumeInto(t, q))
	require.Equal(t, "rebound", d.Job().MessageID, "the unroutable job was not queued")
	require.NoError(t, d.Ack())

	// A concurrent routable publish on the same channel is not confused
	// with the returned one (a key nothing is bound to stays unroutable).
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			key := "test.unbound." + q.topo.main
			if i%2 == 0 {
				key = q.topo.dead
			}
			errs[i] = q.publish(ctx, key, testJob(fmt.Sprint(i)), nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 0 {
			assert.NoError(t, err, "publish %d to the bound dead queue", i)
		} else {
			assert.ErrorIs(t, err, ErrUnroutable, "publish %d to an unbound key", i)
		}
	}
}

func TestUndecodableJobIsRejectedToDeadQueue(t *testing.T) {
	q, _ := openQueue(t, "", Options{})
	ctx := context.Background()
	ch := admin(t)
	require.NoError(t, ch.PublishWithContext(ctx, q.topo.exchange, q.topo.main, true, false, amqp.Publishing{
		MessageId: "garbage-1", DeliveryMode: amqp.Persistent, Body: []byte("not json"),
	}))
	deliveries := consumeInto(t, q)
	require.NoError(t, q.Publish(ctx, testJob("good")))
	d := next(t, deliveries)
	require.Equal(t, "good", d.Job().MessageID, "the undecodable message is never handed out")
	require.NoError(t, d.Ack())

	var dead []actors.DeadLetter
	require.Eventually(t, func() bool {
		var err error
		dead, err = q.ListDeadLetters(ctx, 10)
		return err == nil && len(dead) == 1
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, "garbage-1", dead[0].Job.MessageID)
	assert.Contains(t, dead[0].Reason, "rejected")
	assert.False(t, dead[0].At.IsZero())

	moved, err := q.Redrive(ctx, nil)
	require.NoError(t, err)
	assert.Zero(t, moved, "an undecodable dead letter stays where it is")
}

func TestRetryUsesDelayTier(t *testing.T) {
	q, _ := openQueue(t, "", Options{DelayTiers: []time.Duration{300 * time.Millisecond, 2 * time.Second}})
	ctx := context.Background()
	deliveries := consumeInto(t, q)
	require.NoError(t, q.Publish(ctx, testJob("r")))
	d := next(t, deliveries)

	start := time.Now()
	_, err := d.Retry(301*time.Millisecond, "slow down")
	require.NoError(t, err)
	d = next(t, deliveries)
	assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "301ms rounds up to the 2s tier")
	assert.Equal(t, 2, d.Job().Attempt)
	require.NoError(t, d.Ack())

	info, err := admin(t).QueueDeclarePassive(q.topo.retryQueue(2*time.Second), true, false, false, false, nil)
	require.NoError(t, err)
	assert.Zero(t, info.Messages)
}

func TestCloseEndsRunningConsume(t *testing.T) {
	q, _ := openQueue(t, "", Options{})
	ctx := context.Background()
	require.NoError(t, q.Publish(ctx, testJob("held")))
	got := make(chan actors.Delivery, 1)
	done := make(chan error, 1)
	go func() { done <- q.Consume(ctx, func(d actors.Delivery) { got <- d }) }()
	d := next(t, got)
	require.NoError(t, q.Close())
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("consume still running after close")
	}
	require.ErrorIs(t, d.Ack(), ErrDeliveryLost)
	require.ErrorIs(t, q.Publish(ctx, testJob("late")), ErrClosed)

	info, err := admin(t).QueueDeclarePassive(q.topo.main, true, false, false, false, nil)
	require.NoError(t, err)
	require.Equal(t, 1, info.Messages, "the unsettled job went back to the queue")
}

// TestPingFollowsTheConnection: Ping answers for the live connection: up
// while connected, an error while the broker cannot be reached or does not
// answer, up again after the reconnect, ErrClosed after Close.
func TestPingFollowsTheConnection(t *testing.T) {
	p, proxyURL := startProxy(t)
	q, _ := openQueue(t, proxyURL, Options{})
	ctx := context.Background()
	require.NoError(t, q.Ping(ctx))

	p.Cut()
	require.Eventually(t, func() bool { return errors.Is(q.Ping(ctx), actors.ErrUnavailable) }, 5*time.Second, 10*time.Millisecond,
		"down while the broker is unreachable")
	p.Restore()
	require.Eventually(t, func() bool { return q.Ping(ctx) == nil }, 15*time.Second, 20*time.Millisecond, "up after the reconnect")

	p.Freeze()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, q.Ping(short), actors.ErrUnavailable, "a broker that does not answer is down")
	p.Thaw()
	require.Eventually(t, func() bool { return q.Ping(ctx) == nil }, 15*time.Second, 20*time.Millisecond)

	require.NoError(t, q.Close())
	require.ErrorIs(t, q.Ping(ctx), ErrClosed)
}

// QueueNames names exactly what New declares: each exists on the broker
// (a passive declare fails on a missing queue), for default and own tiers.
func TestQueueNamesAreWhatNewDeclares(t *testing.T) {
	for _, tiers := range [][]time.Duration{nil, {250 * time.Millisecond, 2 * time.Second}} {
		q, _ := openQueue(t, "", Options{DelayTiers: tiers})
		names := QueueNames(Options{Name: q.opts.Name, DelayTiers: tiers})
		want := len(tiers)
		if tiers == nil {
			want = len(DefaultDelayTiers)
		}
		require.Len(t, names, 2+want)
		assert.Equal(t, q.opts.Name, names[0], "main queue first")
		ch := admin(t)
		for _, name := range names {
			_, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
			require.NoError(t, err, "queue %s was declared", name)
		}
	}
}
