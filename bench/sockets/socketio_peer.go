package sockets

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wacc/engine/actors"
)

// SocketIOPeer is a running Socket.IO 4 server of the bench
// (bench/nodepeer/socketio-fanout.js, one Node process): it accepts
// websocket-only clients whose namespace CONNECT carries an HS256 token
// (sub = agent id, role), puts each agent's sockets in the room
// "agent:<id>" and supervisors in "supervisors", and on POST /inject
// {"agent","event"} emits event as "message" to the agent's room and to
// the supervisors' room, answering 200 once emitted. GET /gc runs V8's
// garbage collector (node started with --expose-gc) before an RSS reading.
type SocketIOPeer struct {
	// BaseURL is http://host:port of the peer.
	BaseURL string
	// Secret signs the sockets' tokens (the peer's APP_SECRET).
	Secret string
	// PID is the peer's process id, for its CPU time and RSS; 0 when
	// unknown (not measured).
	PID int
}

// socketIOAgent is the id of the peer's agent u.
func socketIOAgent(u int) string { return fmt.Sprintf("agent-%d", u) }

// socketIOTokens signs one token per agent, and the supervisor's.
func socketIOTokens(p SocketIOPeer, users int) (agents []string, supervisor string, err error) {
	agents = make([]string, users)
	for u := range agents {
		if agents[u], err = socketIOToken(p.Secret, socketIOAgent(u), "agent"); err != nil {
			return nil, "", err
		}
	}
	supervisor, err = socketIOToken(p.Secret, "supervisor-0", "supervisor")
	return agents, supervisor, err
}

// socketIOInject is the body of POST /inject: message seq of conversation
// c, carrying the marker of at, for agent. The event has the shape of the
// engine's message.created frame (type first, then a contract message
// object) so that both runs push frames of about the same size.
func socketIOInject(run string, agent string, c int, seq int64, at time.Time) []byte {
	marker := formatMarker(seq, at)
	wamid := fmt.Sprintf("wamid.bench.%s.%d", run, seq)
	b, _ := json.Marshal(struct {
		Agent string `json:"agent"`
		Event any    `json:"event"`
	}{agent, struct {
		Type string             `json:"type"`
		Data actors.MessageView `json:"data"`
	}{actors.EventMessageCreated, actors.MessageView{
		ID: fmt.Sprintf("%08x%016x", c, seq), ConversationID: fmt.Sprintf("%024x", c), Direction: "inbound", Type: "text",
		Content: map[string]string{"body": marker}, Text: marker, Status: "received", WaMessageID: &wamid,
		CreatedAt: at.UTC(), UpdatedAt: at.UTC(),
	}}})
	return b
}

// FanoutSocketIO measures the same fan-out as Fanout on the Socket.IO
// peer: opts.Agents agent sockets (socket i>0 as agent (i-1)%Users) and
// one supervisor socket, conversation c assigned to agent c%Users, Rate
// injects per second for Warmup+Duration, each emitted by the peer to the
// agent's room and the supervisors' room. Latency is from just before the
// inject is posted to the event frame on a socket.
//
// The Result has the fields and Extra figures of Fanout's, with the
// webhook figures named inject_* and the peer's CPU in engine_cpu_*.
func FanoutSocketIO(ctx context.Context, p SocketIOPeer, opts FanoutOptions, progress func(string)) (Result, error) {
	progress = orNop(progress)
	opts = opts.withDefaults()
	res := Result{Scenario: "fanout", Variant: "socket.io", Extra: map[string]float64{}}
	wsURL, err := socketIOURL(p.BaseURL)
	if err != nil {
		return res, err
	}
	opts.Conversations = max(opts.Conversations, opts.Users) // every agent has a conversation
	if opts, err = opts.fitFiles(res.Extra, progress); err != nil {
		return res, fmt.Errorf("fanout socket.io: %w", err)
	}
	tokens, supToken, err := socketIOTokens(p, opts.Users)
	if err != nil {
		return res, fmt.Errorf("fanout socket.io: %w", err)
	}
	client := newEngineClient(Target{BaseURL: p.BaseURL}, opts.Senders+16)
	defer client.close()

	r := newFanoutRun(opts, res.Variant, "inject")
	for c := range r.assignee {
		r.assignee[c].Store(int32(c%opts.Users + 1))
	}
	r.send = func(ctx context.Context, seq int64, c int, at time.Time) (int, error) {
		return client.postJSON(ctx, "/inject", socketIOInject(r.run, socketIOAgent(c%opts.Users), c, seq, at), "")
	}

	fl := newSocketIOFleet(wsURL, socketClient(fanoutDialer(p.BaseURL, opts.Agents+1, res.Extra)), r.onFrame)
	defer fl.close()
	if err := r.connect(ctx, &res, fl, func(i int) string {
		if i == 0 {
			return supToken
		}
		return tokens[(i-1)%opts.Users]
	}, progress); err != nil {
		return res, fmt.Errorf("fanout socket.io: %w", err)
	}
	res.Extra["conversations"] = float64(opts.Conversations)
	r.measure(ctx, &res, fl, p.PID, progress)
	return res, nil
}

// SocketIOSockets holds opts.Sockets idle authenticated sockets on the
// Socket.IO peer (socket i as agent i%Users, each in its agent room),
// measured as Sockets measures the engine: connect rate, time to the
// server's CONNECT and the peer's RSS growth per socket
// (rss_bytes_per_socket, when PID is known).
func SocketIOSockets(ctx context.Context, p SocketIOPeer, opts SocketsOptions, progress func(string)) (Result, error) {
	progress = orNop(progress)
	opts = opts.withDefaults()
	res := Result{Scenario: "sockets", Variant: "socket.io", Extra: map[string]float64{}}
	wsURL, err := socketIOURL(p.BaseURL)
	if err != nil {
		return res, err
	}
	if opts.Sockets = fitFileLimit(res.Extra, opts.Sockets, 1, progress); opts.Sockets == 0 {
		return res, fmt.Errorf("sockets socket.io: %w", ErrNoFiles)
	}
	opts.Users = min(opts.Users, opts.Sockets)
	tokens, _, err := socketIOTokens(p, opts.Users)
	if err != nil {
		return res, fmt.Errorf("sockets socket.io: %w", err)
	}
	host := hostOf(p.BaseURL)
	dialer, k, err := opts.dialerFor(host, opts.Sockets)
	if err != nil {
		return res, fmt.Errorf("sockets socket.io: %w", err)
	}
	res.Extra["source_addrs"] = float64(k)
	res.Extra["users"] = float64(opts.Users)
	fl := newSocketIOFleet(wsURL, socketClient(dialer), nil)
	defer fl.close()
	m, err := hold(ctx, fl, opts, server{pid: p.PID, gcURL: strings.TrimSuffix(p.BaseURL, "/") + "/gc"}, "socket.io",
		func(i int) string { return tokens[i%opts.Users] }, true, progress)
	m.fill(&res)
	if err != nil {
		return res, fmt.Errorf("sockets socket.io: %w", err)
	}
	progress(fmt.Sprintf("socket.io: %d open at %.0f/s, %.0f server bytes/socket, errors %d",
		res.Ops, res.Throughput, res.Extra["rss_bytes_per_socket"], res.Errors))
	return res, nil
}
