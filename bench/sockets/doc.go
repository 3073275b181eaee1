// Package sockets holds the agent-socket load scenarios of the bench CLI:
// Fanout (inbound messages pushed to assigned agents' sockets and a
// supervisor's, measured from webhook send to frame), Sockets (how many
// authenticated idle agent sockets one engine holds, how fast they connect
// and what each costs in engine RSS), and the peers they are compared
// with: EchoPeer (the same idle sockets held by a bare coder/websocket echo
// server), FanoutSocketIO and SocketIOSockets (the same fan-out and idle
// sockets on a Socket.IO 4 server in Node, bench/nodepeer/socketio-fanout.js,
// which the bench CLI installs and starts; the clients speak Engine.IO v4 /
// Socket.IO v5 over coder/websocket, see socketio.go).
//
// The scenarios drive a running engine only over HTTP and WebSocket, as a
// load tester would against a deployment: agents register themselves
// (POST /api/auth/register), the admin login promotes one user to
// supervisor, inbound traffic is signed webhooks (X-Hub-Signature-256 with
// the app secret). The engine must be started with rate limits far above
// the load (RATE_LIMIT_AUTH_PER_MIN, RATE_LIMIT_API_PER_MIN), with
// AGENT_MAX_OPEN at least Conversations/Users, and with a RLIMIT_NOFILE above
// the socket count.
//
// The bench CLI's main must call ServeEchoChild first: EchoPeer then runs
// the echo server as a child process of the same executable and reads its
// RSS as Sockets reads the engine's (otherwise it falls back to an
// in-process server whose figure includes the clients). Each scenario
// raises RLIMIT_NOFILE itself; when the hard limit cannot be raised it
// measures as many sockets as fit and says so (sockets_capped_by_rlimit).
// The engine process needs its own limit above the socket count, and more
// than 20,000 sockets to a loopback target are dialled from 127.0.0.2,
// 127.0.0.3, ... in turn (SocketsOptions.SourceAddrs).
//
// Guarantees:
//   - Latency is measured in this process only: every inbound message's text
//     carries the wall-clock time its webhook was sent ("bench~seq~unixnano~"),
//     and the socket that receives the message.created frame records now
//     minus that time. Sender and receiver share this process's clock.
//   - Warm-up is excluded: only messages sent after the warm-up count in the
//     histograms, the delivered rate and the lost frames.
//   - Every goroutine a scenario starts has returned and every socket it
//     opened is closed when the scenario function returns.
//   - The numbers are results: nothing here compares them with a target.
//
// Histograms are HDR histograms in microseconds (1 µs to 5 min, 3
// significant digits).
package sockets
