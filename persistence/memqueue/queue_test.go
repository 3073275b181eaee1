package memqueue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/memqueue"
	"github.com/wacc/engine/persistence/queuetest"
)

var _ queuetest.Queue = (*memqueue.Queue)(nil)

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Queue {
		q := memqueue.New(memqueue.Options{Prefetch: queuetest.Prefetch, MaxAttempts: queuetest.MaxAttempts})
		t.Cleanup(func() { _ = q.Close() })
		return q
	})
}

func job(id string, priority uint8) actors.OutboundJob {
	return actors.OutboundJob{MessageID: id, ConversationID: "c", Priority: priority, Body: []byte(`{}`)}
}

// consume runs Consume until the test ends and returns its deliveries.
func consume(t *testing.T, q *memqueue.Queue) (<-chan actors.Delivery, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan actors.Delivery, 1024)
	done := make(chan error, 1)
	go func() { done <- q.Consume(ctx, func(d actors.Delivery) { out <- d }) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return out, stop
}

func next(t *testing.T, ch <-chan actors.Delivery) actors.Delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
		return nil
	}
}

func TestCapacity(t *testing.T) {
	ctx := context.Background()
	q := memqueue.New(memqueue.Options{Capacity: 3, Prefetch: 1})
	t.Cleanup(func() { _ = q.Close() })

	for i := range 3 {
		require.NoError(t, q.Publish(ctx, job(fmt.Sprint(i), 1)))
	}
	err := q.Publish(ctx, job("overflow", 1))
	require.ErrorIs(t, err, memqueue.ErrFull)
	require.ErrorIs(t, err, actors.ErrUnavailable, "the edge answers 503")

	deliveries, _ := consume(t, q)
	d := next(t, deliveries)
	// Delivered but unsettled jobs still count; a retry keeps its slot.
	require.ErrorIs(t, q.Publish(ctx, job("overflow", 1)), memqueue.ErrFull)
	_, err = d.Retry(time.Hour, "later")
	require.NoError(t, err)
	require.ErrorIs(t, q.Publish(ctx, job("overflow", 1)), memqueue.ErrFull)

	d = next(t, deliveries)
	require.NoError(t, d.Ack())
	require.NoError(t, q.Publish(ctx, job("fits", 1)), "an ack frees a slot")
}

func TestDeadCapacityDropsOldest(t *testing.T) {
	ctx := context.Background()
	core, logs := observer.New(zap.ErrorLevel)
	q := memqueue.New(memqueue.Options{DeadCapacity: 2, Logger: zap.New(core)})
	t.Cleanup(func() { _ = q.Close() })
	deliveries, _ := consume(t, q)
	for _, id := range []string{"a", "b", "c"} {
		require.NoError(t, q.Publish(ctx, job(id, 1)))
		require.NoError(t, next(t, deliveries).DeadLetter("bad "+id))
	}
	dead, err := q.ListDeadLetters(ctx, 10)
	require.NoError(t, err)
	require.Len(t, dead, 2)
	assert.Equal(t, "b", dead[0].Job.MessageID)
	assert.Equal(t, "c", dead[1].Job.MessageID)
	require.Equal(t, 1, logs.FilterMessageSnippet("dead letter dropped").Len())
}

func TestPriorityAboveMaxIsDeliveredAsMax(t *testing.T) {
	ctx := context.Background()
	q := memqueue.New(memqueue.Options{MaxPriority: 5})
	t.Cleanup(func() { _ = q.Close() })
	require.NoError(t, q.Publish(ctx, job("five", 5)))
	require.NoError(t, q.Publish(ctx, job("nine", 9)))
	require.NoError(t, q.Publish(ctx, job("one", 1)))
	deliveries, _ := consume(t, q)
	var got []string
	for range 3 {
		d := next(t, deliveries)
		got = append(got, d.Job().MessageID)
		require.NoError(t, d.Ack())
	}
	assert.Equal(t, []string{"five", "nine", "one"}, got, "9 is capped to 5 and queued behind the earlier 5")
	assert.Equal(t, uint8(9), job("nine", 9).Priority)
}

func TestRequeueKeepsDeliveryOrderAtTheFront(t *testing.T) {
	ctx := context.Background()
	q := memqueue.New(memqueue.Options{Prefetch: 3})
	t.Cleanup(func() { _ = q.Close() })
	for _, id := range []string{"a", "b", "c", "d"} {
		require.NoError(t, q.Publish(ctx, job(id, 1)))
	}
	first, stop := consume(t, q)
	da := next(t, first)
	next(t, first)
	next(t, first)
	require.NoError(t, da.Ack())
	next(t, first) // d fills the freed slot
	stop()

	second, _ := consume(t, q)
	var got []string
	for range 3 {
		d := next(t, second)
		got = append(got, d.Job().MessageID)
		require.NoError(t, d.Ack())
	}
	assert.Equal(t, []string{"b", "c", "d"}, got)
}

func TestStaleDeliveryAndClose(t *testing.T) {
	ctx := context.Background()
	q := memqueue.New(memqueue.Options{})
	require.NoError(t, q.Publish(ctx, job("a", 1)))
	deliveries, stop := consume(t, q)
	d := next(t, deliveries)
	stop()
	require.ErrorIs(t, d.Ack(), memqueue.ErrDeliveryLost)
	_, err := d.Retry(0, "x")
	require.ErrorIs(t, err, memqueue.ErrDeliveryLost)

	deliveries, stop = consume(t, q)
	d = next(t, deliveries)
	require.NoError(t, d.Ack())
	require.ErrorIs(t, d.Ack(), memqueue.ErrSettled)
	stop()

	require.NoError(t, q.Close())
	require.NoError(t, q.Close())
	err = q.Publish(ctx, job("b", 1))
	require.ErrorIs(t, err, memqueue.ErrClosed)
	require.ErrorIs(t, err, actors.ErrUnavailable)
	require.ErrorIs(t, q.Consume(ctx, func(actors.Delivery) {}), memqueue.ErrClosed)
	_, err = q.Redrive(ctx, nil)
	require.True(t, errors.Is(err, memqueue.ErrClosed))
}

func TestPublishCopiesBody(t *testing.T) {
	ctx := context.Background()
	q := memqueue.New(memqueue.Options{})
	t.Cleanup(func() { _ = q.Close() })
	j := job("a", 1)
	j.Body = []byte(`{"a":1}`)
	require.NoError(t, q.Publish(ctx, j))
	j.Body[5] = '2'
	deliveries, _ := consume(t, q)
	assert.JSONEq(t, `{"a":1}`, string(next(t, deliveries).Job().Body))
}

func TestCloseEndsRunningConsume(t *testing.T) {
	q := memqueue.New(memqueue.Options{})
	done := make(chan error, 1)
	go func() { done <- q.Consume(context.Background(), func(actors.Delivery) {}) }()
	require.NoError(t, q.Publish(context.Background(), job("a", 1)))
	require.NoError(t, q.Close())
	select {
	case err := <-done:
		require.ErrorIs(t, err, memqueue.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("consume still running after close")
	}
}
