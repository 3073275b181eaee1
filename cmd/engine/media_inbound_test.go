package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/outbound/mediafetch"
	"github.com/wacc/engine/gateway/sandbox/cloudapi"
)

// hasAll reports whether one frame of typ mentions every text in its data.
func (w *wsClient) hasAll(typ string, texts ...string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.frames {
		if f["type"] != typ {
			continue
		}
		raw, _ := json.Marshal(f["data"])
		all := true
		for _, text := range texts {
			all = all && strings.Contains(string(raw), text)
		}
		if all {
			return true
		}
	}
	return false
}

// mediaContent downloads GET /api/media/{id}/content as token's user.
func (l *live) mediaContent(token, id string) (int, []byte) {
	l.t.Helper()
	req, err := http.NewRequest("GET", l.url+"/api/media/"+id+"/content", nil)
	require.NoError(l.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := l.client.Do(req)
	require.NoError(l.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(l.t, err)
	return res.StatusCode, data
}

// storedBytes reads the engine's bytes of a medium.
func (l *live) storedBytes(sha string) []byte {
	l.t.Helper()
	b, err := l.e.media.blobs.Open(context.Background(), sha)
	require.NoError(l.t, err)
	defer b.Close()
	data, err := io.ReadAll(b)
	require.NoError(l.t, err)
	return data
}

// mediumSettled waits until the medium leaves pending and returns it.
func (l *live) mediumSettled(id string) actors.Media {
	l.t.Helper()
	var m actors.Media
	var err error
	require.Eventually(l.t, func() bool {
		m, err = l.e.store.Media(context.Background(), id)
		return err == nil && m.Status != actors.MediaPending
	}, 20*time.Second, 20*time.Millisecond, "medium %s still pending: %+v, %v", id, &m, &err)
	return m
}

// messageMediaOf is the media object of message id as the API shows it.
func (l *live) messageMediaOf(token, convID, id string) map[string]any {
	l.t.Helper()
	view := l.messageView(token, convID, id)
	require.NotNil(l.t, view, "message %s listed", id)
	media, _ := view["media"].(map[string]any)
	return media
}

// TestInboundMediaThroughTheSandbox: an image, a voice note and the other
// media types a customer sends are fetched into the engine's store, byte for
// byte what WhatsApp served; the message shows media.status stored and
// the agent's socket gets message.updated. An injected download failure is
// retried; one that never ends fails the medium with the reason.
func TestInboundMediaThroughTheSandbox(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.MediaFetchBackoff = 20 * time.Millisecond
	cfg.MediaFetchAttempts = 3
	l := startLive(t, cfg)
	sb := l.sandbox()
	agentID, agentTok := l.user(actors.RoleAgent)
	ws := l.socket(agentTok)
	require.Eventually(t, func() bool { return ws.has("hello", agentID) }, 5*time.Second, 10*time.Millisecond)
	phone := l.cfg.WhatsAppPhoneNumberID

	cases := []struct {
		name string
		// object is the simulated message's media object.
		typ, object string
		wantMime    string
		wantFile    string
		// wantFailed: the medium ends failed with this in its error.
		wantFailed string
		// wantDownloads is how many downloads the sandbox served or failed.
		wantDownloads int
	}{
		{name: "image", typ: "image", object: `{"caption":"my receipt"}`, wantMime: "image/jpeg", wantDownloads: 1},
		{name: "voice note", typ: "audio", object: `{"voice":true}`, wantMime: "audio/ogg", wantDownloads: 1},
		{name: "video", typ: "video", object: `{}`, wantMime: "video/mp4", wantDownloads: 1},
		{name: "document", typ: "document", object: `{"filename":"../invoice.pdf"}`, wantMime: "application/pdf", wantFile: "invoice.pdf", wantDownloads: 1},
		{name: "animated sticker", typ: "sticker", object: `{"animated":true}`, wantMime: "image/webp", wantDownloads: 1},
		{name: "image after two server errors", typ: "image", object: `{"fail":{"fault":"server_error","count":2}}`, wantMime: "image/jpeg", wantDownloads: 3},
		{name: "voice note after an expired URL", typ: "audio", object: `{"voice":true,"fail":{"fault":"not_found","count":1}}`, wantMime: "audio/ogg", wantDownloads: 2},
		{name: "image that never downloads", typ: "image", object: `{"fail":{"fault":"server_error","count":1000}}`,
			wantFailed: "gave up after 3 attempts", wantDownloads: 3},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wa := fmt.Sprintf("9198766%05d", 10000+i)
			st, body := l.sandboxControl("/sandbox/whatsapp/inbound", map[string]any{"from": wa, "phoneNumberId": phone, "type": tc.typ,
				tc.typ: json.RawMessage(tc.object)})
			require.Equal(t, 202, st, "simulation refused: %v", body)
			data := body["data"].(map[string]any)
			wamid, waMediaID := data["waMessageId"].(string), data["mediaIds"].([]any)[0].(string)

			c := l.conversationOf(phone, wa)
			require.Eventually(t, func() bool {
				cur, _ := l.e.store.Conversation(context.Background(), c.ID)
				return cur.AssigneeID == agentID
			}, 5*time.Second, 10*time.Millisecond, "assigned to the online agent")
			msg, err := l.e.store.MessageByWaID(context.Background(), wamid)
			require.NoError(t, err)
			require.NotNil(t, msg.Media, "the message carries its medium from the start")
			assert.Equal(t, mediafetch.InboundMediaID(wamid), msg.Media.ID)

			m := l.mediumSettled(msg.Media.ID)
			served, ok := sb.Media(waMediaID)
			require.True(t, ok)
			assert.Equal(t, tc.wantDownloads, served.Downloads)
			assert.Equal(t, waMediaID, m.WaMediaID)
			assert.Equal(t, msg.ID, m.MessageID)
			assert.Equal(t, c.ID, m.ConversationID)
			media := l.messageMediaOf(agentTok, c.ID, msg.ID)
			require.NotNil(t, media, "the API shows the message's media")
			assert.Equal(t, m.ID, media["id"])
			if tc.wantFailed != "" {
				require.Equal(t, actors.MediaFailed, m.Status)
				assert.Contains(t, m.Error, tc.wantFailed)
				// The message's copy of its medium follows the medium's
				// record through the conversation actor: a moment later.
				require.Eventually(t, func() bool {
					media = l.messageMediaOf(agentTok, c.ID, msg.ID)
					return media != nil && media["status"] == "failed"
				}, 10*time.Second, 20*time.Millisecond, "the message shows its medium failed")
				assert.Contains(t, media["error"], tc.wantFailed)
				require.Eventually(t, func() bool { return ws.hasAll("message.updated", msg.ID, `"status":"failed"`) },
					5*time.Second, 10*time.Millisecond, "the agent is told the medium failed")
				return
			}
			require.Equal(t, actors.MediaStored, m.Status, "error: %s", m.Error)
			assert.Equal(t, served.Data, l.storedBytes(m.SHA256), "the stored bytes are the ones WhatsApp served")
			st, content := l.mediaContent(agentTok, m.ID)
			require.Equal(t, http.StatusOK, st, "the assignee downloads it: %s", content)
			assert.Equal(t, served.Data, content)
			assert.Equal(t, served.SHA256, m.SHA256)
			assert.Equal(t, tc.wantMime, m.MimeType)
			// The message's copy of its medium follows the medium's record
			// through the conversation actor: a moment later.
			require.Eventually(t, func() bool {
				media = l.messageMediaOf(agentTok, c.ID, msg.ID)
				return media != nil && media["status"] == "stored"
			}, 10*time.Second, 20*time.Millisecond, "the message shows its medium stored")
			assert.Equal(t, tc.wantMime, media["mimeType"])
			assert.Equal(t, float64(served.Size), media["size"])
			if tc.wantFile != "" {
				assert.Equal(t, tc.wantFile, media["filename"])
			}
			require.Eventually(t, func() bool { return ws.hasAll("message.updated", msg.ID, `"status":"stored"`) },
				5*time.Second, 10*time.Millisecond, "the agent's socket gets message.updated")
		})
	}
}

// TestInboundMediaResumesAfterRestart: a medium still pending when the
// engine stops is fetched by the next engine on the same DATA_DIR. The
// Cloud API is a sandbox of the test's own, which outlives the engines.
func TestInboundMediaResumesAfterRestart(t *testing.T) {
	t.Parallel()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	t.Cleanup(receiver.Close)
	sb := cloudapi.New(cloudapi.Options{WebhookURL: receiver.URL, AppSecret: testAppSecret})
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)

	cfg := testConfig(t)
	cfg.WhatsAppAccessToken = "token-under-test"
	cfg.WhatsAppAPIURL = srv.URL
	cfg.MediaFetchBackoff = 20 * time.Millisecond
	cfg.MediaFetchAttempts = 100
	l := startLive(t, cfg)

	// The customer's voice note, which WhatsApp's media host fails to
	// serve for now.
	rec := httptest.NewRecorder()
	sb.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/sandbox/whatsapp/inbound",
		strings.NewReader(`{"from":"919876611111","phoneNumberId":"`+cfg.WhatsAppPhoneNumberID+`","type":"audio","audio":{"voice":true,"fail":{"fault":"server_error","count":1000}}}`)))
	require.Equal(t, 202, rec.Code, rec.Body.String())
	var sim struct {
		Data struct {
			MediaIDs []string `json:"mediaIds"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &sim))
	require.Len(t, sim.Data.MediaIDs, 1)
	waMediaID := sim.Data.MediaIDs[0]
	served, _ := sb.Media(waMediaID)
	sum, err := hex.DecodeString(served.SHA256)
	require.NoError(t, err)
	body := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"value":{"messaging_product":"whatsapp",`+
		`"metadata":{"display_phone_number":"15550001111","phone_number_id":%q},"contacts":[{"profile":{"name":"Asha"},"wa_id":"919876611111"}],`+
		`"messages":[{"from":"919876611111","id":"wamid.voice.restart","timestamp":"%d","type":"audio",`+
		`"audio":{"mime_type":"audio/ogg; codecs=opus","sha256":%q,"id":%q,"voice":true}}]},"field":"messages"}]}]}`,
		cfg.WhatsAppPhoneNumberID, time.Now().Unix(), base64.StdEncoding.EncodeToString(sum), waMediaID)
	require.Equal(t, 200, l.webhook([]byte(body), ""))

	id := mediafetch.InboundMediaID("wamid.voice.restart")
	require.Eventually(t, func() bool {
		m, err := l.e.store.Media(context.Background(), id)
		return err == nil && m.Status == actors.MediaPending && m.Attempts >= 2
	}, 10*time.Second, 10*time.Millisecond, "the fetch is being retried")
	l.stop()

	// WhatsApp serves it again (after one more expired URL); the next
	// engine resumes the fetch from the store.
	require.NoError(t, sb.FailDownloads(waMediaID, 1, cloudapi.DownloadNotFound))
	l.start()
	m := l.mediumSettled(id)
	require.Equal(t, actors.MediaStored, m.Status, "error: %s", m.Error)
	assert.Greater(t, m.Attempts, 2, "attempts are counted across the restart")
	assert.Equal(t, served.Data, l.storedBytes(m.SHA256))
	// The message's copy of its medium follows the medium's record
	// through the conversation actor: a moment later.
	require.Eventually(t, func() bool {
		msg, err := l.e.store.MessageByWaID(context.Background(), "wamid.voice.restart")
		return err == nil && msg.Media != nil && msg.Media.Status == actors.MediaStored
	}, 10*time.Second, 20*time.Millisecond, "the message shows its medium stored")
}
