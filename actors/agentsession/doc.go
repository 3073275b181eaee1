// Package agentsession fans conversation events out to agents' sockets: one
// agent-session actor per open socket, and a Hub that knows which sessions
// may see which event.
//
// The Hub is the engine's actors.Publisher for sockets. Each event becomes
// one frame {"type":...,"data":...}, marshalled once (by the first session
// that handles it) and written as the same bytes to every session that may
// see it:
//   - an event with UserID set (a notification) goes only to that user's
//     sessions;
//   - any other event goes to the sessions of its AssigneeID and of its
//     PreviousAssigneeID, and to every session of a supervisor or admin.
//
// A session never receives the same event twice, even when its user is both
// the assignee and a supervisor.
//
// The socket itself lives in the gateway (gateway/agentsocket) and is seen
// here only as a Sink; this package imports nothing of HTTP or WebSocket.
//
// Guarantees:
//   - Ordering: a session pushes frames in its mailbox order. Events published
//     by one goroutine (one conversation actor) reach every session in the
//     order they were published; events of different publishers interleave
//     in no defined order. The hello frame is always a session's first frame.
//   - Non-blocking fan-out: Publish only looks up the sessions under a read
//     lock and enqueues one shared message to each (no marshalling, no other
//     allocation per session); it never waits for a session or a socket. Sink.Push is non-blocking, so a session never
//     waits either, and one slow socket cannot slow another.
//   - Bounded buffers: the Sink's buffer is bounded by the socket. When Push
//     reports it full the session closes the socket with 1013 (try again
//     later) and stops; events are never silently dropped from a live socket.
//     Client frames are bounded too: Deliver blocks the socket's reader while
//     MaxPendingFrames frames wait in the session (back-pressure onto the
//     client's TCP connection), at most MaxReadsInFlight read commands run per
//     session (more are answered RATE_LIMITED), and a frame over MaxFrameSize
//     closes the socket with 1009.
//   - Presence: Presence.AgentOnline is called when a user's first session
//     opens and AgentOffline when its last one closes; the calls for all users
//     are serialised, in the order the sessions opened and closed.
//   - Ownership: every goroutine a session starts (a read command) is waited
//     for by Session.Closed, which returns only after the session's actor has
//     stopped.
//
// The Hub and Session are safe for concurrent use.
package agentsession
