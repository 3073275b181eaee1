// Package rabbitqueue is the durable outbound queue on RabbitMQ: the engine
// publishes every outbound WhatsApp message here and the sender drains it.
// It passes the same contract suite (package queuetest) as the in-process
// queue, package memqueue.
//
// Topology, declared idempotently by New, after every reconnect and before
// every consumer starts (all durable, on one durable direct exchange,
// default "engine.direct", each queue bound with its own name as routing
// key):
//
//	<name>             main queue: x-max-priority (default 9); a message the
//	                   consumer rejects dead-letters to <name>.dead
//	<name>.retry.<ms>  one delay queue per tier: x-message-ttl <ms>, expired
//	                   messages dead-letter back to <name>
//	<name>.dead        dead letters, kept until redriven or purged
//
// Default delay tiers: 1s, 5s, 15s, 1m, 5m, 15m, 1h (Options.DelayTiers).
// Retry rounds its delay up to the next tier, so a job comes back no sooner
// than asked, and at most one tier step later; a delay above 1h waits 1h
// (logged at warn). A delay <= 0 goes straight back to the main queue.
//
// Messages are persistent, the JSON of actors.OutboundJob, with MessageId =
// job.MessageID and priority = job.Priority (capped at MaxPriority). Dead
// letters carry the job with LastError = reason, plus the headers
// engine-dead-reason and engine-dead-at (RFC 3339), so the dead queue can be
// shovelled back to the main queue by hand.
//
// Guarantees:
//
//   - Publish returns nil only after the broker confirmed the message
//     (publisher confirms on a dedicated channel) and did not return it as
//     unroutable (mandatory publishing; ErrUnroutable). A publish not
//     confirmed within PublishTimeout (default 5s) or before ctx ends fails.
//     Every failure that the edge should answer with 503 wraps
//     actors.ErrUnavailable. A failure tells whether the job may be queued:
//     ErrOutcomeUnknown (actors.ErrPublishUnknown) when a publish reached
//     the broker and its confirm never came (lost with the connection, or
//     still awaited at the deadline), so the broker may deliver it; any
//     other error (never sent, ErrNacked, ErrUnroutable, ErrClosed before
//     sending) means it was surely not queued. After an ErrUnroutable the
//     topology is declared again at once (the queue or binding someone
//     deleted comes back), so the publishes after it are routed.
//   - Lost connection: one goroutine per Queue reconnects with doubling
//     backoff (ReconnectMin..ReconnectMax), re-declares the topology and
//     reopens the publisher channel. Publish during an outage waits for the
//     reconnect (bounded as above) and publishes again; when its outcome on
//     the dead connection was unknown the job may end up queued twice.
//   - Blocked connection (a memory or disk alarm on the broker): the
//     broker sends connection.blocked once the connection publishes during
//     the alarm and stops reading it. Every (re)connected connection
//     follows connection.blocked/unblocked (logged at warn with the
//     broker's reason, and at info); while blocked, Publish (and Retry,
//     DeadLetter, Redrive) fail at once with ErrBlocked, sending nothing
//     (surely not queued; it wraps actors.ErrUnavailable, the edge's 503),
//     Ping fails with ErrBlocked (so /readyz names rabbitmq), and Blocked
//     reports it. A publish written before the block came waits for its
//     confirm as usual (ErrOutcomeUnknown if it does not come in time).
//     Consumers share the connection, so their acks wait for the unblock.
//   - Delivery is at least once. Consume uses manual acks with
//     basic.qos(Prefetch) per Consume call, so at most Prefetch deliveries
//     are unsettled. Consume reopens its channel after a loss and carries
//     on; the deliveries of the dead channel fail to settle with
//     ErrDeliveryLost and the broker delivers them again, with the same
//     Attempt (only the AMQP redelivered flag differs, and it is not
//     exposed). An Ack is not confirmed by the broker, so a job acked just
//     before a connection loss can also come again. The sender must make
//     repeated deliveries harmless by MessageID (it does: an outcome once
//     recorded is never sent again).
//   - Retry and DeadLetter publish (confirmed) the copy first and ack the
//     original second: a failure between the two leaves the job twice,
//     never nowhere. On an error before the copy is confirmed the delivery
//     stays unsettled. Exactly one settle succeeds; later ones return
//     ErrSettled, never a second ack (which would kill the channel).
//   - Retry on a job whose Attempt is MaxAttempts (default 8) dead-letters it
//     with reason "attempts exhausted (n of max): <reason>" and reports true.
//   - Ordering: highest priority first, FIFO within a priority for jobs
//     queued together; a retried job joins the back of its priority when its
//     delay ends; a redelivered job goes back to (about) its old place.
//   - ListDeadLetters and Redrive are operator tools, one round trip per dead
//     letter (basic.get), not for hot paths. ListDeadLetters peeks: it gets
//     up to limit without acking and nacks them back in order. Redrive scans
//     the dead queue once and moves matching jobs to the main queue with
//     Attempt 1 (publish confirmed, then ack). Dead letters held by a
//     concurrent list or redrive are invisible to the other.
//   - A message in the main queue that is not an OutboundJob is rejected to
//     the dead queue (listed with reason "dead-lettered by broker:
//     rejected (undecodable job: ...)"), never handed to the consumer; Redrive
//     leaves it there.
//   - Ping is the readiness probe: it fails at once while the connection is
//     being re-established, and otherwise makes one round trip on the live
//     connection (a passive declare of the main queue on a channel of its
//     own), bounded by its ctx. It never waits for a reconnect.
//   - Every method is safe for concurrent use. Close stops the reconnect
//     goroutine and closes the connection (unsettled deliveries return to
//     the queue); it is safe to call twice.
package rabbitqueue
