// Package agentsocket is the agent WebSocket (GET /ws): it upgrades an
// already authenticated request, opens an agent session for it and moves
// frames between the socket and the session.
//
// The gateway authenticates the user and checks Origin before calling
// Serve; this package trusts both.
//
// Each socket runs three goroutines, all owned by its Serve call: the reader
// (Serve itself) hands client frames to the session, the writer drains a
// bounded channel of outgoing frames, and the pinger pings every
// PingInterval. Serve returns only after all three ended and the session
// was told it closed.
//
// Guarantees:
//   - Bounded buffers: outgoing frames wait in a channel of BufferSize
//     frames. Push never blocks; when the channel is full the session closes
//     the socket with 1013, so a slow client never slows the publisher or
//     other sockets. Client frames are limited to ReadLimit bytes (1009).
//   - Ordering: frames are written in the order the session pushed them.
//   - Close: a requested close (slow client, DisconnectUser, Shutdown) drops
//     the frames still queued and performs the close handshake with the
//     requested code; a failed ping or a write that does not finish within
//     WriteTimeout drops the connection without a handshake.
//   - Shutdown closes every live socket with 1001, refuses new ones with 503,
//     waits for every Serve call to return and is safe to call twice.
//
// A Server is safe for concurrent use.
package agentsocket
