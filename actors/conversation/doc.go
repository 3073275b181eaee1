// Package conversation is the conversation actor: one per (business number,
// customer) pair, the only writer of that conversation's state, messages and
// timers.
//
// A conversation moves new → active (the customer replies to something the
// business sent) → expired (WHATSAPP_SERVICE_WINDOW after the customer's last
// message) → active again on a new message, or → closed by an agent (final:
// the next inbound message opens a new conversation).
//
// Guarantees:
//   - Ordering: messages for one conversation are applied one at a time in
//     mailbox order; callers reach the actor only through a Directory.
//   - Idempotence: a wamid is applied once however often it is delivered;
//     statuses only move forward; a status for an unknown wamid is kept and
//     applied when the message appears.
//   - Durability: every change is persisted before it is acknowledged or
//     published, conditional on the version the actor loaded, so a stale
//     second activation can never overwrite newer state (it stops instead).
//   - Timers: the actor arms a timer for the window warning and expiry while
//     in memory; NextTimerAt is persisted so the Sweeper fires it when the
//     actor is passivated or the engine restarted.
package conversation
