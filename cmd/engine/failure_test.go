package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// metaFake is a fake WhatsApp Cloud API of its own (no sandbox behind it):
// it answers a recipient's sends with Meta's error object for the code a
// test asked for, under the HTTP status asked for, and accepts everything
// else with a fresh wamid. It records every send with the business number
// it was posted to.
type metaFake struct {
	srv *httptest.Server

	mu      sync.Mutex
	answers map[string]*fakeAnswer // wa_id -> answer
	calls   []metaCall
}

// fakeAnswer is the error a recipient's sends get; times > 0 answers it
// that many times, then accepts.
type fakeAnswer struct {
	code, status, times, used int
}

type metaCall struct {
	phoneNumberID, to, wamid string
	body                     string
	code                     int
}

func newMetaFake(t *testing.T) *metaFake {
	t.Helper()
	f := &metaFake{answers: map[string]*fakeAnswer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *metaFake) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	// POST /{version}/{phone-number-id}/messages
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodPost || len(parts) != 3 || parts[2] != "messages" {
		http.NotFound(w, r)
		return
	}
	var req struct {
		To string `json:"to"`
	}
	_ = json.Unmarshal(raw, &req)
	f.mu.Lock()
	call := metaCall{phoneNumberID: parts[1], to: req.To, body: string(raw)}
	a := f.answers[req.To]
	if a != nil && (a.times == 0 || a.used < a.times) {
		a.used++
		call.code = a.code
	} else {
		call.wamid = fmt.Sprintf("wamid.fake.%d.%s", len(f.calls), actors.NewID()[18:])
	}
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if call.code != 0 {
		w.WriteHeader(a.status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
			"message": fmt.Sprintf("(#%d) error %d", call.code, call.code), "type": "OAuthException", "code": call.code,
			"error_data": map[string]any{"messaging_product": "whatsapp", "details": fmt.Sprintf("details of %d", call.code)},
			"fbtrace_id": "AbCdEfGhIjKlMnOpQrStUvW"}})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"messaging_product": "whatsapp",
		"contacts": []map[string]string{{"input": req.To, "wa_id": req.To}}, "messages": []map[string]string{{"id": call.wamid}}})
}

// answer makes the fake answer wa's sends with code under HTTP status
// (times > 0: that many times).
func (f *metaFake) answer(wa string, code, status, times int) {
	f.mu.Lock()
	f.answers[wa] = &fakeAnswer{code: code, status: status, times: times}
	f.mu.Unlock()
}

func (f *metaFake) callsTo(wa string) []metaCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []metaCall
	for _, c := range f.calls {
		if c.to == wa {
			out = append(out, c)
		}
	}
	return out
}

// failedStatusBody is a failed status webhook for wamid carrying code in
// errors[], as Meta reports a failure after accepting the send.
func failedStatusBody(phoneNumberID, waID, wamid string, code int, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"value":{"messaging_product":"whatsapp",`+
		`"metadata":{"display_phone_number":"15550001111","phone_number_id":%q},`+
		`"statuses":[{"id":%q,"status":"failed","timestamp":"%d","recipient_id":%q,"errors":[{"code":%d,"title":"error %d",`+
		`"message":"error %d","error_data":{"details":"details of %d"},"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]}]},`+
		`"field":"messages"}]}]}`, phoneNumberID, wamid, at.Unix(), waID, code, code, code, code))
}

// failureCase is one of Meta's error codes and what the engine must do
// about it, answered to the send (sync) or reported later in a failed
// status (late).
type failureCase struct {
	code int
	// send is the kind of message: text, template or image.
	send string
	kind string
	// scope is what the code pauses: "", "recipient" or "number".
	scope string
	// expires: the conversation's window is closed (templates only).
	expires bool
	// syncStatus is the message's status after the error answered to the
	// send: failed, or queued (held back while paused), or sent (retried).
	syncStatus string
	// times is how often the fake answers the code (0: always).
	times int
}

var failureCases = []failureCase{
	{code: 131047, send: "text", kind: actors.FailureWindowClosed, expires: true, syncStatus: actors.StatusFailed},
	{code: 131026, send: "text", kind: actors.FailureUndeliverable, syncStatus: actors.StatusFailed},
	{code: 131048, send: "text", kind: actors.FailureRecipientLimited, scope: "recipient", syncStatus: actors.StatusQueued},
	{code: 131049, send: "text", kind: actors.FailureRecipientLimited, scope: "recipient", syncStatus: actors.StatusQueued},
	{code: 131056, send: "text", kind: actors.FailureRecipientLimited, scope: "recipient", syncStatus: actors.StatusSent, times: 1},
	{code: 131042, send: "text", kind: actors.FailureNumberBlocked, scope: "number", syncStatus: actors.StatusQueued},
	{code: 131031, send: "text", kind: actors.FailureNumberBlocked, scope: "number", syncStatus: actors.StatusQueued},
	{code: 368, send: "text", kind: actors.FailureNumberBlocked, scope: "number", syncStatus: actors.StatusQueued},
	{code: 132000, send: "template", kind: actors.FailureTemplate, syncStatus: actors.StatusFailed},
	{code: 132001, send: "template", kind: actors.FailureTemplate, syncStatus: actors.StatusFailed},
	{code: 132005, send: "template", kind: actors.FailureTemplate, syncStatus: actors.StatusFailed},
	{code: 132007, send: "template", kind: actors.FailureTemplate, syncStatus: actors.StatusFailed},
	{code: 132012, send: "template", kind: actors.FailureTemplate, syncStatus: actors.StatusFailed},
	{code: 132015, send: "template", kind: actors.FailureTemplate, syncStatus: actors.StatusFailed},
	{code: 132016, send: "template", kind: actors.FailureTemplate, syncStatus: actors.StatusFailed},
	{code: 131052, send: "image", kind: actors.FailureMedia, syncStatus: actors.StatusFailed},
	{code: 131053, send: "image", kind: actors.FailureMedia, syncStatus: actors.StatusFailed},
}

// TestFailureCodesAnswered: each code answered to the send (HTTP 400 for
// some, 500 or 403 for others: the code decides, never the status) has its
// consequences.
func TestFailureCodesAnswered(t *testing.T) {
	t.Parallel()
	runFailureCases(t, false)
}

// TestFailureCodesLate: each code reported in a failed status after Meta
// accepted the send has the same consequences as when answered.
func TestFailureCodesLate(t *testing.T) {
	t.Parallel()
	runFailureCases(t, true)
}

func runFailureCases(t *testing.T, late bool) {
	api := newMetaFake(t)
	cfg := testConfig(t)
	cfg.WhatsAppAccessToken = "token-under-test"
	cfg.WhatsAppAPIURL = api.srv.URL
	cfg.SendWorkers = 1
	l := startLive(t, cfg)
	admin := l.admin()
	agentID, agent := l.user(actors.RoleAgent)
	_, supervisor := l.user(actors.RoleSupervisor)
	path := 1
	if late {
		path = 2
	}
	statuses := []int{http.StatusBadRequest, http.StatusInternalServerError, http.StatusForbidden}
	for i, tc := range failureCases {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			wa := fmt.Sprintf("91981%06d%d", tc.code%1000000, path)
			number := cfg.WhatsAppPhoneNumberID
			if tc.scope == "number" {
				number = fmt.Sprintf("7700%06d%d", tc.code%1000000, path) // its own business number: the pause stops it
			}
			require.Equal(t, 200, l.webhook(textBody(number, wa, "wamid.in."+wa, "hello", time.Now()), ""))
			c := l.conversationOf(number, wa)
			st, body := l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/assign", admin, map[string]any{"agentId": agentID})
			require.Equal(t, http.StatusOK, st, body)
			if !late {
				api.answer(wa, tc.code, statuses[i%len(statuses)], tc.times)
			}
			id := l.sendKind(admin, wa, tc.send)

			if !late {
				require.Eventually(t, func() bool { return len(api.callsTo(wa)) >= 1 }, 10*time.Second, 10*time.Millisecond)
				assert.Equal(t, number, api.callsTo(wa)[0].phoneNumberID, "sent from the number the customer wrote to")
				require.Eventually(t, func() bool { return l.messageStatus(id) == tc.syncStatus }, 30*time.Second, 20*time.Millisecond,
					"%d answered: message %s", tc.code, tc.syncStatus)
			} else {
				require.Eventually(t, func() bool { return l.messageStatus(id) == actors.StatusSent }, 10*time.Second, 10*time.Millisecond)
				calls := api.callsTo(wa)
				require.Len(t, calls, 1)
				assert.Equal(t, number, calls[0].phoneNumberID, "sent from the number the customer wrote to")
				require.Equal(t, 200, l.webhook(failedStatusBody(number, wa, calls[0].wamid, tc.code, time.Now()), ""))
				require.Eventually(t, func() bool { return l.messageStatus(id) == actors.StatusFailed }, 10*time.Second, 10*time.Millisecond,
					"%d reported late: message failed", tc.code)
			}

			if late || tc.syncStatus == actors.StatusFailed {
				// The message view carries the code, the kind and a reason an
				// agent can act on; the agent is notified with it.
				v := l.messageView(admin, c.ID, id)
				e, _ := v["error"].(map[string]any)
				require.NotNil(t, e, "message %v has an error", v)
				assert.EqualValues(t, tc.code, e["code"])
				assert.Equal(t, tc.kind, e["kind"])
				assert.NotEmpty(t, e["reason"])
				if tc.code == 131026 {
					assert.Contains(t, e["reason"], "not on WhatsApp or cannot receive messages; check the number or use another channel")
				}
				require.Eventually(t, func() bool {
					return l.hasNotification(agent, actors.NotifyMessageFailed, fmt.Sprintf("code %d", tc.code))
				},
					5*time.Second, 20*time.Millisecond, "the agent is told why")
			}
			if tc.expires {
				require.Eventually(t, func() bool {
					c, err := l.e.store.Conversation(context.Background(), c.ID)
					return err == nil && c.State == actors.StateExpired
				}, 5*time.Second, 20*time.Millisecond, "131047 closes the window")
				st, body := l.send(admin, "+"+wa, "free-form after 131047")
				assert.Equal(t, http.StatusUnprocessableEntity, st, body)
				assert.Equal(t, "OUTSIDE_SERVICE_WINDOW", body["code"])
			}
			switch tc.scope {
			case "recipient":
				// The next send to that recipient is held back (or, after
				// 131056's seconds, goes out later); it never reaches Meta
				// while the pause lasts.
				before := len(api.callsTo(wa))
				if tc.code == 131056 && !late {
					require.Len(t, api.callsTo(wa), 2, "retried once after the pair-rate pause")
					break
				}
				held := l.metric(`engine_sends_total{outcome="held"}`)
				next := l.sendKind(admin, wa, "text")
				require.Eventually(t, func() bool { return l.metric(`engine_sends_total{outcome="held"}`) > held }, 10*time.Second, 20*time.Millisecond,
					"the recipient is paused")
				assert.Len(t, api.callsTo(wa), before, "nothing reached Meta for the paused recipient")
				if tc.code == 131056 {
					require.Eventually(t, func() bool { return l.messageStatus(next) == actors.StatusSent }, 20*time.Second, 50*time.Millisecond,
						"the pair-rate pause lasts seconds")
				} else {
					assert.Equal(t, actors.StatusQueued, l.messageStatus(next))
				}
			case "number":
				// Another customer of the same business number is held back
				// too, and every admin and supervisor is alerted.
				other := wa[:len(wa)-1] + "9"
				require.Equal(t, 200, l.webhook(textBody(number, other, "wamid.in."+other, "hello", time.Now()), ""))
				l.conversationOf(number, other)
				held := l.metric(`engine_sends_total{outcome="held"}`)
				next := l.sendKind(admin, other, "text")
				require.Eventually(t, func() bool { return l.metric(`engine_sends_total{outcome="held"}`) > held }, 10*time.Second, 20*time.Millisecond,
					"the number is paused")
				assert.Empty(t, api.callsTo(other), "nothing reached Meta from the paused number")
				assert.Equal(t, actors.StatusQueued, l.messageStatus(next))
				for _, tok := range []string{admin, supervisor} {
					require.Eventually(t, func() bool { return l.hasNotification(tok, actors.NotifyNumberBlocked, number) },
						5*time.Second, 20*time.Millisecond, "operators alerted")
				}
				assert.False(t, l.hasNotification(agent, actors.NotifyNumberBlocked, number), "agents are not operators")
			}
		})
	}
	assert.GreaterOrEqual(t, l.metric(`engine_operator_alerts_total{code="368"}`), 1.0)
}

// sendKind sends a message of kind (text, template or image) to wa and
// returns its id.
func (l *live) sendKind(token, wa, kind string) string {
	l.t.Helper()
	path, body := "/api/whatsapp/messages", map[string]any{"to": "+" + wa, "type": "text", "text": map[string]string{"body": "hello " + wa}}
	switch kind {
	case "template":
		path, body = "/api/whatsapp/messages/template", map[string]any{"to": "+" + wa, "template": map[string]any{"name": "order_update", "language": "en_US"}}
	case "image":
		body = map[string]any{"to": "+" + wa, "type": "image", "image": map[string]string{"link": "https://example.com/photo.jpg", "caption": "look"}}
	}
	st, res := l.api("POST", path, token, body)
	require.Equal(l.t, http.StatusAccepted, st, res)
	return res["data"].(map[string]any)["message"].(map[string]any)["id"].(string)
}

// messageView returns message id as GET .../messages shows it.
func (l *live) messageView(token, convID, id string) map[string]any {
	l.t.Helper()
	st, body := l.api("GET", "/api/whatsapp/conversations/"+convID+"/messages?limit=100", token, nil)
	require.Equal(l.t, http.StatusOK, st, body)
	for _, it := range body["data"].(map[string]any)["items"].([]any) {
		if m := it.(map[string]any); m["id"] == id {
			return m
		}
	}
	l.t.Fatalf("message %s not listed", id)
	return nil
}

// hasNotification reports whether the caller has a notification of kind
// whose body mentions text.
func (l *live) hasNotification(token, kind, text string) bool {
	l.t.Helper()
	st, body := l.api("GET", "/api/notifications?limit=100", token, nil)
	if st != http.StatusOK {
		return false
	}
	for _, it := range body["data"].(map[string]any)["items"].([]any) {
		n := it.(map[string]any)
		if n["kind"] == kind && strings.Contains(n["body"].(string), text) {
			return true
		}
	}
	return false
}
