package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeGraph is Meta's Graph API for an engine with a real access token:
// the business account's message_templates (two pages) and the messages
// endpoint, recording what was sent.
type fakeGraph struct {
	srv  *httptest.Server
	waba string
	// down makes the template listing answer Meta's error.
	down atomic.Bool
	// listed counts template listings.
	listed atomic.Int64

	mu   sync.Mutex
	sent []string
}

const graphPage1 = `{"data":[
 {"name":"order_update","language":"en_US","status":"APPROVED","category":"UTILITY","id":"11","parameter_format":"POSITIONAL",
  "components":[{"type":"BODY","text":"Your order {{1}} has been updated."}]},
 {"name":"spring_sale","language":"en_US","status":"PAUSED","category":"MARKETING","id":"12",
  "components":[{"type":"BODY","text":"Sale: {{1}} off"}],"quality_score":{"score":"RED"}}],
 "paging":{"cursors":{"before":"b1","after":"p2"},"next":"https://graph.facebook.com/v21.0/x/message_templates?after=p2"}}`

const graphPage2 = `{"data":[
 {"name":"welcome","language":"en","status":"APPROVED","category":"MARKETING","id":"13","components":[{"type":"BODY","text":"Hi!"}]}],
 "paging":{"cursors":{"before":"p2","after":"p3"}}}`

func newFakeGraph(t *testing.T, waba string) *fakeGraph {
	t.Helper()
	g := &fakeGraph{waba: waba}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v21.0/"+waba+"/message_templates":
			g.listed.Add(1)
			if g.down.Load() {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, `{"error":{"message":"An unknown error has occurred.","type":"OAuthException","code":1,"fbtrace_id":"x"}}`)
				return
			}
			if r.URL.Query().Get("after") == "p2" {
				_, _ = io.WriteString(w, graphPage2)
				return
			}
			_, _ = io.WriteString(w, graphPage1)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages"):
			body, _ := io.ReadAll(r.Body)
			g.mu.Lock()
			g.sent = append(g.sent, string(body))
			n := len(g.sent)
			g.mu.Unlock()
			_, _ = fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.fake%d"}]}`, n)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"message":"Unknown path","type":"GraphMethodException","code":100}}`)
		}
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// sentTo returns the bodies sent to wa.
func (g *fakeGraph) sentTo(wa string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, b := range g.sent {
		if strings.Contains(b, `"to":"`+wa+`"`) {
			out = append(out, b)
		}
	}
	return out
}

// graphConfig is an engine sending to g with a real-looking token (no
// sandbox) for the business account waba ("" for none).
func graphConfig(t *testing.T, g *fakeGraph, waba string) *live {
	t.Helper()
	cfg := testConfig(t)
	cfg.WhatsAppAccessToken = "EAAtest"
	cfg.WhatsAppAPIURL = g.srv.URL
	cfg.WhatsAppBusinessAccountID = waba
	return startLive(t, cfg)
}

func templateSend(to, name, lang string, components ...any) map[string]any {
	tpl := map[string]any{"name": name, "language": lang}
	if len(components) > 0 {
		tpl["components"] = components
	}
	return map[string]any{"to": to, "template": tpl}
}

func bodyParams(values ...string) map[string]any {
	var ps []any
	for _, v := range values {
		ps = append(ps, map[string]string{"type": "text", "text": v})
	}
	return map[string]any{"type": "body", "parameters": ps}
}

// TestTemplatesFromGraph: the registry is synced at start from every page
// of the account's message_templates, sends are checked against it, and
// what is refused never reaches the Graph API.
func TestTemplatesFromGraph(t *testing.T) {
	t.Parallel()
	g := newFakeGraph(t, "555000111")
	l := graphConfig(t, g, "555000111")
	admin := l.admin()

	var list map[string]any
	require.Eventually(t, func() bool {
		st, body := l.api("GET", "/api/whatsapp/templates", admin, nil)
		list = body
		return st == http.StatusOK && body["data"].(map[string]any)["total"] == 3.0
	}, 10*time.Second, 20*time.Millisecond, "both pages synced at start")
	data := list["data"].(map[string]any)
	assert.Equal(t, "555000111", data["businessAccountId"])
	assert.NotNil(t, data["syncedAt"])
	var names []string
	for _, it := range data["items"].([]any) {
		m := it.(map[string]any)
		names = append(names, m["name"].(string)+"/"+m["language"].(string)+"/"+fmt.Sprint(m["usable"]))
	}
	assert.Equal(t, []string{"order_update/en_US/true", "spring_sale/en_US/false", "welcome/en/true"}, names)

	tests := []struct {
		name       string
		send       map[string]any
		wantStatus int
		wantCode   string
	}{
		{name: "unknown template", send: templateSend("+919822200001", "nope", "en"), wantStatus: 422, wantCode: "TEMPLATE_NOT_FOUND"},
		{name: "paused", send: templateSend("+919822200002", "spring_sale", "en_US", bodyParams("20%")), wantStatus: 422, wantCode: "TEMPLATE_NOT_APPROVED"},
		{name: "parameter missing", send: templateSend("+919822200003", "order_update", "en_US"), wantStatus: 422, wantCode: "TEMPLATE_PARAMETERS"},
		{name: "fits", send: templateSend("+919822200004", "order_update", "en_US", bodyParams("#42")), wantStatus: 202},
	}
	for _, tt := range tests {
		st, body := l.api("POST", "/api/whatsapp/messages/template", admin, tt.send)
		require.Equal(t, tt.wantStatus, st, "%s: %v", tt.name, body)
		if tt.wantCode != "" {
			assert.Equal(t, tt.wantCode, body["code"], tt.name)
		}
	}
	require.Eventually(t, func() bool { return len(g.sentTo("919822200004")) == 1 }, 10*time.Second, 20*time.Millisecond)
	for _, wa := range []string{"919822200001", "919822200002", "919822200003"} {
		assert.Empty(t, g.sentTo(wa), "a refused template never reaches WhatsApp")
	}
}

// TestTemplatesUncheckedUntilTheFirstSync: while the account was never
// synced the engine cannot tell, so template sends go to WhatsApp as
// before; an admin's sync that fails is 503 and changes nothing; once a
// sync works, sends are checked.
func TestTemplatesUncheckedUntilTheFirstSync(t *testing.T) {
	t.Parallel()
	g := newFakeGraph(t, "555000222")
	g.down.Store(true)
	l := graphConfig(t, g, "555000222")
	admin := l.admin()
	require.Eventually(t, func() bool { return g.listed.Load() >= 1 }, 10*time.Second, 10*time.Millisecond, "the start-up sync ran")

	st, body := l.api("POST", "/api/whatsapp/messages/template", admin, templateSend("+919822200011", "anything", "en"))
	require.Equal(t, 202, st, "unchecked before the first sync: %v", body)
	st, body = l.api("GET", "/api/whatsapp/templates", admin, nil)
	require.Equal(t, 200, st, body)
	assert.Nil(t, body["data"].(map[string]any)["syncedAt"])
	assert.EqualValues(t, 0, body["data"].(map[string]any)["total"])

	st, body = l.api("POST", "/api/whatsapp/templates/sync", admin, nil)
	require.Equal(t, 503, st, body)
	assert.Equal(t, "DEPENDENCY_UNAVAILABLE", body["code"])

	g.down.Store(false)
	st, body = l.api("POST", "/api/whatsapp/templates/sync", admin, nil)
	require.Equal(t, 200, st, body)
	res := body["data"].(map[string]any)
	assert.EqualValues(t, 3, res["total"])
	assert.Equal(t, map[string]any{"APPROVED": 2.0, "PAUSED": 1.0}, res["byStatus"])

	st, body = l.api("POST", "/api/whatsapp/messages/template", admin, templateSend("+919822200012", "anything", "en"))
	require.Equal(t, 422, st, body)
	assert.Equal(t, "TEMPLATE_NOT_FOUND", body["code"])
	require.Eventually(t, func() bool { return len(g.sentTo("919822200011")) == 1 }, 10*time.Second, 20*time.Millisecond)
	assert.Empty(t, g.sentTo("919822200012"))
}

// TestTemplatesWithoutBusinessAccount: an engine with a token but no
// WHATSAPP_BUSINESS_ACCOUNT_ID keeps no templates and checks no sends.
func TestTemplatesWithoutBusinessAccount(t *testing.T) {
	t.Parallel()
	g := newFakeGraph(t, "555000333")
	l := graphConfig(t, g, "")
	admin := l.admin()
	for _, path := range []string{"/api/whatsapp/templates", "/api/whatsapp/templates/sync"} {
		method := "GET"
		if strings.HasSuffix(path, "sync") {
			method = "POST"
		}
		st, body := l.api(method, path, admin, nil)
		assert.Equal(t, 404, st, "%s: %v", path, body)
		assert.Contains(t, body["message"], "WHATSAPP_BUSINESS_ACCOUNT_ID")
	}
	st, body := l.api("POST", "/api/whatsapp/messages/template", admin, templateSend("+919822200021", "anything", "en"))
	require.Equal(t, 202, st, body)
	require.Eventually(t, func() bool { return len(g.sentTo("919822200021")) == 1 }, 10*time.Second, 20*time.Millisecond)
	assert.Zero(t, g.listed.Load(), "nothing is listed")
	raw, _ := json.Marshal(body)
	assert.NotContains(t, string(raw), "TEMPLATE_")
}
