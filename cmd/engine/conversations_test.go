package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/gateway/webhook"
)

const fixtureDir = "../../gateway/webhook/testdata/fixtures"

func TestWebhookVerificationHandshake(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	get := func(q string) (int, string) {
		res, err := l.client.Get(l.url + "/api/whatsapp/webhook?" + q)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	st, body := get("hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
	require.Equal(t, 200, st)
	require.Equal(t, "1158201444", body)
	st, _ = get("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")
	require.Equal(t, 403, st)
	st, _ = get("hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1")
	require.Equal(t, 400, st)
}

// TestEveryFixtureStored posts every real webhook body, signed, and checks
// each message is stored once with its type. Fixtures reuse wamids, so each
// body's wamids are made unique first.
func TestEveryFixtureStored(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 31)
	type want struct{ wamid, typ string }
	var wants []want
	statuses := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		batch, err := webhook.Parse(raw)
		require.NoError(t, err, f)
		body := string(raw)
		for _, m := range batch.Messages {
			unique := m.WaMessageID + "." + strings.TrimSuffix(filepath.Base(f), ".json")
			body = strings.ReplaceAll(body, `"`+m.WaMessageID+`"`, `"`+unique+`"`)
			wants = append(wants, want{wamid: unique, typ: m.Type})
		}
		statuses += len(batch.Statuses)
		require.Equal(t, 200, l.webhook([]byte(body), ""), f)
	}
	require.NotEmpty(t, wants)
	require.Greater(t, statuses, 0)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		pending, err := l.e.store.PendingInbox(ctx, 10)
		return err == nil && len(pending) == 0
	}, 15*time.Second, 20*time.Millisecond, "inbox drained")
	for _, w := range wants {
		m, err := l.e.store.MessageByWaID(ctx, w.wamid)
		require.NoError(t, err, w.wamid)
		assert.Equal(t, w.typ, m.Type, w.wamid)
		assert.Equal(t, actors.DirectionInbound, m.Direction)
		assert.NotEmpty(t, m.Raw, "raw message kept")
		if w.typ == "unsupported" {
			require.NotNil(t, m.Error, "message-level errors recorded")
			assert.Equal(t, 131051, m.Error.Code)
		}
	}
}

func TestBadSignatureStoresNothing(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	body := textBody("pn1", "919800000001", "wamid.sig1", "hello", time.Now())
	require.Equal(t, 401, l.webhook(body, "-"), "missing")
	require.Equal(t, 401, l.webhook(body, webhook.Sign(body, "wrong-secret")), "wrong secret")
	require.Equal(t, 401, l.webhook(body, "sha256=zz"), "malformed")
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-10] ^= 1
	require.Equal(t, 401, l.webhook(tampered, webhook.Sign(body, testAppSecret)), "tampered body")
	pending, err := l.e.store.PendingInbox(context.Background(), 10)
	require.NoError(t, err)
	require.Empty(t, pending)
	_, err = l.e.store.MessageByWaID(context.Background(), "wamid.sig1")
	require.ErrorIs(t, err, actors.ErrNotFound)
}

func TestRedeliveredBodyStoredOnce(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	body := textBody("pn1", "919800000002", "wamid.dup1", "hello", time.Now())
	require.Equal(t, 200, l.webhook(body, ""))
	require.Equal(t, 200, l.webhook(body, ""))
	c := l.conversationOf("pn1", "919800000002")
	require.Equal(t, 200, l.webhook(body, ""))
	require.Eventually(t, func() bool {
		p, _ := l.e.store.PendingInbox(context.Background(), 10)
		return len(p) == 0
	}, 10*time.Second, 10*time.Millisecond)
	ms := l.messages(c.ID)
	require.Len(t, ms, 1)
	c2, err := l.e.store.Conversation(context.Background(), c.ID)
	require.NoError(t, err)
	require.Equal(t, 1, c2.Unread)
}

func TestStatusesOnlyMoveForward(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	now := time.Now()
	require.Equal(t, 200, l.webhook(textBody("pn1", "919800000003", "wamid.in1", "hi", now), ""))
	c := l.conversationOf("pn1", "919800000003")
	// An outbound message the business sent (the send path stores these).
	out := actors.Message{ID: actors.NewID(), ConversationID: c.ID, Direction: actors.DirectionOutbound, Type: "text", Text: "hello",
		Status: actors.StatusSent, WaMessageID: "wamid.out1", CreatedAt: now.UTC().Truncate(time.Millisecond), UpdatedAt: now.UTC().Truncate(time.Millisecond)}
	require.NoError(t, l.e.store.AppendMessage(context.Background(), out))

	for _, st := range []string{"read", "delivered", "sent", "delivered"} {
		require.Equal(t, 200, l.webhook(statusBody("pn1", "919800000003", "wamid.out1", st, now), ""))
	}
	require.Eventually(t, func() bool {
		m, err := l.e.store.MessageByWaID(context.Background(), "wamid.out1")
		p, _ := l.e.store.PendingInbox(context.Background(), 10)
		return err == nil && m.Status == actors.StatusRead && len(p) == 0
	}, 10*time.Second, 10*time.Millisecond)
	m, _ := l.e.store.MessageByWaID(context.Background(), "wamid.out1")
	require.Equal(t, actors.StatusRead, m.Status, "out-of-order statuses end at the highest")

	// A status for a wamid nobody knows yet is kept for when it appears.
	require.Equal(t, 200, l.webhook(statusBody("pn1", "919800000003", "wamid.future", "delivered", now), ""))
	require.Eventually(t, func() bool {
		p, _ := l.e.store.PendingInbox(context.Background(), 10)
		return len(p) == 0
	}, 10*time.Second, 10*time.Millisecond)
	pending, err := l.e.store.TakePendingStatuses(context.Background(), "wamid.future")
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, "delivered", pending[0].Status)
}

// TestSyntheticBatch (synthetic: no public sample batches several messages)
// posts one body with 2 entries × 2 changes × 3 messages and 1 status.
func TestSyntheticBatch(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	now := time.Now().Unix()
	var entries []string
	n := 0
	for e := 0; e < 2; e++ {
		var changes []string
		for c := 0; c < 2; c++ {
			var msgs []string
			for m := 0; m < 3; m++ {
				n++
				msgs = append(msgs, fmt.Sprintf(`{"from":"91980000%04d","id":"wamid.batch%d","timestamp":"%d","type":"text","text":{"body":"m%d"}}`, n, n, now, n))
			}
			changes = append(changes, fmt.Sprintf(`{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1555","phone_number_id":"pn%d"},"messages":[%s],"statuses":[{"id":"wamid.unknown%d","status":"sent","timestamp":"%d","recipient_id":"919800009999"}]}}`,
				e, strings.Join(msgs, ","), n, now))
		}
		entries = append(entries, fmt.Sprintf(`{"id":"WABA%d","changes":[%s]}`, e, strings.Join(changes, ",")))
	}
	body := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[%s]}`, strings.Join(entries, ","))
	require.Equal(t, 200, l.webhook([]byte(body), ""))
	require.Eventually(t, func() bool {
		for i := 1; i <= n; i++ {
			if _, err := l.e.store.MessageByWaID(context.Background(), fmt.Sprintf("wamid.batch%d", i)); err != nil {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "all %d messages applied", n)
}

// TestConcurrentWebhooks: 200 webhooks for 50 conversations, each
// conversation's 4 messages posted in order, all conversations at once.
func TestConcurrentWebhooks(t *testing.T) {
	l := startLive(t, testConfig(t))
	const convs, per = 50, 4
	var wg sync.WaitGroup
	errs := make(chan error, convs*per)
	start := time.Now()
	for c := 0; c < convs; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			wa := fmt.Sprintf("9198100%05d", c)
			for m := 0; m < per; m++ {
				st := l.webhook(textBody("pn1", wa, fmt.Sprintf("wamid.c%d.m%d", c, m), fmt.Sprintf("m%d", m), start.Add(time.Duration(m)*time.Second)), "")
				if st != 200 {
					errs <- fmt.Errorf("conversation %d message %d: %d", c, m, st)
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for c := 0; c < convs; c++ {
		wa := fmt.Sprintf("9198100%05d", c)
		conv := l.conversationOf("pn1", wa)
		var ms []actors.Message
		require.Eventually(t, func() bool {
			ms = l.messages(conv.ID)
			return len(ms) >= per
		}, 15*time.Second, 20*time.Millisecond, "conversation %d", c)
		require.Len(t, ms, per, "each message stored exactly once")
		// Newest first: m3, m2, m1, m0, with Seq descending.
		for i, m := range ms {
			assert.Equal(t, fmt.Sprintf("m%d", per-1-i), m.Text, "order in conversation %d", c)
			assert.Equal(t, int64(per-i), m.Seq)
		}
	}
}

func TestStateMachine(t *testing.T) {
	cfg := testConfig(t)
	cfg.ServiceWindow = 3 * time.Second
	cfg.WindowWarning = 1500 * time.Millisecond
	cfg.ActorIdleTimeout = 300 * time.Millisecond
	l := startLive(t, cfg)
	ctx := context.Background()
	admin := l.admin()
	agentID, _ := l.user(actors.RoleAgent)
	wa := "919800000010"
	state := func(id string) string {
		c, err := l.e.store.Conversation(ctx, id)
		require.NoError(t, err)
		return c.State
	}

	// new: the customer writes first.
	require.Equal(t, 200, l.webhook(textBody("pn1", wa, "wamid.s1", "hi", time.Now()), ""))
	c := l.conversationOf("pn1", wa)
	require.Equal(t, actors.StateNew, c.State)
	require.False(t, c.ExpiresAt.IsZero())
	st, body := l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/assign", admin, map[string]string{"agentId": agentID})
	require.Equal(t, 200, st, body)

	// expired: the window passes with the actor passivated.
	require.Eventually(t, func() bool { return l.e.conv.host.Live() == 0 }, 5*time.Second, 20*time.Millisecond, "actor passivated")
	require.Eventually(t, func() bool { return state(c.ID) == actors.StateExpired }, 8*time.Second, 50*time.Millisecond)
	ns, _, err := l.e.store.ListNotifications(ctx, agentID, false, 1, 50)
	require.NoError(t, err)
	kinds := map[string]bool{}
	for _, n := range ns {
		kinds[n.Kind] = true
	}
	assert.True(t, kinds[actors.NotifyWindowExpiring], "warned before expiry: %v", kinds)
	assert.True(t, kinds[actors.NotifyAssigned])

	// active: the business had sent something (a template, recorded while the
	// actor is passivated), and the customer writes again on the expired
	// conversation.
	require.Eventually(t, func() bool { return l.e.conv.host.Live() == 0 }, 5*time.Second, 20*time.Millisecond)
	cur, err := l.e.store.Conversation(ctx, c.ID)
	require.NoError(t, err)
	cur.LastOutboundAt = time.Now().UTC().Truncate(time.Millisecond)
	cur.Version++
	require.NoError(t, l.e.store.SaveConversation(ctx, cur))
	require.Equal(t, 200, l.webhook(textBody("pn1", wa, "wamid.s2", "again", time.Now()), ""))
	require.Eventually(t, func() bool { return state(c.ID) == actors.StateActive }, 5*time.Second, 20*time.Millisecond)

	// closed by the agent's supervisor; the next message opens a new one.
	st, body = l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/close", admin, nil)
	require.Equal(t, 200, st, body)
	require.Equal(t, actors.StateClosed, state(c.ID))
	st, body = l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/close", admin, nil)
	require.Equal(t, 409, st, body)
	require.Equal(t, "CONVERSATION_CLOSED", body["code"])
	require.Equal(t, 200, l.webhook(textBody("pn1", wa, "wamid.s3", "new topic", time.Now()), ""))
	var next actors.Conversation
	require.Eventually(t, func() bool {
		var err error
		next, err = l.e.store.OpenConversation(ctx, "pn1", wa)
		return err == nil && next.ID != c.ID
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, actors.StateNew, next.State)

	// expired after an engine restart: the timer lives in the store.
	l.restart()
	require.Eventually(t, func() bool { return state(next.ID) == actors.StateExpired }, 8*time.Second, 50*time.Millisecond)
}

// wsClient is an agent's socket that records the frames it receives.
type wsClient struct {
	conn   *websocket.Conn
	mu     sync.Mutex
	frames []map[string]any
}

func (l *live) socket(token string) *wsClient {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(l.url, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": []string{"Bearer " + token}},
	})
	require.NoError(l.t, err)
	require.Equal(l.t, http.StatusSwitchingProtocols, res.StatusCode)
	w := &wsClient{conn: conn}
	go func() {
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var f map[string]any
			if json.Unmarshal(data, &f) == nil {
				w.mu.Lock()
				w.frames = append(w.frames, f)
				w.mu.Unlock()
			}
		}
	}()
	l.t.Cleanup(func() { _ = conn.Close(websocket.StatusNormalClosure, "") })
	return w
}

// has reports whether a frame of typ mentions text anywhere in its data.
func (w *wsClient) has(typ, text string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.frames {
		if f["type"] != typ {
			continue
		}
		raw, _ := json.Marshal(f["data"])
		if strings.Contains(string(raw), text) {
			return true
		}
	}
	return false
}

func TestSocketsSeeOnlyTheirConversations(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	a1, t1 := l.user(actors.RoleAgent)
	a2, t2 := l.user(actors.RoleAgent)
	_, supTok := l.user(actors.RoleSupervisor)
	s1 := l.socket(t1)
	sup := l.socket(supTok)
	require.Eventually(t, func() bool { return s1.has("hello", a1) }, 5*time.Second, 10*time.Millisecond)

	require.Equal(t, 200, l.webhook(textBody("pn1", "919800000020", "wamid.x1", "for agent one", time.Now()), ""))
	cx := l.conversationOf("pn1", "919800000020")
	require.Eventually(t, func() bool {
		c, _ := l.e.store.Conversation(context.Background(), cx.ID)
		return c.AssigneeID == a1
	}, 5*time.Second, 10*time.Millisecond, "auto-assigned to the only online agent")

	s2 := l.socket(t2)
	require.Eventually(t, func() bool { return s2.has("hello", a2) }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 200, l.webhook(textBody("pn1", "919800000021", "wamid.y1", "for agent two", time.Now()), ""))
	cy := l.conversationOf("pn1", "919800000021")
	require.Eventually(t, func() bool {
		c, _ := l.e.store.Conversation(context.Background(), cy.ID)
		return c.AssigneeID == a2
	}, 5*time.Second, 10*time.Millisecond, "assigned to the agent with fewer open conversations")

	require.Equal(t, 200, l.webhook(textBody("pn1", "919800000020", "wamid.x2", "second for one", time.Now()), ""))
	require.Equal(t, 200, l.webhook(textBody("pn1", "919800000021", "wamid.y2", "second for two", time.Now()), ""))
	require.Eventually(t, func() bool { return s1.has("message.created", "second for one") }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return s2.has("message.created", "second for two") }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		return sup.has("message.created", "second for one") && sup.has("message.created", "second for two")
	}, 5*time.Second, 10*time.Millisecond, "supervisors see everything")
	require.Eventually(t, func() bool { return s1.has("notification", cx.ID) }, 5*time.Second, 10*time.Millisecond)
	assert.False(t, s1.has("message.created", "for agent two"))
	assert.False(t, s1.has("message.created", "second for two"))
	assert.False(t, s2.has("message.created", "for agent one"))
	assert.False(t, s2.has("message.created", "second for one"))
	assert.False(t, s2.has("notification", cx.ID))

	// Agents read only their own conversations over HTTP too (404, not 403).
	st, _ := l.api("GET", "/api/whatsapp/conversations/"+cx.ID, t2, nil)
	require.Equal(t, 404, st)
	st, body := l.api("GET", "/api/whatsapp/conversations", t1, nil)
	require.Equal(t, 200, st)
	items := body["data"].(map[string]any)["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, cx.ID, items[0].(map[string]any)["id"])
	st, body = l.api("GET", "/api/whatsapp/conversations/"+cx.ID+"/messages?limit=1", t1, nil)
	require.Equal(t, 200, st, body)
	page := body["data"].(map[string]any)
	require.Len(t, page["items"].([]any), 1)
	require.Equal(t, "second for one", page["items"].([]any)[0].(map[string]any)["text"])
	require.NotEmpty(t, page["nextCursor"])

	// Presence.
	_, adminTok := l.user(actors.RoleAdmin)
	st, body = l.api("GET", "/api/agents", adminTok, nil)
	require.Equal(t, 200, st, body)
	online := map[string]bool{}
	open := map[string]float64{}
	for _, it := range body["data"].(map[string]any)["items"].([]any) {
		m := it.(map[string]any)
		online[m["id"].(string)] = m["online"].(bool)
		open[m["id"].(string)] = m["openConversations"].(float64)
	}
	assert.True(t, online[a1])
	assert.True(t, online[a2])
	assert.Equal(t, 1.0, open[a1])
	assert.Equal(t, 1.0, open[a2])
	st, _ = l.api("GET", "/api/agents", t1, nil)
	assert.Equal(t, 403, st)

	// Logout closes the agent's socket.
	st, _ = l.api("POST", "/api/auth/logout", t1, nil)
	require.Equal(t, 200, st)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return s1.conn.Ping(ctx) != nil
	}, 5*time.Second, 50*time.Millisecond, "socket closed on logout")
}

func TestAutoAssignmentBalanceAndCap(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.AgentMaxOpen = 2
	l := startLive(t, cfg)
	ids := map[string]bool{}
	for i := 0; i < 2; i++ {
		id, tok := l.user(actors.RoleAgent)
		ids[id] = true
		l.socket(tok)
	}
	require.Eventually(t, func() bool {
		n := 0
		for id := range ids {
			if l.e.conv.hub.Online(id) {
				n++
			}
		}
		return n == 2
	}, 5*time.Second, 10*time.Millisecond)
	for i := 0; i < 5; i++ {
		require.Equal(t, 200, l.webhook(textBody("pn1", fmt.Sprintf("91982000%04d", i), fmt.Sprintf("wamid.bal%d", i), "hi", time.Now()), ""))
	}
	counts := func() map[string]int {
		m, err := l.e.store.CountOpenByAssignee(context.Background())
		require.NoError(t, err)
		return m
	}
	require.Eventually(t, func() bool {
		c := counts()
		for id := range ids {
			if c[id] != 2 {
				return false
			}
		}
		return c[""] == 1
	}, 10*time.Second, 20*time.Millisecond, "two each, one waiting: %v", counts())
	third, tok := l.user(actors.RoleAgent)
	l.socket(tok)
	require.Eventually(t, func() bool { return counts()[third] == 1 && counts()[""] == 0 }, 10*time.Second, 20*time.Millisecond,
		"the waiting conversation goes to the agent who came online: %v", counts())
}

func TestWebhookEdgeCases(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.WebhookMaxBytes = 4096
	l := startLive(t, cfg)

	big := textBody("pn1", "919800000030", "wamid.big", strings.Repeat("x", 5000), time.Now())
	require.Equal(t, 413, l.webhook(big, ""))
	require.Equal(t, 400, l.webhook([]byte("not json"), ""), "signed but not JSON")

	// Meta bursts are not rate limited: far more than the API limit passes.
	cfg2 := testConfig(t)
	cfg2.RateLimitAPIPerMin = 5
	l2 := startLive(t, cfg2)
	for i := 0; i < 20; i++ {
		require.Equal(t, 200, l2.webhook(textBody("pn1", "919800000031", fmt.Sprintf("wamid.burst%d", i), "hi", time.Now()), ""))
	}

	// Socket upgrades: no token, bad token, bad origin.
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
	}{
		{name: "no token", header: http.Header{}, status: 401},
		{name: "bad token", header: http.Header{"Authorization": {"Bearer nope"}}, status: 401},
		{name: "bad origin", header: http.Header{"Authorization": {"Bearer " + l.admin()}, "Origin": {"https://evil.example.com"}}, status: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(l.url, "http")+"/ws", &websocket.DialOptions{HTTPHeader: tc.header})
			require.Error(t, err)
			require.NotNil(t, res)
			require.Equal(t, tc.status, res.StatusCode)
		})
	}

	// A store that cannot take the body answers 503 so Meta retries.
	require.NoError(t, l.e.store.Close())
	require.Equal(t, 503, l.webhook(textBody("pn1", "919800000032", "wamid.down", "hi", time.Now()), ""))
}

func TestOpenAPIListsEngineRoutes(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	res, err := l.client.Get(l.url + "/api/openapi.json")
	require.NoError(t, err)
	defer res.Body.Close()
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&doc))
	routes := l.e.gw.Routes()
	require.Greater(t, len(routes), 25)
	for _, rt := range routes {
		_, ok := doc.Paths[rt[1]][strings.ToLower(rt[0])]
		require.True(t, ok, "%s %s is documented", rt[0], rt[1])
	}
	for _, p := range []string{"/api/whatsapp/webhook", "/api/whatsapp/conversations", "/api/whatsapp/conversations/{id}/messages",
		"/api/whatsapp/conversations/{id}/assign", "/api/whatsapp/conversations/{id}/close", "/api/agents", "/api/notifications", "/ws",
		"/api/whatsapp/pricing", "/api/whatsapp/webhook-errors"} {
		require.Contains(t, doc.Paths, p)
	}
}

func TestNotificationsEndpoint(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	admin := l.admin()
	agentID, agentTok := l.user(actors.RoleAgent)
	otherID, otherTok := l.user(actors.RoleAgent)
	_ = otherID
	require.Equal(t, 200, l.webhook(textBody("pn1", "919800000040", "wamid.n1", "hi", time.Now()), ""))
	c := l.conversationOf("pn1", "919800000040")
	st, body := l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/assign", admin, map[string]string{"agentId": agentID})
	require.Equal(t, 200, st, body)
	require.Equal(t, 200, l.webhook(textBody("pn1", "919800000040", "wamid.n2", "are you there?", time.Now()), ""))

	var items []any
	require.Eventually(t, func() bool {
		st, body := l.api("GET", "/api/notifications?unread=true", agentTok, nil)
		if st != 200 {
			return false
		}
		items = body["data"].(map[string]any)["items"].([]any)
		return len(items) == 2
	}, 5*time.Second, 20*time.Millisecond, "assigned + customer replied")
	kinds := []any{items[0].(map[string]any)["kind"], items[1].(map[string]any)["kind"]}
	require.ElementsMatch(t, []any{actors.NotifyAssigned, actors.NotifyCustomerReplied}, kinds)

	// Another agent cannot mark them read; the owner can.
	id := items[0].(map[string]any)["id"].(string)
	st, body = l.api("POST", "/api/notifications/read", otherTok, map[string]any{"ids": []string{id}})
	require.Equal(t, 200, st)
	require.EqualValues(t, 0, body["data"].(map[string]any)["updated"])
	st, body = l.api("POST", "/api/notifications/read", agentTok, map[string]any{"ids": []string{id}})
	require.Equal(t, 200, st)
	require.EqualValues(t, 1, body["data"].(map[string]any)["updated"])
	st, body = l.api("GET", "/api/notifications?unread=true", agentTok, nil)
	require.Equal(t, 200, st)
	require.EqualValues(t, 1, body["data"].(map[string]any)["total"])

	// Assignment validation and audit.
	st, body = l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/assign", admin, map[string]string{"agentId": "nobody"})
	require.Equal(t, 400, st, body)
	st, _ = l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/assign", agentTok, map[string]string{"agentId": agentID})
	require.Equal(t, 403, st)
	require.Eventually(t, func() bool {
		st, body := l.api("GET", "/api/audit?action=conversations.assign", admin, nil)
		return st == 200 && body["data"].(map[string]any)["total"].(float64) == 1
	}, 5*time.Second, 20*time.Millisecond, "the assignment is audited")
}

// TestPendingStatusAppliedWhenWamidIsKnown: a status that arrives before the
// sender recorded the message's wamid is kept, then applied when the send's
// outcome names that wamid.
func TestPendingStatusAppliedWhenWamidIsKnown(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	ctx := context.Background()
	wa := "919800000050"
	require.Equal(t, 200, l.webhook(textBody("pn1", wa, "wamid.p.in", "hi", time.Now()), ""))
	c := l.conversationOf("pn1", wa)

	// The status races ahead of the send's outcome.
	require.Equal(t, 200, l.webhook(statusBody("pn1", wa, "wamid.early", "delivered", time.Now()), ""))
	require.Eventually(t, func() bool {
		p, _ := l.e.store.PendingInbox(ctx, 10)
		return len(p) == 0
	}, 10*time.Second, 10*time.Millisecond)

	// The message as the sender leaves it: sent, with the wamid Meta gave.
	now := time.Now().UTC().Truncate(time.Millisecond)
	out := actors.Message{ID: actors.NewID(), ConversationID: c.ID, Direction: actors.DirectionOutbound, Type: "text", Text: "x",
		Status: actors.StatusQueued, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, l.e.store.AppendMessage(ctx, out))
	_, err := l.e.store.UpdateMessageStatus(ctx, out.ID, actors.StatusSent, "wamid.early", nil, now)
	require.NoError(t, err)
	key := conversation.Key{PhoneNumberID: "pn1", WaID: wa}
	_, err = conversation.Ask(l.e.conv.host, key, conversation.SendOutcome{MessageID: out.ID, WaMessageID: "wamid.early", Status: actors.StatusSent}, 5*time.Second)
	require.NoError(t, err)

	m, err := l.e.store.Message(ctx, out.ID)
	require.NoError(t, err)
	require.Equal(t, actors.StatusDelivered, m.Status)
	left, err := l.e.store.TakePendingStatuses(ctx, "wamid.early")
	require.NoError(t, err)
	require.Empty(t, left, "applied and removed")
}
