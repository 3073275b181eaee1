// Package redisbus carries the engine's events between nodes through
// Redis, so an agent connected to one node sees the conversations another
// node runs, and keeps who is online cluster-wide.
//
// Relay: every node's conversations publish to their node-local
// actors.Bus; the relay subscribes to it for actors.SocketEvents and
// appends each event to one Redis stream (XADD, MAXLEN ~ Options.MaxLen).
// Each node reads the stream from its end as of Run (XREAD, blocking) and
// publishes every entry, its own included, to the bus Delivered, with the
// entry's id as the event's Cursor. Agent sockets and the assigner
// subscribe there. A stream rather than pub/sub because it gives one
// order for the whole cluster, an id per event that a socket can resume
// after (Replay reads what followed a cursor), and it survives a reader's
// reconnect: a node whose connection to Redis breaks resumes from the last
// entry it delivered. Own events take the same path as the others (rather
// than being delivered locally at once and never echoed) so that every
// frame a socket gets has a cursor and all nodes see one order.
// agent.requested is not relayed: it stays on the local bus, answered by
// the node that asked (Subscribe routes each type to its bus).
//
// Guarantees of the relay:
//   - Order: the events of one publisher (one conversation actor) are
//     delivered on every node in the order published: one writer goroutine
//     appends in queue order, one reader delivers in stream order.
//   - Once: an event is delivered once per node. A batch written again
//     after an error may repeat entries in the stream; readers and Replay
//     drop them by their node's sequence number.
//   - Non-blocking: Publish never waits; its queue is bounded
//     (Options.QueueSize). While Redis fails, writes are retried with
//     backoff and events wait in the queue; a full queue drops the event,
//     counted (Dropped) and logged at Error. At shutdown what is queued is
//     written for at most five seconds.
//   - Flush: Flush returns once every event published before it is in the
//     stream (a marker goes through the queue behind them), so a node that
//     dies after Flush has lost none of them; the conversation actors
//     flush before they answer a command that published (Deps.FlushEvents).
//     While writing fails it answers ErrRelayFailing at once. Its cost
//     (BenchmarkPublishAndFlush, loopback Redis, this 2-core machine
//     shared with other work, 2026-12-06): 81 µs for one event published
//     and flushed at a time, 13 µs each when 64 publishers flush at once
//     (their markers share XADD batches).
//   - Replay: Replay returns the events after a cursor up to the stream's
//     end, or actors.ErrCursorExpired when some may have been trimmed (the
//     cursor is before the first entry kept and entries were removed) or
//     the cursor is past the stream's last entry (never handed out).
//   - Retention: the stream keeps about Options.MaxLen events (100,000 by
//     default: minutes of a busy engine). A reader that lags further than
//     that behind the writers (a node stalled that long) misses the
//     trimmed events. It finds out once it has caught up with the stream's
//     end (entries-added against what it read: checked when a read finds
//     nothing new, and every five seconds while busy), counts them (Lost)
//     and calls Options.OnLost (the engine closes its sockets, which
//     resume and are told to reload).
//
// Presence: each node keeps, in a Redis hash of its own, the count of each
// user's active sockets on it, rewritten at every change and every
// heartbeat with a TTL, and lists itself with its heartbeat time in a
// sorted set; a change is announced on a pub/sub channel. Every node
// computes the union of the live nodes' hashes (its own from memory) and
// tells the assigner who came online and who went offline cluster-wide. A
// node that dies stops heartbeating: its hash expires, it drops out of the
// set after the TTL, and its users go offline unless they are connected
// elsewhere. While Redis fails, the last view of the other nodes is kept
// and local changes are applied at once.
//
// The relay and presence are safe for concurrent use.
package redisbus
