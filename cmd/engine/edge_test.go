package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway/gatewaytest"
	"github.com/wacc/engine/gateway/webhook"
	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// bigBatch builds a signed-webhook batch of about size bytes in Meta's
// format, from the real text-message fixture: changes of several customers,
// each with many long text messages. It returns the body and the wamids.
func bigBatch(t *testing.T, phoneNumberID string, size int) ([]byte, []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtureDir, "text-message.json"))
	require.NoError(t, err)
	var fixture struct {
		Object string `json:"object"`
		Entry  []struct {
			ID      string `json:"id"`
			Changes []struct {
				Value map[string]any `json:"value"`
				Field string         `json:"field"`
			} `json:"changes"`
		} `json:"entry"`
	}
	require.NoError(t, json.Unmarshal(raw, &fixture))
	tmpl := fixture.Entry[0].Changes[0].Value
	msg := tmpl["messages"].([]any)[0].(map[string]any)
	contact := tmpl["contacts"].([]any)[0].(map[string]any)

	const customers, text = 8, 4000
	perCustomer := size / customers / (text + 200)
	var wamids []string
	var changes []map[string]any
	for c := 0; c < customers; c++ {
		wa := fmt.Sprintf("9198133%05d", c)
		value := map[string]any{}
		for k, v := range tmpl {
			value[k] = v
		}
		value["metadata"] = map[string]any{"display_phone_number": "15550001111", "phone_number_id": phoneNumberID}
		ct := map[string]any{}
		for k, v := range contact {
			ct[k] = v
		}
		ct["wa_id"] = wa
		value["contacts"] = []any{ct}
		var msgs []any
		for i := 0; i < perCustomer; i++ {
			m := map[string]any{}
			for k, v := range msg {
				m[k] = v
			}
			id := fmt.Sprintf("wamid.big.%d.%d", c, i)
			m["from"], m["id"], m["timestamp"] = wa, id, fmt.Sprint(time.Now().Unix())
			m["text"] = map[string]any{"body": fmt.Sprintf("%04d ", i) + strings.Repeat("x", text)}
			msgs = append(msgs, m)
			wamids = append(wamids, id)
		}
		value["messages"] = msgs
		changes = append(changes, map[string]any{"value": value, "field": "messages"})
	}
	body, err := json.Marshal(map[string]any{"object": fixture.Object, "entry": []any{map[string]any{"id": fixture.Entry[0].ID, "changes": changes}}})
	require.NoError(t, err)
	return body, wamids
}

// rawPost posts body (chunked when chunked is set, so no Content-Length)
// and returns the status and the error code of the envelope.
func rawPost(t *testing.T, url, token string, body []byte, chunked bool, headers ...string) (int, string) {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // hides the length
	}
	req, err := http.NewRequest("POST", url, r)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var env struct {
		Status string `json:"status"`
		Code   string `json:"code"`
	}
	_ = json.NewDecoder(res.Body).Decode(&env)
	if res.StatusCode >= 400 {
		require.Equal(t, "error", env.Status, "an error in the contract's envelope")
	}
	return res.StatusCode, env.Code
}

// TestEachRouteHasItsOwnBodyLimit: a signed 2.5 MiB batch (over the API's
// 1 MiB, under WEBHOOK_MAX_BYTES) is accepted and every message in it is
// stored; a webhook over WEBHOOK_MAX_BYTES and an API body over
// MAX_BODY_BYTES are refused with 413 PAYLOAD_TOO_LARGE, declared or
// chunked.
func TestEachRouteHasItsOwnBodyLimit(t *testing.T) {
	cfg := testConfig(t)
	require.Equal(t, int64(3<<20), cfg.WebhookMaxBytes)
	require.Equal(t, int64(1<<20), cfg.MaxBodyBytes)
	l := startLive(t, cfg)
	admin := l.admin()

	body, wamids := bigBatch(t, cfg.WhatsAppPhoneNumberID, 5<<19)
	require.Greater(t, len(body), 2<<20+1<<19-1<<17, "about 2.5 MiB")
	require.Less(t, len(body), 3<<20)
	t.Logf("batch of %d bytes, %d messages", len(body), len(wamids))
	st, _ := rawPost(t, l.url+"/api/whatsapp/webhook", "", body, false, "X-Hub-Signature-256", webhook.Sign(body, testAppSecret))
	require.Equal(t, 200, st)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		for _, id := range wamids {
			if _, err := l.e.store.MessageByWaID(ctx, id); err != nil {
				return false
			}
		}
		return true
	}, 90*time.Second, 200*time.Millisecond, "every message of the batch is stored")

	over := bytes.Repeat([]byte("x"), int(cfg.WebhookMaxBytes)+1)
	for _, chunked := range []bool{false, true} {
		st, code := rawPost(t, l.url+"/api/whatsapp/webhook", "", over, chunked, "X-Hub-Signature-256", webhook.Sign(over, testAppSecret))
		assert.Equal(t, 413, st, "webhook over WEBHOOK_MAX_BYTES, chunked %v", chunked)
		assert.Equal(t, "PAYLOAD_TOO_LARGE", code)
	}

	apiBody := []byte(`{"name":"` + strings.Repeat("n", int(cfg.MaxBodyBytes)) + `","phone":"+14155550100"}`)
	for _, chunked := range []bool{false, true} {
		st, code := rawPost(t, l.url+"/api/customers", admin, apiBody, chunked)
		assert.Equal(t, 413, st, "API body over MAX_BODY_BYTES, chunked %v", chunked)
		assert.Equal(t, "PAYLOAD_TOO_LARGE", code)
	}
	exact := []byte(`{"name":"`)
	exact = append(exact, bytes.Repeat([]byte("n"), int(cfg.MaxBodyBytes)-len(exact)-len(`","phone":"+14155550100"}`)+1)...)
	exact = append(exact, []byte(`","phone":"+14155550100"}`)...)
	require.Len(t, exact, int(cfg.MaxBodyBytes)+1)
	st, code := rawPost(t, l.url+"/api/customers", admin, exact, false)
	assert.Equal(t, 413, st, "MAX_BODY_BYTES+1 is one byte too many")
	assert.Equal(t, "PAYLOAD_TOO_LARGE", code)
}

// TestReadyzChecksRabbitMQ: with RABBITMQ_URL set /readyz reports the
// queue's live connection: up while the broker answers, 503 naming
// rabbitmq while it cannot be reached, up again after the reconnect.
func TestReadyzChecksRabbitMQ(t *testing.T) {
	cfg := testConfig(t)
	broker, err := url.Parse(servicetest.RabbitURL(t))
	require.NoError(t, err)
	p := servicetest.StartProxy(t, broker.Host)
	broker.Host = p.Addr()
	cfg.RabbitMQURL = broker.String()
	cfg.RabbitMQQueue = "test.readyz." + actors.NewID()[16:]
	cfg.RabbitMQCallQueue = cfg.RabbitMQQueue + ".calls"
	t.Cleanup(func() { deleteQueues(t, cfg) })
	l := startLive(t, cfg)

	ready := func() (int, map[string]any) {
		st, body := l.api("GET", "/readyz", "", nil)
		return st, body
	}
	st, body := ready()
	require.Equal(t, 200, st, body)
	// The detail is on the operations listener (METRICS_ADDR).
	res, err := l.client.Get("http://" + l.e.opsAddr + "/readyz")
	require.NoError(t, err)
	var ops struct {
		Data struct {
			Dependencies map[string]struct{ State string } `json:"dependencies"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&ops))
	_ = res.Body.Close()
	assert.Equal(t, "up", ops.Data.Dependencies["rabbitmq"].State)
	assert.Equal(t, "up", ops.Data.Dependencies["store"].State)

	p.Cut()
	require.Eventually(t, func() bool {
		st, body = ready()
		return st == 503
	}, 10*time.Second, 50*time.Millisecond, "the broker is gone")
	assert.Equal(t, "DEPENDENCY_UNAVAILABLE", body["code"])
	assert.Contains(t, body["message"], "rabbitmq")
	fields := body["errors"].([]any)
	require.Len(t, fields, 1, "only the broker is down")
	assert.Equal(t, "rabbitmq", fields[0].(map[string]any)["field"])

	p.Restore()
	require.Eventually(t, func() bool { st, _ = ready(); return st == 200 }, 20*time.Second, 100*time.Millisecond, "up after the reconnect")
}

// TestQueuedMessageNeverPublishedIsSentAfterRestart: a process that died
// between storing a message as queued and publishing it leaves a message
// the queue never had. The next start publishes it (on RabbitMQ as on the
// in-process queue), and it is sent once.
func TestQueuedMessageNeverPublishedIsSentAfterRestart(t *testing.T) {
	t.Parallel()
	queueModes(t, func(t *testing.T, cfg configs.Config) {
		cfg.SandboxStatusDelay = 10 * time.Millisecond
		l := startLive(t, cfg)
		wa := "919811370000"
		c := l.customerWrites(wa)
		l.stop()

		// What the dead process left: the message stored, never published.
		store, err := sqlitestore.Open(context.Background(), filepath.Join(cfg.DataDir, "engine.db"), zap.NewNop())
		require.NoError(t, err)
		now := time.Now().UTC().Truncate(time.Millisecond)
		id := actors.NewID()
		raw := fmt.Sprintf(`{"messaging_product":"whatsapp","recipient_type":"individual","to":%q,"type":"text","text":{"body":"stored, never published"}}`, wa)
		require.NoError(t, store.AppendMessage(context.Background(), actors.Message{ID: id, ConversationID: c.ID, Direction: actors.DirectionOutbound,
			Type: "text", Text: "stored, never published", Content: []byte(`{"body":"stored, never published"}`), Status: actors.StatusQueued,
			Raw: []byte(raw), CreatedAt: now, UpdatedAt: now}))
		require.NoError(t, store.Close())

		l.start()
		sb := l.sandbox()
		require.Eventually(t, func() bool { return l.messageStatus(id) != actors.StatusQueued }, 20*time.Second, 20*time.Millisecond)
		require.Contains(t, []string{actors.StatusSent, actors.StatusDelivered, actors.StatusRead}, l.messageStatus(id))
		require.Never(t, func() bool { return len(sentTo(sb, wa)) > 1 }, 500*time.Millisecond, 50*time.Millisecond, "sent once")
		require.Len(t, sentTo(sb, wa), 1)
	})
}

// TestIdempotencyLeaseTakeOver: a claim whose lease is still running
// answers 409 with Retry-After until the lease ends; a claim whose lease
// ran out (its process died) is taken over by the repeat, which runs and
// answers 202; another body under that key is still 422.
func TestIdempotencyLeaseTakeOver(t *testing.T) {
	l := startLive(t, testConfig(t))
	admin := l.admin()
	wa := "919811390000"
	l.customerWrites(wa)
	st, me := l.api("GET", "/api/auth/me", admin, nil)
	require.Equal(t, 200, st, me)
	userID := me["data"].(map[string]any)["user"].(map[string]any)["id"].(string)

	body := map[string]any{"to": "+" + wa, "type": "text", "text": map[string]string{"body": "leased"}}
	raw, _ := json.Marshal(body)
	sum := sha256.Sum256(raw)
	claim := func(header string, leaseUntil time.Time) {
		now := time.Now().UTC()
		_, err := l.e.store.ClaimIdempotency(context.Background(), actors.IdempotencyRecord{
			Key: userID + ":POST:/api/whatsapp/messages:" + header, RequestHash: hex.EncodeToString(sum[:]), Owner: "a-dead-process",
			CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour), LeaseUntil: leaseUntil})
		require.NoError(t, err)
	}

	claim("running", time.Now().Add(time.Minute))
	status, hdr, out := gatewaytest.Call(t, l.client, "POST", l.url+"/api/whatsapp/messages", admin, body, "Idempotency-Key", "running")
	require.Equal(t, 409, status, string(out))
	retry, err := strconv.Atoi(hdr.Get("Retry-After"))
	require.NoError(t, err)
	assert.InDelta(t, 60, retry, 2, "until the lease ends")

	claim("dead", time.Now().Add(-time.Second))
	status, hdr, out = gatewaytest.Call(t, l.client, "POST", l.url+"/api/whatsapp/messages", admin, body, "Idempotency-Key", "dead")
	require.Equal(t, 202, status, string(out))
	assert.Empty(t, hdr.Get("Idempotent-Replayed"), "run, not replayed")
	status, hdr, _ = gatewaytest.Call(t, l.client, "POST", l.url+"/api/whatsapp/messages", admin, body, "Idempotency-Key", "dead")
	require.Equal(t, 202, status)
	assert.Equal(t, "true", hdr.Get("Idempotent-Replayed"), "and answered once for good")
	status, _, _ = gatewaytest.Call(t, l.client, "POST", l.url+"/api/whatsapp/messages", admin,
		map[string]any{"to": "+" + wa, "type": "text", "text": map[string]string{"body": "another"}}, "Idempotency-Key", "dead")
	require.Equal(t, 422, status)
	sb := l.sandbox()
	require.Eventually(t, func() bool { return len(sentTo(sb, wa)) == 1 }, 10*time.Second, 10*time.Millisecond)
}
