// Package inbox applies durably accepted webhook bodies to conversation
// actors.
//
// Guarantees: an entry leaves the inbox only after every message and status
// in it was applied (persisted) by its conversation actor, and its
// value-level errors[] were stored for operators (WebhookErrors, with an
// error log and engine_webhook_errors_total); until then it is retried, so a
// crash after the webhook's 200 loses nothing. Applied entries are deleted
// in batches (one DELETE per completionDelay), so a crash may apply the last
// ones again, as duplicates. Entries accepted by the gateway are handed over
// in memory (Accept) with the batch parsed on acceptance and dispatched
// without being read back or parsed again; the store is read at start and
// to retry (see memory.go), and what it returns is parsed from the stored
// body. Entries are dispatched oldest first and, within a batch, in body order; each
// conversation applies what it receives in that order, so per-conversation
// order follows arrival order. The statuses a batch holds for one
// conversation are handed over together (conversation.StatusesChanged,
// applied with one store write), up to the next message for that
// conversation; if that command fails, every entry that contributed to it
// is retried. Applying twice is harmless: conversations drop
// duplicate wamids and statuses only move forward. An entry refused only by
// parked conversations (conversation.ErrParked) waits for the park to end:
// it is tried again without counting an attempt.
//
// A failed entry is retried after a growing wait (250 ms doubling to 30 s),
// so its MaxAttempts attempts span about 6.5 minutes: a conversation held
// up for a while (a write claim or wamid guard left by a node that froze or
// died, a takeover, a store failover) does not get an accepted webhook set
// aside. Rounds are settled off the dispatch loop as their answers come, up
// to maxInFlight entries: one slow conversation delays the settling of its
// own round only, never the webhooks behind it.
//
// Template webhooks (status, quality, components, category) are handed to
// the template registry (HandleTemplates) before the entry's messages and
// statuses; an entry whose template webhook could not be applied is
// retried like one whose message could not.
//
// # Several nodes, one inbox
//
// Every engine of a cluster appends what it accepts to the same inbox (the
// shared store, MongoDB) and applies entries from it. An entry is applied
// by the node holding its lease (owner, lease-until): the node that
// accepted it holds it from the append on (AppendInbox, through which the
// gateway writes), so the in-memory fast path is unchanged; the store is
// read with ClaimInbox, which hands a node only entries unclaimed, its own
// or whose lease ran out, atomically. A node renews its leases every
// lease/3 while it holds entries and, in cluster mode (Options.NodeID
// set), reads the store every lease/2, so a dead or frozen node's entries
// are applied by another within about 1.5 leases (DefaultLease, 10 s). In
// single-node mode (NodeID empty) every lease is SingleNode's: a restarted
// engine takes its previous process's entries at once, as before. Leases
// keep work apart. A node that does not serve
// conversations (Options.Serving false: a cluster node that downed itself,
// frozen, partitioned or unlisted) hands nothing over, so it counts no
// attempt against an entry, renews no lease and claims nothing, and what it
// accepts meanwhile is appended with no lease: the serving nodes take all
// of it over, so a long partition sets nothing aside. Leases
// bound duplicate work, not correctness: an entry applied by two nodes (a
// node frozen past its lease) is stored once, since conversations drop
// duplicate wamids and statuses only move forward. See lease.go. The lease
// must leave renewals room: on FerretDB (SQLite handler) on this loaded
// 2-core machine, renewals under a two-node test load sometimes took more
// than a second, so a 2 s lease lapsed and entries were applied twice
// (stored once); the default 10 s leaves room.
//
// Why the inbox stays in the store rather than a RabbitMQ quorum queue: a
// webhook's 200 waits for one durable write either way, and the store
// write cannot go (entries are retried, counted, parked and set aside in
// it, in arrival order), so a queue would add a second durable write and
// a second system to the 200's path; the lease gives what a queue's
// redelivery gives, and costs nothing per webhook on the fast path (two
// more fields in the insert), only on the store reads (start, retry,
// take-over). Measured with storetest.InboxClaimCost (medians of 15 rounds
// on SQLite, 7 on FerretDB; two runs each, this shared 2-core machine,
// 2026-12-06; reading 256 of a 512-entry backlog of 1.5 KB bodies):
//
//	                     append 100 plain / leased   PendingInbox  ClaimInbox   RenewInbox
//	SQLite               0.77-0.87 / 0.71-0.75 ms    0.63-1.15 ms  1.40-1.60 ms 0.13-0.19 ms
//	FerretDB/SQLite      9.2-11.8 / 5.8-8.4 ms       49-59 ms      150-175 ms   43-46 ms
//	FerretDB/PostgreSQL  8.7-16.4 / 11.3-26.4 ms     43-58 ms      150-188 ms   28-31 ms
//
// The leased append is within run-to-run noise of the plain one (the fast
// path's only cost). A claim costs 1.2-2.5x the read it replaces on SQLite
// (it is a write) and ~3x on FerretDB (whose updates rewrite each
// document, under the inbox lock), paid per read of the store, not per
// webhook; an idle cluster-mode poll claims nothing: one read of the
// inbox (which holds only what is not applied yet) under the lock.
package inbox
