// Package conversation is the conversation actor: one per (business number,
// customer) pair, the only writer of that conversation's state, messages and
// timers.
//
// A conversation moves new → active (the customer replies to something the
// business sent) → expired (WHATSAPP_SERVICE_WINDOW after the customer's last
// message) → active again on a new message, or → closed by an agent (final:
// the next inbound message opens a new conversation). A template to a
// customer with no open conversation opens one; when an agent sent it
// (Send.AgentID), the agent is its assignee, otherwise the assigner picks one.
//
// Callers reach conversations only through a Directory, by Key, with the
// commands of this package (Inbound, StatusChanged, StatusesChanged, Tick,
// Close, Assign, MarkRead, Send, SendOutcome: the sealed Command set), and read the answer
// with Ask (or Await): a Result, and an error that is nil, the actor's
// *Failure (matching ErrClosed, ErrOutsideWindow, ErrQueueUnavailable,
// ErrStale, actors.ErrFenced, ErrParked (answered by the supervisor for a parked
// conversation), ErrInvalidKey, actors.ErrNotFound, actors.ErrConflict,
// actors.ErrDuplicate or actors.ErrUnavailable through errors.Is), or
// ErrNoAnswer when the Directory brought no answer back (a timeout or a
// failed delivery, also an actors.ErrUnavailable).
//
// Guarantees:
//   - Wire shape: commands and Results are plain data (no interface values,
//     errors, functions or pointers to shared state; a failure travels as a
//     code and a message), so a cluster placement can give them a wire
//     format without reshaping the actor (an Inbound is answered with the
//     Result less its Message, which Await makes the Result again; a wire
//     format carries that shape too). Hydrate and Idle pass only between
//     an actor and its local parent and never leave the node.
//     ResultOf gives the Result an answer stands for, as a wire carries
//     it. The wire format itself (protobuf: raw bytes travel byte for
//     byte, times keep their instant and zone offset, a decoded Failure
//     matches the same sentinels) is package cluster's (codec.go,
//     command.proto); this package has no encoding of its own.
//   - Ordering: messages for one conversation are applied one at a time in
//     mailbox order; the Directory delivers the commands for one key in the
//     order they were sent.
//   - Idempotence: a wamid is applied once however often it is delivered;
//     a Send's MessageID is queued once (a send of a stored message is
//     answered Duplicate with it, before any refusal); statuses only move
//     forward; a status for an unknown wamid is kept and applied when the
//     message appears.
//   - Memory: besides its open conversation, an actor holds the newest
//     outbound messages of it (up to 64: ids, wamid, status, error,
//     pricing; not their content), allocated with the first one and
//     dropped with the conversation (closed, passivated, stale, restarted).
//     A send into the open conversation is stored without reading first (a
//     duplicate id fails the insert, then the stored message is read); a
//     send's outcome and a status find a held message without a read and
//     apply with one conditional write, or none when the held status shows
//     the store has it already (what is held is never ahead of the store,
//     but for a failed status, which a re-drive of the dead letters undoes
//     behind the actor's back: that one is checked against the store); a
//     message not held is read, as after a restart, and held from then
//     on. Statuses that arrive together (a StatusesChanged: the inbox hands
//     over a conversation's statuses of one round at once; a send outcome's
//     pending statuses) apply with one store write for all of them
//     (UpdateMessageStatuses: on SQLite one job of the group commit, all or
//     none), then publish one message.status event each, in order, exactly
//     as applied one at a time. Pending statuses are looked for on an outcome only where some may
//     be: always for a message this activation did not store, otherwise
//     only when it kept one for that wamid itself (a message's statuses
//     come to its key's one activation, and none precedes its send).
//   - Durability: every change is persisted before it is acknowledged or
//     published, conditional on the version the actor loaded, so a stale
//     second activation can never overwrite newer state (it stops instead).
//   - Fencing (Deps.Epochs, on in a cluster; fence.go): each activation
//     acquires its key's epoch before it reads, and every write it makes
//     for the key (conversation create and save, message append, status
//     updates) carries it. Once a newer activation exists, even one that
//     has not written yet, the older one's writes are refused
//     (actors.ErrFenced, answered with CodeFenced, which also matches
//     ErrStale): the refusal is counted (Deps.FencedWrite), changes
//     nothing, and the actor stops; the next command activates afresh.
//     A stopping (retiring) actor refuses every command left in its
//     mailbox as ErrStale at once, or hands one sent without waiting to
//     its parent for the next actor (Redirect); Ask delivers a stale
//     refusal again. Deps.RetireAll retires every actor of a process at
//     once (a cluster node that downed itself).
//     Timers and the Sweeper's Ticks write through the actor, so a window
//     expires once. Notifications, media records and pricing are not
//     fenced: they follow a fenced write or are idempotent; nor is failing
//     a send the queue refused, which undoes the actor's own write.
//     After a panic protoactor builds a fresh actor from the same Props,
//     which reads its conversation from the store when it starts.
//     The first message of a key opens its conversation in one write when
//     the store offers OpenConversationWith (sqlitestore): the customer
//     when unknown, the conversation, the message and the state after it,
//     all or nothing (on a duplicate it opens step by step instead).
//   - Events: every persisted change is published to Deps.Publisher (the
//     engine's actors.Bus) with the conversation's key; an open conversation
//     without an assignee publishes actors.EventAgentRequested, which is how
//     the assigner hears of it (the actor holds no reference to it).
//   - Sends: a message is persisted queued, then published to Deps.Outbox.
//     A publish that surely queued nothing fails the message ("not queued;
//     send it again", ErrQueueUnavailable); one whose outcome is unknown
//     (actors.ErrPublishUnknown) keeps it queued and accepts the send, since
//     the queue may deliver it: the Outbox publishes it again until
//     confirmed, and the sender sends it once.
//   - Failures: a failed outbound message, whether WhatsApp refused the send
//     (SendOutcome) or reported the failure later in a failed status, gets
//     the same consequences from the one table of Meta's codes
//     (actors.WhatsAppErrorRule): its error's kind and agent-facing reason,
//     a notification to the assignee, an expired conversation for 131047, the
//     template registry told for 132xxx (Deps.Templates), and, for a late
//     failure, the recipient or number paused through Deps.Pauser (the
//     sender already paused for an answered one). A status's pricing is
//     recorded per outbound message (Deps.Pricing).
//   - Media: an inbound media message's medium is recorded through
//     Deps.Media (Pending) before the message is stored, so a stored
//     message never lacks its record, and fetched (Fetch) once it is; a
//     medium that cannot be recorded fails the message, which WhatsApp
//     delivers again. A Send naming our medium (Send.MediaID) is readied
//     through Deps.MediaSends (linked, shown on the message), and its upload
//     job, when the medium has no WhatsApp id fresh for the business number,
//     is published before the send's on the same queue; the send job names
//     the medium (OutboundJob.MediaID) and the sender waits for the upload.
//   - Timers: the actor arms one alarm for the window warning, the expiry
//     and its idle timeout while in memory; the alarms of the actors of one
//     Props share one Deps.Clock timer (a heap of deadlines), so an idle
//     conversation holds no runtime timer of its own; NextTimerAt is
//     persisted so the Sweeper fires it when the actor is passivated or the
//     engine restarted. A timer write that fails is retried after a pause.
//     Every decision on time reads the Clock, so tests drive it with
//     conversationtest.Clock instead of waiting.
package conversation
