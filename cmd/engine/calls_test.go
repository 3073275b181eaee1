package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway/sandbox/exotel"
	"github.com/wacc/engine/persistence/servicetest"
)

// callConfig is testConfig with a fast Exotel sandbox and short call
// timings, so a call without its terminal callback expires in about 2s.
func callConfig(t *testing.T) configs.Config {
	cfg := testConfig(t)
	cfg.SandboxExotelRingDelay = 30 * time.Millisecond
	cfg.SandboxExotelTalkDelay = 80 * time.Millisecond
	cfg.CallRingTimeout = time.Second
	cfg.CallTimeLimit = time.Second
	cfg.CallExpiryGrace = 300 * time.Millisecond
	return cfg
}

// callQueueModes runs a calls test on the in-process queues and on
// RabbitMQ (fresh queue names).
func callQueueModes(t *testing.T, run func(t *testing.T, cfg configs.Config)) {
	t.Run("in-process", func(t *testing.T) { t.Parallel(); run(t, callConfig(t)) })
	t.Run("rabbitmq", func(t *testing.T) {
		t.Parallel()
		cfg := callConfig(t)
		cfg.RabbitMQURL = servicetest.RabbitURL(t)
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		cfg.RabbitMQQueue = "test.outbound." + hex.EncodeToString(b)
		cfg.RabbitMQCallQueue = cfg.RabbitMQQueue + ".calls"
		t.Cleanup(func() { deleteQueues(t, cfg) })
		run(t, cfg)
	})
}

func (l *live) exotel() *exotel.Sandbox {
	l.t.Helper()
	var sb *exotel.Sandbox
	require.Eventually(l.t, func() bool { sb = l.e.calls.sandbox.Load(); return sb != nil }, 5*time.Second, 10*time.Millisecond)
	return sb
}

// indianMobile returns a random valid Indian mobile number ending in
// suffix (4 digits), which picks the sandbox's outcome.
func indianMobile(t *testing.T, suffix string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(10000))
	require.NoError(t, err)
	return fmt.Sprintf("+9198%04d%s", n.Int64(), suffix)
}

// caller creates a user of role with a phone and returns its id and token.
func (l *live) caller(role actors.Role) (string, string) {
	l.t.Helper()
	id, token := l.user(role)
	st, body := l.api("PATCH", "/api/auth/me", token, map[string]any{"phone": indianMobile(l.t, "1111")})
	require.Equal(l.t, 200, st, body)
	return id, token
}

// customerWithPhone creates a customer and returns its id.
func (l *live) customerWithPhone(token, phone string) string {
	l.t.Helper()
	st, body := l.api("POST", "/api/customers", token, map[string]any{"name": "Caller " + phone, "phone": phone})
	require.Equal(l.t, 201, st, body)
	return body["data"].(map[string]any)["customer"].(map[string]any)["id"].(string)
}

// initiate starts a call and returns it.
func (l *live) initiate(token string, req map[string]any) map[string]any {
	l.t.Helper()
	st, body := l.api("POST", "/api/calls/initiate", token, req)
	require.Equal(l.t, 202, st, body)
	return body["data"].(map[string]any)["call"].(map[string]any)
}

// callSettles waits until GET /api/calls/{id} shows status and returns it.
func (l *live) callSettles(token, id, status string, within time.Duration) map[string]any {
	l.t.Helper()
	var c map[string]any
	require.Eventually(l.t, func() bool {
		st, body := l.api("GET", "/api/calls/"+id, token, nil)
		if st != 200 {
			return false
		}
		c = body["data"].(map[string]any)["call"].(map[string]any)
		return c["status"] == status
	}, within, 20*time.Millisecond, "call %s reaches %s (last %v)", id, status, c)
	return c
}

// auditOf returns the audit records of resource with action.
func (l *live) auditOf(admin, action, resource string) []map[string]any {
	l.t.Helper()
	st, body := l.api("GET", "/api/audit?limit=100&action="+action, admin, nil)
	require.Equal(l.t, 200, st, body)
	var out []map[string]any
	for _, it := range body["data"].(map[string]any)["items"].([]any) {
		rec := it.(map[string]any)
		if rec["resource"] == resource {
			out = append(out, rec)
		}
	}
	return out
}

// TestCallOutcomes places one call per outcome through the real HTTP API,
// the queue (in process and RabbitMQ) and the Exotel sandbox, and checks the
// stored call, the caller's socket frames, the audit and that Exotel was
// asked once per call.
func TestCallOutcomes(t *testing.T) {
	callQueueModes(t, func(t *testing.T, cfg configs.Config) {
		l := startLive(t, cfg)
		sb := l.exotel()
		outcomes := []struct {
			suffix, status string
			answered       bool
		}{{"0001", actors.CallCompleted, true}, {"0005", actors.CallBusy, false}, {"0006", actors.CallNoAnswer, false}, {"0007", actors.CallFailed, false}}
		type placed struct {
			id, phone, status string
			answered          bool
			token             string
			ws                *wsClient
		}
		var calls []placed
		for _, o := range outcomes {
			_, token := l.caller(actors.RoleSupervisor)
			ws := l.socket(token)
			phone := indianMobile(t, o.suffix)
			cust := l.customerWithPhone(token, phone)
			c := l.initiate(token, map[string]any{"customerId": cust, "record": true})
			assert.Equal(t, actors.CallQueued, c["status"])
			assert.Equal(t, actors.StateNew, c["state"])
			assert.Equal(t, phone, c["to"])
			calls = append(calls, placed{id: c["id"].(string), phone: phone, status: o.status, answered: o.answered, token: token, ws: ws})
		}
		// One admin login for the audit reads: a login per poll (a password
		// hash, slow under -race) made the polls too few to see the audit
		// in time on a loaded machine.
		admin := l.admin()
		for _, c := range calls {
			got := l.callSettles(c.token, c.id, c.status, 15*time.Second)
			assert.Equal(t, actors.StateClosed, got["state"])
			assert.NotEmpty(t, got["exotelSid"])
			if c.answered {
				assert.Greater(t, got["durationSec"], 0.0)
			} else {
				assert.Equal(t, 0.0, got["durationSec"])
			}
			placedAt := sb.CallsTo(c.phone)
			require.Len(t, placedAt, 1, "Exotel is asked once for %s", c.phone)
			assert.Equal(t, c.id, placedAt[0].CustomField)
			assert.Equal(t, got["exotelSid"], placedAt[0].Sid)
			require.Eventually(t, func() bool { return c.ws.has("call.updated", `"status":"`+c.status+`"`) }, 5*time.Second, 20*time.Millisecond,
				"the caller's socket gets the terminal call.updated")
			assert.True(t, c.ws.has("call.updated", `"status":"queued"`), "and the first one")
			require.Eventually(t, func() bool {
				return len(l.auditOf(admin, "calls.status", "call:"+c.id)) >= 3 && len(l.auditOf(admin, "calls.initiate", "call:"+c.id)) == 1
			}, 15*time.Second, 50*time.Millisecond, "every transition is audited, the request once")
		}
	})
}

// TestCallRefusals: what is refused before any call is placed.
func TestCallRefusals(t *testing.T) {
	t.Parallel()
	l := startLive(t, callConfig(t))
	sb := l.exotel()
	_, phoneless := l.user(actors.RoleSupervisor)
	_, sup := l.caller(actors.RoleSupervisor)
	agentID, agent := l.caller(actors.RoleAgent)
	noPhone := l.customerWithPhone(sup, indianMobile(t, "0001"))
	st, body := l.api("POST", "/api/calls/initiate", phoneless, map[string]any{"customerId": noPhone})
	assert.Equal(t, 400, st, body)
	assert.Contains(t, fmt.Sprint(body["errors"]), "AGENT_NO_PHONE")
	st, body = l.api("POST", "/api/calls/initiate", sup, map[string]any{"customerId": "nope"})
	assert.Equal(t, 404, st, body)
	st, body = l.api("POST", "/api/calls/initiate", sup, map[string]any{"customerId": noPhone, "agentPhone": "12"})
	assert.Equal(t, 400, st, body)
	st, body = l.api("POST", "/api/calls/initiate", sup, map[string]any{"customerId": noPhone, "status": "completed"})
	assert.Equal(t, 400, st, body, "unknown fields are refused")

	// An agent cannot call, nor see the calls of, a customer it has no
	// conversation with.
	st, body = l.api("POST", "/api/calls/initiate", agent, map[string]any{"customerId": noPhone})
	assert.Equal(t, 404, st, body)
	supCall := l.initiate(sup, map[string]any{"customerId": noPhone})
	st, _ = l.api("GET", "/api/calls/"+supCall["id"].(string), agent, nil)
	assert.Equal(t, 404, st)
	st, _ = l.api("GET", "/api/calls/customer/"+noPhone, agent, nil)
	assert.Equal(t, 404, st)

	// One live call per agent: a second is a 409 while the first rings.
	wa := strings.TrimPrefix(indianMobile(t, "0001"), "+")
	conv := l.customerWrites(wa)
	st, body = l.api("POST", "/api/whatsapp/conversations/"+conv.ID+"/assign", l.admin(), map[string]any{"agentId": agentID})
	require.Equal(t, 200, st, body)
	first := l.initiate(agent, map[string]any{"customerId": conv.CustomerID, "conversationId": conv.ID})
	assert.Equal(t, conv.ID, first["conversationId"])
	st, body = l.api("POST", "/api/calls/initiate", agent, map[string]any{"customerId": conv.CustomerID})
	assert.Equal(t, 409, st, body)
	assert.Equal(t, "CONFLICT", body["code"])
	l.callSettles(agent, first["id"].(string), actors.CallCompleted, 15*time.Second)
	st, body = l.api("GET", "/api/calls/customer/"+conv.CustomerID, agent, nil)
	require.Equal(t, 200, st, body)
	assert.Len(t, body["data"].(map[string]any)["items"], 1)
	assert.Len(t, sb.CallsTo("+"+wa), 1, "the refused second call was never placed")
}

// postCallback posts an Exotel-shaped JSON callback with the given secret.
func (l *live) postCallback(secret string, fields map[string]any) int {
	l.t.Helper()
	body := fmt.Sprintf(`{"CallSid":%q,"EventType":%q,"Status":%q,"DateUpdated":%q,"CustomField":%q,"ConversationDuration":%v}`,
		fields["CallSid"], fields["EventType"], fields["Status"], fields["DateUpdated"], fields["CustomField"], fields["ConversationDuration"])
	req, err := http.NewRequest("POST", l.url+"/api/calls/webhook?"+url.Values{"secret": {secret}}.Encode(), bytes.NewReader([]byte(body)))
	require.NoError(l.t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := l.client.Do(req)
	require.NoError(l.t, err)
	res.Body.Close()
	return res.StatusCode
}

// TestCallWebhook: a wrong secret is refused and stored nowhere; repeats
// and a late answered after completed change nothing.
func TestCallWebhook(t *testing.T) {
	t.Parallel()
	cfg := callConfig(t)
	// The sandbox never answers (0008 sends no terminal callback, and
	// these lengths keep it ringing): the test posts the callbacks itself.
	cfg.SandboxExotelRingDelay, cfg.SandboxExotelTalkDelay = time.Minute, time.Minute
	cfg.CallTimeLimit, cfg.CallRingTimeout = time.Hour, time.Minute
	cfg.ExotelWebhookSecret = "s3cret-callback-token-0123456789"
	l := startLive(t, cfg)
	_, sup := l.caller(actors.RoleSupervisor)
	cust := l.customerWithPhone(sup, indianMobile(t, "0008"))
	c := l.initiate(sup, map[string]any{"customerId": cust})
	id := c["id"].(string)
	active := l.callSettles(sup, id, actors.CallRinging, 10*time.Second)
	sid := active["exotelSid"].(string)
	ctx := context.Background()

	completed := map[string]any{"CallSid": sid, "EventType": "terminal", "Status": "completed", "DateUpdated": "2026-12-05 10:05:00",
		"CustomField": id, "ConversationDuration": 95}
	assert.Equal(t, 401, l.postCallback("wrong-secret-wrong-secret-000000", completed))
	assert.Equal(t, 401, l.postCallback("", completed))
	evs, err := l.e.store.UnappliedCallEvents(ctx, 100)
	require.NoError(t, err)
	assert.Empty(t, evs, "a refused callback is stored nowhere")
	stored, err := l.e.store.Call(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, actors.CallRinging, stored.Status)

	assert.Equal(t, 200, l.postCallback(cfg.ExotelWebhookSecret, completed))
	got := l.callSettles(sup, id, actors.CallCompleted, 5*time.Second)
	assert.Equal(t, 95.0, got["durationSec"])
	before, err := l.e.store.Call(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 200, l.postCallback(cfg.ExotelWebhookSecret, completed), "a repeat is answered 200")
	late := map[string]any{"CallSid": sid, "EventType": "answered", "Status": "in-progress", "DateUpdated": "2026-12-05 10:04:00",
		"CustomField": id, "ConversationDuration": 0}
	assert.Equal(t, 200, l.postCallback(cfg.ExotelWebhookSecret, late))
	// Once every stored callback is applied, the repeat and the late one
	// have been through the actor: only then does "unchanged" mean anything.
	require.Eventually(t, func() bool {
		evs, err := l.e.store.UnappliedCallEvents(ctx, 100)
		return err == nil && len(evs) == 0
	}, 5*time.Second, 20*time.Millisecond, "every stored callback is applied")
	after, err := l.e.store.Call(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, before.Version, after.Version, "a repeat and a late answered change nothing")
	assert.Equal(t, actors.CallCompleted, after.Status)
	assert.Equal(t, 95, after.DurationSec)
	unknown := map[string]any{"CallSid": "nosuchsid", "EventType": "terminal", "Status": "completed", "DateUpdated": "2026-12-05 10:05:00",
		"CustomField": "", "ConversationDuration": 1}
	assert.Equal(t, 404, l.postCallback(cfg.ExotelWebhookSecret, unknown))
}

// TestMissingTerminalCallbackSettledByLookup: the 0008 number never gets
// its terminal callback; the call expires and Exotel's call details settle
// it.
func TestMissingTerminalCallbackSettledByLookup(t *testing.T) {
	t.Parallel()
	l := startLive(t, callConfig(t))
	_, sup := l.caller(actors.RoleSupervisor)
	ws := l.socket(sup)
	cust := l.customerWithPhone(sup, indianMobile(t, "0008"))
	c := l.initiate(sup, map[string]any{"customerId": cust})
	got := l.callSettles(sup, c["id"].(string), actors.CallCompleted, 20*time.Second)
	assert.Equal(t, actors.StateClosed, got["state"])
	assert.True(t, ws.has("call.updated", `"state":"expired"`), "the call went through expired")
}

// TestCallPlacedOnceAcrossRestart: the engine stops after accepting a call
// and before Exotel accepted it; after the restart the call is placed
// exactly once.
func TestCallPlacedOnceAcrossRestart(t *testing.T) {
	callQueueModes(t, func(t *testing.T, cfg configs.Config) {
		l := startLive(t, cfg)
		_, sup := l.caller(actors.RoleSupervisor)
		phone := indianMobile(t, "0001")
		cust := l.customerWithPhone(sup, phone)
		// Exotel is down: the connect job is retried, nothing is placed.
		l.exotel().ArmFault(exotel.FaultUnavailable, 1000)
		c := l.initiate(sup, map[string]any{"customerId": cust})
		id := c["id"].(string)
		time.Sleep(300 * time.Millisecond)
		assert.Empty(t, l.exotel().CallsTo(phone))
		l.restart()
		// The new engine has a new sandbox, healthy: the call is placed once.
		sb := l.exotel()
		l.callSettles(sup, id, actors.CallCompleted, 20*time.Second)
		time.Sleep(500 * time.Millisecond)
		assert.Len(t, sb.CallsTo(phone), 1, "placed exactly once after the restart")
	})
}
