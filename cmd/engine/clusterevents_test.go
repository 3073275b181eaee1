package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/persistence/servicetest"
)

// clusterConfig is a node of a two-engine deployment sharing one MongoDB
// database (FerretDB) and one Redis prefix, with CLUSTER_EVENTS.
func clusterConfig(t *testing.T, mongoURI, database, redisPrefix string) (cfg configs.Config) {
	cfg = testConfig(t)
	cfg.MongoURI, cfg.MongoDatabase = mongoURI, database
	cfg.ConnectTimeout = 30 * time.Second
	cfg.RedisURL = "redis://" + servicetest.RedisAddr(t) + "/0"
	cfg.RedisPrefix = redisPrefix
	cfg.ClusterEvents = true
	return cfg
}

// rawSocket is an agent socket keeping whole frames (with their cursor).
type rawSocket struct {
	conn   *websocket.Conn
	frames chan sockFrame
	done   chan struct{}
}

type sockFrame struct {
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
	Cursor string          `json:"cursor"`
}

func dialRaw(t *testing.T, l *live, token, query string) *rawSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(l.url, "http")+"/ws"+query, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": []string{"Bearer " + token}}})
	require.NoError(t, err)
	s := &rawSocket{conn: conn, frames: make(chan sockFrame, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var f sockFrame
			if json.Unmarshal(b, &f) == nil {
				s.frames <- f
			}
		}
	}()
	t.Cleanup(func() { _ = conn.CloseNow(); <-s.done })
	return s
}

// next returns the next frame of one of types, skipping others.
func (s *rawSocket) next(t *testing.T, types ...string) sockFrame {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case f := <-s.frames:
			if contains(types, f.Type) {
				return f
			}
		case <-s.done:
			t.Fatalf("socket closed before a %v frame", types)
		case <-deadline:
			t.Fatalf("no %v frame", types)
		}
	}
}

// text is the text of a message.created frame's message.
func (f sockFrame) text(t *testing.T) string {
	t.Helper()
	var m struct{ Text string }
	require.NoError(t, json.Unmarshal(f.Data, &m))
	return m.Text
}

// TestAgentOnNodeBIsAssignedAndFollowsAConversationOfNodeAThenResumesOnAAfterBStops
// runs two whole engines sharing MongoDB and Redis. An agent connected to
// B is seen online by A's assigner, gets the conversation a webhook to A
// opened, and its frames; when B goes away, the agent reconnects to A with
// its last cursor and gets the messages it missed, each once, then the
// live ones.
func TestAgentOnNodeBIsAssignedAndFollowsAConversationOfNodeAThenResumesOnAAfterBStops(t *testing.T) {
	mongoURI := servicetest.FerretDB(t, servicetest.FerretSQLite)
	// A key prefix of this test's own, deleted when it ends.
	_, prefix := servicetest.Redis(t)
	database := "cluster_" + strings.ToLower(actors.NewID()[:12])
	a := startLive(t, clusterConfig(t, mongoURI, database, prefix))
	b := startLive(t, clusterConfig(t, mongoURI, database, prefix))

	_, token := a.user(actors.RoleAgent)
	onB := dialRaw(t, b, token, "")
	onB.next(t, "hello")

	// The agent is online only on B; A's assigner must see it.
	require.Eventually(t, func() bool {
		st, body := a.api("GET", "/api/agents", a.admin(), nil)
		if st != 200 {
			return false
		}
		for _, it := range body["data"].(map[string]any)["items"].([]any) {
			m := it.(map[string]any)
			if m["role"] == "agent" && m["online"] == true {
				return true
			}
		}
		return false
	}, 15*time.Second, 50*time.Millisecond, "A lists the agent connected to B as online")

	now := time.Now()
	require.Equal(t, 200, a.webhook(textBody("pn-c1", "919800000301", "wamid.c1", "first", now), ""))
	assigned := onB.next(t, actors.EventConversationAssigned)
	assert.NotEmpty(t, assigned.Cursor, "frames carry their cursor")
	require.Equal(t, 200, a.webhook(textBody("pn-c1", "919800000301", "wamid.c2", "second", now.Add(time.Second)), ""))
	second := onB.next(t, actors.EventMessageCreated)
	require.Equal(t, "second", second.text(t))
	last := second.Cursor

	// B goes away with the agent's socket; A's conversation goes on.
	b.stop()
	for i, text := range []string{"third", "fourth"} {
		require.Equal(t, 200, a.webhook(textBody("pn-c1", "919800000301", fmt.Sprintf("wamid.c%d", i+3), text, now.Add(time.Duration(2+i)*time.Second)), ""))
	}
	// Wait until A has published both (its own socket-less hub sees them).
	require.Eventually(t, func() bool {
		c := a.conversationOf("pn-c1", "919800000301")
		return len(a.messages(c.ID)) == 4
	}, 15*time.Second, 20*time.Millisecond)

	onA := dialRaw(t, a, token, "?cursor="+last)
	onA.next(t, "hello")
	require.Equal(t, 200, a.webhook(textBody("pn-c1", "919800000301", "wamid.c5", "fifth", now.Add(5*time.Second)), ""))
	var got []string
	for len(got) < 3 {
		got = append(got, onA.next(t, actors.EventMessageCreated, "session.resync").text(t))
	}
	assert.Equal(t, []string{"third", "fourth", "fifth"}, got, "missed messages once, in order, then the live one")
	select {
	case f := <-onA.frames:
		assert.NotEqual(t, actors.EventMessageCreated, f.Type, "nothing twice: %s", f.Data)
	case <-time.After(300 * time.Millisecond):
	}
}
