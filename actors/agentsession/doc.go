// Package agentsession fans conversation events out to agents' sockets: one
// agent-session actor per open socket, and a Hub that knows which sessions
// may see which event.
//
// The Hub is the engine's actors.Publisher for sockets. Each event becomes
// one Frame {"type":...,"data":...}, shared by every session that may see
// it and marshalled once, by the first socket that writes it, so that every
// socket writes the same bytes:
//   - an event with UserID set (a notification) goes only to that user's
//     sessions;
//   - any other event goes to the sessions of its AssigneeID and of its
//     PreviousAssigneeID, and to every session of a supervisor or admin.
//
// A session never receives the same event twice, even when its user is both
// the assignee and a supervisor.
//
// Each session is a state machine (State) owning its timers, which run on a
// Clock (the wall clock, or a fake one in tests):
//   - New on Open; Active once hello is sent, while its access token is
//     valid. Hello carries the token's expiry.
//   - Expired when the token's exp passes: a session.expired frame says so
//     (with the deadline), and events are withheld (counted, never pushed).
//     An auth frame with a fresh token of the same user, checked through
//     Commands.Authenticate (signature, expiry, revocation), makes it Active
//     again: an ack, then a session.resync frame telling the client to
//     reload through the API. An auth frame while Active just extends it.
//     A token an auth frame presents that is refused (invalid, expired,
//     revoked, another user's) is told to Options.Refusals with the
//     session's Source, to be audited.
//   - Closed when the grace period passes without a fresh token (4001), when
//     nothing was heard from the client for the idle timeout (no frame, no
//     pong reported through Alive: 4002), on logout, revocation or a role
//     change (DisconnectUser, 1008), when the socket falls behind (1013), on
//     an oversized frame (1009), at server shutdown (the socket's 1001) or
//     after a panic (1011).
//
// Client frames are ping, read, typing and auth. read and typing are
// refused with TOKEN_EXPIRED while Expired. A typing frame is checked
// against what the user may see (Commands.Visible: NOT_FOUND otherwise) and
// relayed as {"type":"typing","data":{"conversationId","userId"}} to the
// sessions of the other users who may see that conversation (its assignee,
// supervisors and admins), never to the typer's own sessions, and only to
// Active ones. Typing frames are limited per session (a burst, then one per
// interval; RATE_LIMITED beyond).
//
// The socket itself lives in the gateway (gateway/agentsocket) and is seen
// here only as a Sink; this package imports nothing of HTTP or WebSocket.
// The use cases behind the frames (gateway/app) are seen only as Commands.
//
// Events do not pass through the session's actor: Publish pushes them to
// each session's outbox on the publisher's goroutine. The outbox holds the
// state events see (New, Active, Expired, Closed) under a lock of its own,
// which the actor takes too when it pushes its own frames and when it
// changes state with the frame that says so (hello, session.expired, the
// ack and resync of a renewal), so no event slips between a state change
// and its frame. A New session keeps the events published before its hello
// (at most 256; one more closes it with 1013) and pushes them after it.
//
// Cursors and resume: an event that came through the cluster's event
// stream (persistence/redisbus) carries a Cursor, which its frame carries
// as "cursor"; hello carries the hub's last cursor at Open, where the
// socket's live events start. A socket opened with OpenAfter(cursor) (the
// client's last cursor, after its node died) stays New while
// Options.Replay reads, off the mailbox, the events after the cursor it
// may see (at most Options.MaxReplay), keeping the live events published
// meanwhile (at most 4096); then it pushes hello (cursor: the last event
// read), the replayed frames, and the live events not replayed already
// (cursor above the last read, whether kept meanwhile or delivered late by
// this node), so each frame arrives once and none is skipped. When the events cannot be replayed (trimmed, too many,
// the stream unreadable, or no Replayer) hello is followed by
// session.resync {since, withheld: 0, reason} and the client reloads
// through the API.
//
// Guarantees:
//   - Ordering: events published by one goroutine (one conversation actor)
//     reach every session in the order they were published; events of
//     different publishers interleave in no defined order. A session's own
//     frames (replies) are pushed in its mailbox order. The hello frame is
//     always a session's first frame.
//   - Non-blocking fan-out: Publish looks up the sessions under a read lock,
//     releases it and pushes one shared Frame to each (one allocation per
//     event, two with a cursor, none per session, no marshalling); it never waits for a socket:
//     Sink.Push is non-blocking, so one slow socket cannot slow another or
//     the publisher.
//   - Bounded buffers: the Sink's buffer is bounded by the socket. When Push
//     reports it full the session closes the socket with 1013 (try again
//     later) and stops; events are never silently dropped from a live socket
//     (an expired session withholds them and says so with session.resync).
//     A Sink that panics on an event closes its socket with 1011; the
//     publisher carries on.
//     Client frames are bounded too: Deliver blocks the socket's reader while
//     MaxPendingFrames frames wait in the session (back-pressure onto the
//     client's TCP connection), at most MaxReadsInFlight read commands run per
//     session (more are answered RATE_LIMITED), and a frame over MaxFrameSize
//     closes the socket with 1009.
//   - Presence: Presence.AgentOnline is called when a user's first session
//     becomes Active (before its hello or ack is pushed) and AgentOffline
//     when its last Active session expires or closes; the calls for all users
//     are serialised, in the order the sessions changed. Online and
//     the tests' OnlineUsers report the same.
//   - Ownership: every goroutine a session starts (a command) is waited for
//     by Session.Closed, which returns only after the session's actor has
//     stopped; its timers are stopped when it stops.
//
// The Hub and Session are safe for concurrent use.
package agentsession
