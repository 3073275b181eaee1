// Package agentsocket is the agent WebSocket (GET /ws): it upgrades an
// already authenticated request, opens an agent session for it and moves
// frames between the socket and the session.
//
// The gateway authenticates the user and checks Origin before calling
// Serve; this package trusts both.
//
// An idle socket holds one goroutine (the reader, started by Serve, which
// returns after the upgrade, handing client frames to the session) and no
// buffers. A writer goroutine runs only
// while outgoing frames are queued, and a timer pings every PingInterval
// from a goroutine of its own only while the ping is in flight. A socket
// ends once the reader ended, the writer (if any) finished and the session
// was told it closed; Shutdown waits for that. Agents sit idle most of the
// day, and this is what keeps a socket cheap.
//
// The writer writes every frame queued when it looks as one batch: the
// WebSocket messages go back to back into one write to the connection
// (each a complete message, as the protocol allows), so a socket that gets
// frames faster than one write takes costs one write per batch, not per
// frame, and no timer per frame.
//
// Guarantees:
//   - Bounded buffers: outgoing frames wait in a queue of at most BufferSize
//     frames (the batch being written counts). Push never blocks; when the queue is full the session closes
//     the socket with 1013, so a slow client never slows the publisher or
//     other sockets. Client frames are limited to ReadLimit bytes (1009).
//   - Flood: each socket's client frames pass a token bucket (FrameBurst,
//     refilled at MaxFramesPerSecond); a client that empties it is closed
//     with 1008 "too many frames" and its further frames never reach the
//     session. The session's own per-command limits (RATE_LIMITED typing
//     frames) apply below it.
//   - Per-user cap: a user holds at most MaxSocketsPerUser sockets; one
//     more is refused before the upgrade with 429 RATE_LIMITED and
//     Retry-After, and the open ones are kept.
//   - Ordering: frames are written in the order the session pushed them.
//   - Close: a requested close (slow client, DisconnectUser, an expired
//     session's grace, the idle timeout, Shutdown) drops the frames still
//     queued and performs the close handshake with the requested code; a
//     write (a batch of frames, or a ping) that does not finish within
//     WriteTimeout drops the connection without a handshake.
//   - Liveness: every pong is reported to the session (Session.Alive). A
//     ping left unanswered does not end the socket by itself: the session
//     closes a client it has not heard from (no frame, no pong) for the
//     hub's idle timeout with 4002.
//   - Expiry: Serve hands the session the access token's expiry; the
//     session, not the socket, decides when the socket closes for it
//     (see agentsession).
//   - Resume: ?cursor= (a cursor a frame carried) opens the session with
//     Hub.OpenAfter, which replays what the socket missed (see
//     agentsession); a malformed one is refused before the upgrade with 400
//     VALIDATION_ERROR, field cursor, code INVALID_CURSOR.
//   - Shutdown closes every live socket with 1001, refuses new ones with 503,
//     waits for every socket to end and is safe to call twice.
//
// A Server is safe for concurrent use.
package agentsocket
