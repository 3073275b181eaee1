// Package queuetest is the contract suite every outbound queue must pass:
// the in-process queue (memqueue) and the RabbitMQ queue (rabbitqueue) run
// the same suite from their own tests:
//
//	func TestContract(t *testing.T) {
//		queuetest.Run(t, func(t *testing.T) queuetest.Queue {
//			q := memqueue.New(memqueue.Options{
//				Prefetch:    queuetest.Prefetch,
//				MaxAttempts: queuetest.MaxAttempts,
//			})
//			t.Cleanup(func() { _ = q.Close() })
//			return q
//		})
//	}
//
// What the suite pins down, beyond the method comments in package actors:
//
//   - Every case gets a fresh, empty queue from open; open registers its own
//     cleanup and builds the queue with [Prefetch] and [MaxAttempts].
//   - Publish → Consume → Ack delivers a job exactly once, with every field
//     intact and Attempt 1 (a zero Attempt is published as 1); a second
//     settle of the same delivery fails.
//   - Jobs queued before a consumer starts come highest priority first,
//     FIFO within a priority.
//   - One Consume call never holds more than Prefetch unsettled deliveries,
//     and does reach Prefetch when enough jobs wait.
//   - A delivery left unsettled when its Consume call ends comes back, with
//     the same Attempt, to the next consumer; settling the stale delivery
//     fails.
//   - Retry(delay, reason) brings the job back no sooner than delay, with
//     Attempt+1 and LastError = reason, while other jobs flow meanwhile.
//   - Retry on the MaxAttempts-th attempt dead-letters and reports true; the
//     dead letter keeps the job (Attempt = MaxAttempts) and a reason
//     containing the last reason.
//   - DeadLetter, ListDeadLetters (oldest first, limit respected, a peek that
//     removes nothing) and Redrive (by message ids or all; unknown ids are
//     ignored; redriven jobs come again with Attempt 1).
//   - 1000 jobs published from 8 goroutines are all consumed exactly once.
//   - A failed publish queued nothing unless its error wraps
//     actors.ErrPublishUnknown: one whose ctx had ended fails with the
//     ctx's error before sending anything, and is not "unknown".
//   - Close is safe twice; afterwards Publish fails with
//     actors.ErrUnavailable (not unknown) and Consume returns an error.
//
// "Exactly once" and "nothing else" are checked without sleeping: after the
// check the case publishes a sentinel job and starts a fresh consumer; a job
// that was wrongly kept would be delivered before the sentinel.
//
// The package is a normal (non-test) package so other packages' tests can
// import it; it imports testing and testify and must never be imported by
// production code.
package queuetest
