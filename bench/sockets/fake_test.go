package sockets

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/webhook"
)

// fakeEngine speaks the part of the engine's contract the scenarios use:
// register, login, role change, signed webhooks (parsed with the real
// parser), agent sockets with a hello frame, auto-assignment of a new
// conversation round robin over the agents that registered, and
// message.created to the assignee's sockets and every supervisor's.
type fakeEngine struct {
	t      *testing.T
	secret string
	srv    *httptest.Server

	mu       sync.Mutex
	users    map[string]string // token → user id
	emails   map[string]string // email → user id
	roles    map[string]string // user id → role
	agents   []string          // agent ids in registration order
	sockets  map[string][]*websocket.Conn
	assignee map[string]string // wa_id → agent id
	badSigs  int
}

func newFakeEngine(t *testing.T) *fakeEngine {
	f := &fakeEngine{t: t, secret: "fake-secret", users: map[string]string{"admin-token": "admin"}, emails: map[string]string{}, roles: map[string]string{"admin": "admin"},
		sockets: map[string][]*websocket.Conn{}, assignee: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/auth/register", f.register)
	mux.HandleFunc("POST /api/auth/login", f.login)
	mux.HandleFunc("PATCH /api/users/{id}/role", f.setRole)
	mux.HandleFunc("POST /api/whatsapp/webhook", f.webhook)
	mux.HandleFunc("GET /ws", f.socket)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEngine) target() Target {
	return Target{BaseURL: f.srv.URL, AppSecret: f.secret, AdminEmail: "admin@example.com", AdminPassword: "pw"}
}

func writeData(w http.ResponseWriter, status int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
}

func (f *fakeEngine) register(w http.ResponseWriter, r *http.Request) {
	var in struct{ Email, Password, Name string }
	if json.NewDecoder(r.Body).Decode(&in) != nil || in.Email == "" || len(in.Password) < 8 {
		w.WriteHeader(400)
		return
	}
	f.mu.Lock()
	id := fmt.Sprintf("user-%d", len(f.roles))
	tok := "tok-" + id
	f.users[tok], f.roles[id], f.emails[in.Email] = id, "agent", id
	f.agents = append(f.agents, id)
	f.mu.Unlock()
	writeData(w, 201, map[string]any{"user": map[string]string{"id": id}, "accessToken": tok})
}

// login answers the admin's token for the admin's address, and a fresh
// token for a registered user (as the engine does after a role change,
// which ends the user's older tokens).
func (f *fakeEngine) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ Email string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.emails[in.Email]
	if !ok {
		writeData(w, 200, map[string]any{"user": map[string]string{"id": "admin"}, "accessToken": "admin-token"})
		return
	}
	tok := fmt.Sprintf("tok-%s-%d", id, len(f.users))
	f.users[tok] = id
	writeData(w, 200, map[string]any{"user": map[string]string{"id": id}, "accessToken": tok})
}

func (f *fakeEngine) setRole(w http.ResponseWriter, r *http.Request) {
	var in struct{ Role string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.users[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] != "admin" {
		w.WriteHeader(403)
		return
	}
	id := r.PathValue("id")
	f.roles[id] = in.Role
	for i, a := range f.agents {
		if a == id {
			f.agents = append(f.agents[:i], f.agents[i+1:]...)
			break
		}
	}
	writeData(w, 200, map[string]string{"id": id})
}

func (f *fakeEngine) socket(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	id, ok := f.users[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	f.mu.Unlock()
	if !ok {
		w.WriteHeader(401)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	_ = c.Write(r.Context(), websocket.MessageText, []byte(`{"type":"hello","data":{"userId":"`+id+`"}}`))
	f.mu.Lock()
	f.sockets[id] = append(f.sockets[id], c)
	f.mu.Unlock()
	for {
		if _, _, err := c.Read(context.Background()); err != nil {
			return
		}
	}
}

func (f *fakeEngine) webhook(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !webhook.VerifySignature(body, r.Header.Get(webhook.SignatureHeader), f.secret) {
		f.mu.Lock()
		f.badSigs++
		f.mu.Unlock()
		w.WriteHeader(401)
		return
	}
	batch, err := webhook.Parse(body)
	if err != nil || len(batch.Messages) != 1 {
		w.WriteHeader(400)
		return
	}
	m := batch.Messages[0]
	w.WriteHeader(200)
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.assignee[m.WaID]
	if !ok && len(f.agents) > 0 {
		a = f.agents[len(f.assignee)%len(f.agents)]
		f.assignee[m.WaID] = a
		f.push(a, "conversation.assigned", map[string]any{"waId": m.WaID, "assigneeId": a})
	}
	data := map[string]any{"text": m.Text, "status": "received"}
	if a != "" {
		f.push(a, "message.created", data)
	}
	for id, role := range f.roles {
		if role == "supervisor" {
			f.push(id, "message.created", data)
		}
	}
}

// push writes a frame to user's sockets; f.mu is held.
func (f *fakeEngine) push(user, typ string, data any) {
	// The engine's frames are structs with the type first.
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	}{typ, data})
	for _, c := range f.sockets[user] {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.Write(ctx, websocket.MessageText, b)
		cancel()
	}
}

func TestFanoutAgainstFakeEngine(t *testing.T) {
	f := newFakeEngine(t)
	opts := FanoutOptions{Agents: 6, Users: 3, Conversations: 6, Rate: 200, Duration: time.Second, Warmup: 200 * time.Millisecond,
		Senders: 8, ConnectConcurrency: 4, Drain: 5 * time.Second, EnginePID: os.Getpid()}
	var mu sync.Mutex
	var lines []string
	res, err := Fanout(context.Background(), f.target(), opts, func(s string) { mu.Lock(); lines = append(lines, s); mu.Unlock() })
	require.NoError(t, err)
	x := res.Extra
	assert.Equal(t, 6.0, x["conversations_assigned"])
	assert.Zero(t, x["webhook_errors"])
	assert.Zero(t, f.badSigs, "every webhook is signed with the app secret")
	sent := x["sent"]
	assert.InDelta(t, 200, sent, 60, "about Rate × Duration measured messages")
	// Each message reaches its assignee's 2 sockets and the supervisor's.
	assert.Equal(t, 3*sent, x["expected_frames"])
	assert.Zero(t, x["lost_frames"])
	assert.Equal(t, int64(3*sent), res.Ops)
	assert.Greater(t, res.P99, time.Duration(0))
	assert.GreaterOrEqual(t, res.P999, res.P99)
	assert.NotEmpty(t, res.Series)
	assert.Contains(t, x, "engine_cpu_seconds")
	mu.Lock()
	assert.NotEmpty(t, lines)
	mu.Unlock()
}

func TestSocketsAgainstFakeEngine(t *testing.T) {
	f := newFakeEngine(t)
	res, err := Sockets(context.Background(), f.target(), SocketsOptions{Sockets: 40, Users: 4, ConnectConcurrency: 8, Hold: 20 * time.Millisecond, EnginePID: os.Getpid()}, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(40), res.Ops)
	assert.Zero(t, res.Errors)
	assert.Equal(t, 4.0, res.Extra["users"])
	assert.Contains(t, res.Extra, "rss_bytes_per_socket")
	f.mu.Lock()
	defer f.mu.Unlock()
	total := 0
	for _, cs := range f.sockets {
		total += len(cs)
		assert.Len(t, cs, 10, "sockets spread over the users")
	}
	assert.Equal(t, 40, total)
}

func TestEngineCallsFailWithStatus(t *testing.T) {
	f := newFakeEngine(t)
	c := newEngineClient(f.target(), 2)
	defer c.close()
	err := c.setRole(context.Background(), "tok-nobody", "user-1", "supervisor")
	require.ErrorIs(t, err, ErrStatus)
	assert.Contains(t, err.Error(), "403")
	bad := f.target()
	bad.AppSecret = "wrong"
	st, err := newEngineClient(bad, 1).webhook(context.Background(), textBody("pn", "91", "wamid.x", "hi", time.Now()))
	require.NoError(t, err)
	assert.Equal(t, 401, st)
}

func TestTargetWSURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4000":       "ws://127.0.0.1:4000/ws",
		"https://engine.example.com/": "wss://engine.example.com/ws",
	} {
		got, err := Target{BaseURL: in}.wsURL()
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := Target{BaseURL: "ftp://x"}.wsURL()
	require.Error(t, err)
}
