// Package memqueue is the in-process outbound queue the engine uses when no
// RabbitMQ is configured: the same semantics as package rabbitqueue (both
// pass the contract suite in package queuetest), kept in this process's
// memory.
//
// It is not durable: Close or a crash loses every queued, delayed,
// unsettled and dead job. The engine's store is the durable record, and at
// start-up the engine re-publishes the messages still marked queued, so a
// restart loses no send (at least once; the sender drops repeats by
// MessageID). Dead letters are lost on restart.
//
// Guarantees:
//
//   - Ordering: highest priority first (priorities above MaxPriority count
//     as MaxPriority), FIFO within a priority. A retried job joins the back
//     of its priority when its delay ends; a redelivered job goes back to
//     the front, in the order it was first delivered.
//   - Publish is all or nothing: nil means queued, any error (ErrFull,
//     ErrClosed, an ended ctx) means nothing was queued. It never returns
//     actors.ErrPublishUnknown, the outcome RabbitMQ may leave unknown.
//   - Bounded: at most Capacity (default 100000) jobs ready, delayed or
//     unsettled; Publish beyond that fails with ErrFull, which wraps
//     actors.ErrUnavailable (the edge answers 503). Retry and redelivery
//     never fail for capacity: the job already holds its slot. Dead letters
//     are bounded apart by DeadCapacity (default 10000); when full the oldest
//     is dropped and logged at error level. Redrive may briefly take the
//     queue above Capacity, by at most DeadCapacity.
//   - Each Consume call holds at most Prefetch (default 64) unsettled
//     deliveries. When its ctx ends, the unsettled ones go back to the queue
//     (at least once) and settling them later fails with ErrDeliveryLost.
//   - Exactly one of Ack, Retry, Hold or DeadLetter succeeds per delivery; later
//     calls return ErrSettled. Retry waits delay on a real timer (a single
//     goroutine owned by the Queue serves every delay) and brings the job
//     back with Attempt+1 and LastError; on the MaxAttempts-th attempt
//     (default 8) it dead-letters with reason "attempts exhausted (n of
//     max): <reason>" and reports true.
//   - ListDeadLetters returns copies, oldest first; Redrive moves the
//     matching dead letters to the back of their priority with Attempt 1.
//   - Every method is safe for concurrent use. Close discards everything,
//     ends Consume calls with ErrClosed (later calls fail with ErrClosed,
//     which wraps actors.ErrUnavailable) and stops the timer goroutine; it
//     is safe to call twice.
package memqueue
