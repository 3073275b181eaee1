package sockets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// fakeSocketIO speaks the server side of what the Socket.IO peer does
// (bench/nodepeer/socketio-fanout.js), so that the Go clients are tested
// without Node: the websocket-only Engine.IO v4 handshake, the namespace
// CONNECT with an HS256 token (CONNECT_ERROR for a bad one), rooms per
// agent and for supervisors, POST /inject emitting "message" to both, and
// pings every pingEvery counting the pongs.
type fakeSocketIO struct {
	t         *testing.T
	secret    string
	pingEvery time.Duration
	srv       *httptest.Server

	mu    sync.Mutex
	rooms map[string][]*websocket.Conn

	pings, pongs, injected atomic.Int64
	// badFrames counts client frames that were neither pong nor expected.
	badFrames atomic.Int64
}

func newFakeSocketIO(t *testing.T, pingEvery time.Duration) *fakeSocketIO {
	f := &fakeSocketIO{t: t, secret: "fake-sio-secret", pingEvery: pingEvery, rooms: map[string][]*websocket.Conn{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /socket.io/", f.socket)
	mux.HandleFunc("POST /inject", f.inject)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSocketIO) peer() SocketIOPeer { return SocketIOPeer{BaseURL: f.srv.URL, Secret: f.secret} }

func (f *fakeSocketIO) socket(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("EIO") != "4" || r.URL.Query().Get("transport") != "websocket" {
		http.Error(w, "websocket transport of EIO 4 only", http.StatusBadRequest)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer func() { _ = c.CloseNow() }()
	ctx := r.Context()
	interval := f.pingEvery.Milliseconds()
	if interval == 0 {
		interval = 25000 // no pings in this test; Socket.IO's default
	}
	open := fmt.Sprintf(`0{"sid":"s%d","upgrades":[],"pingInterval":%d,"pingTimeout":5000,"maxPayload":1000000}`, time.Now().UnixNano(), interval)
	if c.Write(ctx, websocket.MessageText, []byte(open)) != nil {
		return
	}
	_, b, err := c.Read(ctx)
	if err != nil || !bytes.HasPrefix(b, []byte("40")) {
		return
	}
	var auth struct {
		Token string `json:"token"`
	}
	claims := jwt.MapClaims{}
	if json.Unmarshal(b[2:], &auth) != nil || auth.Token == "" {
		_ = c.Write(ctx, websocket.MessageText, []byte(`44{"message":"unauthorized"}`))
		return
	}
	if _, err := jwt.ParseWithClaims(auth.Token, claims, func(*jwt.Token) (any, error) { return []byte(f.secret), nil },
		jwt.WithValidMethods([]string{"HS256"})); err != nil {
		_ = c.Write(ctx, websocket.MessageText, []byte(`44{"message":"unauthorized"}`))
		return
	}
	room := "supervisors"
	if claims["role"] != "supervisor" {
		room = fmt.Sprintf("agent:%v", claims["sub"])
	}
	f.mu.Lock()
	f.rooms[room] = append(f.rooms[room], c)
	f.mu.Unlock()
	if c.Write(ctx, websocket.MessageText, []byte(`40{"sid":"n1"}`)) != nil {
		return
	}
	if f.pingEvery > 0 {
		go func() {
			t := time.NewTicker(f.pingEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if c.Write(ctx, websocket.MessageText, []byte("2")) != nil {
						return
					}
					f.pings.Add(1)
				}
			}
		}()
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if string(b) == "3" {
			f.pongs.Add(1)
		} else {
			f.badFrames.Add(1)
		}
	}
}

func (f *fakeSocketIO) inject(w http.ResponseWriter, r *http.Request) {
	var m struct {
		Agent string          `json:"agent"`
		Event json.RawMessage `json:"event"`
	}
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.Agent == "" || len(m.Event) == 0 {
		http.Error(w, "agent and event are required", http.StatusBadRequest)
		return
	}
	frame := append(append([]byte(`42["message",`), m.Event...), ']')
	f.mu.Lock()
	targets := append(append([]*websocket.Conn(nil), f.rooms["agent:"+m.Agent]...), f.rooms["supervisors"]...)
	f.mu.Unlock()
	for _, c := range targets {
		_ = c.Write(r.Context(), websocket.MessageText, frame)
	}
	f.injected.Add(1)
	w.WriteHeader(http.StatusOK)
}

// disconnectAll sends every socket the namespace DISCONNECT.
func (f *fakeSocketIO) disconnectAll(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, conns := range f.rooms {
		for _, c := range conns {
			_ = c.Write(ctx, websocket.MessageText, []byte("41"))
		}
	}
}

func (f *fakeSocketIO) sockets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, conns := range f.rooms {
		n += len(conns)
	}
	return n
}

// require fails the test when a client sent anything but pongs.
func (f *fakeSocketIO) requireOnlyPongs() {
	f.t.Helper()
	require.Zero(f.t, f.badFrames.Load(), "clients send nothing but pongs after the handshake")
}
