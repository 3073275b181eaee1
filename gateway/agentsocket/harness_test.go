package agentsocket_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/actors/agentsession/sessiontest"
	"github.com/wacc/engine/gateway/agentsocket"
)

const (
	waitFor = sessiontest.WaitFor
	tick    = sessiontest.Tick
)

// users are the fixed accounts a test server serves, by ?user=.
var users = map[string]actors.User{
	"a1":  {ID: "a1", Name: "Agent One", Role: actors.RoleAgent},
	"a2":  {ID: "a2", Name: "Agent Two", Role: actors.RoleAgent},
	"a3":  {ID: "a3", Name: "Agent Three", Role: actors.RoleAgent},
	"sup": {ID: "sup", Name: "Supervisor", Role: actors.RoleSupervisor},
	"adm": {ID: "adm", Name: "Admin", Role: actors.RoleAdmin},
}

// harness is one actor system and hub, shared by the socket servers of a
// test.
type harness struct {
	hub      *agentsession.Hub
	presence *sessiontest.Presence
	commands *sessiontest.Commands
	// srv is the server of the last serve call.
	srv *agentsocket.Server
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, agentsession.Options{})
}

// newHarnessWith is newHarness with hub options (Log, Presence and
// Commands filled in).
func newHarnessWith(t *testing.T, opts agentsession.Options) *harness {
	t.Helper()
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	h := &harness{presence: &sessiontest.Presence{}, commands: &sessiontest.Commands{}}
	opts.Log, opts.Presence, opts.Commands = zaptest.NewLogger(t), h.presence, h.commands
	h.hub = agentsession.NewHub(system, opts)
	return h
}

// serve starts a socket server with opts (Hub and Log filled in) on a real
// listener; its handler calls Serve with the fixed user named by ?user=,
// whose token expires at ?exp= (RFC 3339; never when absent).
func (h *harness) serve(t *testing.T, opts agentsocket.Options) (*agentsocket.Server, string) {
	t.Helper()
	opts.Hub = h.hub
	opts.Log = zaptest.NewLogger(t)
	srv := agentsocket.New(opts)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := users[r.URL.Query().Get("user")]
		if !ok {
			http.Error(w, "unknown user", http.StatusUnauthorized)
			return
		}
		var exp time.Time
		if v := r.URL.Query().Get("exp"); v != "" {
			var err error
			if exp, err = time.Parse(time.RFC3339, v); err != nil {
				http.Error(w, "bad exp", http.StatusBadRequest)
				return
			}
		}
		srv.Serve(w, r, u, exp, "192.0.2.1")
	}))
	h.srv = srv
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		hs.Close()
	})
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http")
}

// frame is a decoded server frame.
type frame = sessiontest.Frame

// client is a real WebSocket client. Once reading it reads continuously in
// a goroutine (so it answers pings) and queues the raw frames for next.
type client struct {
	ws     *websocket.Conn
	frames chan []byte
	done   chan struct{}
	// stop ends reading at cleanup even when frames is full.
	stop chan struct{}
	// err is the error that ended reading; set before done is closed.
	err       error
	startOnce sync.Once
}

// dial connects as userID and starts reading.
func dial(t *testing.T, url, userID string) *client {
	t.Helper()
	c := dialSilent(t, url, userID)
	c.startReading(t)
	return c
}

// dialExpiring connects as userID with a token expiring at exp and starts
// reading.
func dialExpiring(t *testing.T, url, userID string, exp time.Time) *client {
	t.Helper()
	c := dialSilent(t, url, userID+"&exp="+exp.UTC().Format(time.RFC3339))
	c.startReading(t)
	return c
}

// dialSilent connects as userID (and any further query) without reading
// anything.
func dialSilent(t *testing.T, url, userID string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url+"/ws?user="+userID, nil)
	require.NoError(t, err, "dial as %s", userID)
	ws.SetReadLimit(1 << 20)
	c := &client{ws: ws, frames: make(chan []byte, 8192), done: make(chan struct{}), stop: make(chan struct{})}
	t.Cleanup(func() {
		close(c.stop)
		_ = ws.CloseNow()
		c.startOnce.Do(func() { close(c.done) })
		<-c.done
	})
	return c
}

func (c *client) startReading(t *testing.T) {
	t.Helper()
	c.startOnce.Do(func() {
		go func() {
			defer close(c.done)
			for {
				_, b, err := c.ws.Read(context.Background())
				if err != nil {
					c.err = err
					return
				}
				select {
				case c.frames <- b:
				case <-c.stop:
					return
				}
			}
		}()
	})
}

// next returns the next frame, failing after waitFor.
func (c *client) next(t *testing.T) frame {
	t.Helper()
	select {
	case b := <-c.frames:
		var f frame
		require.NoError(t, json.Unmarshal(b, &f), "frame %s", b)
		return f
	case <-time.After(waitFor):
		t.Fatalf("no frame within %v", waitFor)
	}
	return frame{}
}

// nextOfType skips frames until one of type typ.
func (c *client) nextOfType(t *testing.T, typ string) frame {
	t.Helper()
	for {
		if f := c.next(t); f.Type == typ {
			return f
		}
	}
}

// send writes a text frame.
func (c *client) send(t *testing.T, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, c.ws.Write(ctx, websocket.MessageText, []byte(s)))
}

// closed waits up to within for the connection to end, discarding queued
// frames, and returns the close error (a websocket.CloseError when the
// server closed with a code).
func (c *client) closed(t *testing.T, within time.Duration) error {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case <-c.frames:
		case <-c.done:
			return c.err
		case <-deadline:
			t.Fatalf("connection still open after %v", within)
		}
	}
}

// closeStatus is the close error's code and reason.
func closeStatus(t *testing.T, err error) (websocket.StatusCode, string) {
	t.Helper()
	var ce websocket.CloseError
	require.ErrorAs(t, err, &ce, "closed without a close frame: %v", err)
	return ce.Code, ce.Reason
}
