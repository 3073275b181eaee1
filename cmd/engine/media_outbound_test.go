package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway/media/samples"
	"github.com/wacc/engine/gateway/sandbox/cloudapi"
	"github.com/wacc/engine/persistence/servicetest"
)

// upload posts a file to POST /api/media/upload as token's user and
// returns the medium's id.
func (l *live) upload(token string, s samples.Sample) string {
	l.t.Helper()
	st, body := l.uploadFile(token, s.Filename, s.Data)
	require.Equal(l.t, http.StatusCreated, st, body)
	return body["data"].(map[string]any)["media"].(map[string]any)["id"].(string)
}

// sentBody returns the body the sandbox accepted for wamid.
func sentBody(t *testing.T, l *live, wamid string) map[string]any {
	t.Helper()
	for _, s := range l.sandbox().Sent() {
		if s.WaMessageID == wamid {
			var b map[string]any
			require.NoError(t, json.Unmarshal(s.Body, &b))
			return b
		}
	}
	t.Fatalf("the sandbox accepted no send %s", wamid)
	return nil
}

// TestSendOurMediaThroughTheSandbox: an agent sends each kind of medium
// they uploaded; each is uploaded to the Cloud API first (the sandbox
// issues its media id and holds the bytes), and the send names that id.
func TestSendOurMediaThroughTheSandbox(t *testing.T) {
	t.Parallel()
	queueModes(t, testSendOurMedia)
}

func testSendOurMedia(t *testing.T, cfg configs.Config) {
	cfg.SandboxStatusDelay = 10 * time.Millisecond
	cfg.PairBurst = 100
	l := startLive(t, cfg)
	sb := l.sandbox()
	agentID, agentTok := l.user(actors.RoleAgent)
	wa := "919811330000"
	c := l.customerWrites(wa)
	admin := l.admin()
	st, body := l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/assign", admin, map[string]any{"agentId": agentID})
	require.Equal(t, http.StatusOK, st, body)

	all := samples.Accepted()
	cases := []struct {
		typ    string
		sample samples.Sample
		extra  map[string]string
	}{
		{typ: "image", sample: all["png"], extra: map[string]string{"caption": "your receipt"}},
		{typ: "image", sample: all["jpeg"]},
		{typ: "document", sample: all["pdf"], extra: map[string]string{"filename": "invoice.pdf", "caption": "your invoice"}},
		{typ: "document", sample: all["docx"]},
		{typ: "audio", sample: all["ogg-opus"]},
		{typ: "audio", sample: all["mp3"]},
		{typ: "video", sample: all["mp4"]},
		{typ: "video", sample: all["3gp"]},
		{typ: "sticker", sample: all["webp"]},
	}
	for _, tc := range cases {
		t.Run(tc.typ+" "+tc.sample.Filename, func(t *testing.T) {
			id := l.upload(agentTok, tc.sample)
			object := map[string]string{"mediaId": id}
			for k, v := range tc.extra {
				object[k] = v
			}
			st, res := l.api("POST", "/api/whatsapp/messages", agentTok, map[string]any{"to": "+" + wa, "type": tc.typ, tc.typ: object})
			require.Equal(t, http.StatusAccepted, st, res)
			view := res["data"].(map[string]any)["message"].(map[string]any)
			msgID := view["id"].(string)
			require.NotNil(t, view["media"], "the message shows its medium: %v", view)
			assert.Equal(t, id, view["media"].(map[string]any)["id"])

			require.Eventually(t, func() bool {
				s := l.messageStatus(msgID)
				return s == actors.StatusSent || s == actors.StatusDelivered || s == actors.StatusRead
			}, 15*time.Second, 20*time.Millisecond, "sent (status %s)", l.messageStatus(msgID))
			msg, err := l.e.store.Message(context.Background(), msgID)
			require.NoError(t, err)
			med, err := l.e.store.Media(context.Background(), id)
			require.NoError(t, err)
			require.Equal(t, actors.MediaUploaded, med.Status)
			assert.Equal(t, l.cfg.WhatsAppPhoneNumberID, med.WaPhoneNumberID)
			assert.Equal(t, msgID, med.MessageID, "linked to the message that sent it")
			assert.Equal(t, c.ID, med.ConversationID)
			held, ok := sb.Media(med.WaMediaID)
			require.True(t, ok, "the sandbox issued %s", med.WaMediaID)
			assert.Equal(t, tc.sample.Data, held.Data, "the Cloud API got the bytes")
			assert.Equal(t, tc.sample.MimeType, held.MimeType)

			sent := sentBody(t, l, msg.WaMessageID)
			obj := sent[tc.typ].(map[string]any)
			assert.Equal(t, med.WaMediaID, obj["id"], "the send names WhatsApp's media id, not ours")
			for k, v := range tc.extra {
				assert.Equal(t, v, obj[k])
			}
		})
	}
}

// TestSendMediaRefusals: a send naming a medium the caller may not see,
// that has no bytes, or whose type the message type does not take is
// refused before anything is stored or queued.
func TestSendMediaRefusals(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.MediaFetchBackoff = 20 * time.Millisecond
	cfg.MediaFetchAttempts = 2
	l := startLive(t, cfg)
	agentID, agentTok := l.user(actors.RoleAgent)
	_, otherTok := l.user(actors.RoleAgent)
	admin := l.admin()
	wa := "919811330001"
	c := l.customerWrites(wa)
	st, body := l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/assign", admin, map[string]any{"agentId": agentID})
	require.Equal(t, http.StatusOK, st, body)

	all := samples.Accepted()
	mine := l.upload(agentTok, all["pdf"])
	theirs := l.upload(otherTok, all["png"])
	// A customer's image whose fetch failed: no bytes.
	st, sim := l.sandboxControl("/sandbox/whatsapp/inbound", map[string]any{"from": wa, "phoneNumberId": l.cfg.WhatsAppPhoneNumberID, "type": "image",
		"image": map[string]any{"fail": map[string]any{"fault": "not_found", "count": 100}}})
	require.Equal(t, http.StatusAccepted, st, sim)
	in, err := waitMessageByWaID(l, sim["data"].(map[string]any)["waMessageId"].(string))
	require.NoError(t, err)
	failed := l.mediumSettled(in.Media.ID)
	require.Equal(t, actors.MediaFailed, failed.Status)

	cases := []struct {
		name       string
		typ        string
		mediaID    string
		wantStatus int
		wantCode   string
	}{
		{name: "unknown", typ: "image", mediaID: "0123456789abcdef0123456789abcdef", wantStatus: 404, wantCode: "NOT_FOUND"},
		{name: "another agent's upload", typ: "image", mediaID: theirs, wantStatus: 404, wantCode: "NOT_FOUND"},
		{name: "a PDF as an image", typ: "image", mediaID: mine, wantStatus: 422, wantCode: "MEDIA_TYPE_MISMATCH"},
		{name: "a PDF as a sticker", typ: "sticker", mediaID: mine, wantStatus: 422, wantCode: "MEDIA_TYPE_MISMATCH"},
		{name: "a PDF as audio", typ: "audio", mediaID: mine, wantStatus: 422, wantCode: "MEDIA_TYPE_MISMATCH"},
		{name: "a customer's image whose fetch failed", typ: "image", mediaID: failed.ID, wantStatus: 422, wantCode: "MEDIA_NOT_READY"},
	}
	before := len(l.messages(c.ID))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, res := l.api("POST", "/api/whatsapp/messages", agentTok, map[string]any{"to": "+" + wa, "type": tc.typ, tc.typ: map[string]string{"mediaId": tc.mediaID}})
			require.Equal(t, tc.wantStatus, st, res)
			assert.Equal(t, tc.wantCode, res["code"])
			if tc.wantStatus == 422 {
				errs := res["errors"].([]any)
				require.Len(t, errs, 1)
				assert.Equal(t, tc.typ+".mediaId", errs[0].(map[string]any)["field"])
			}
		})
	}
	assert.Len(t, l.messages(c.ID), before, "nothing stored or queued")

	// The same PDF as a document goes out; an admin may send anyone's.
	st, res := l.api("POST", "/api/whatsapp/messages", agentTok, map[string]any{"to": "+" + wa, "type": "document", "document": map[string]string{"mediaId": mine}})
	require.Equal(t, http.StatusAccepted, st, res)
	st, res = l.api("POST", "/api/whatsapp/messages", admin, map[string]any{"to": "+" + wa, "type": "image", "image": map[string]string{"mediaId": theirs}})
	require.Equal(t, http.StatusAccepted, st, res)
}

// waitMessageByWaID waits for the inbound message wamid to be stored.
func waitMessageByWaID(l *live, wamid string) (actors.Message, error) {
	var m actors.Message
	var err error
	require.Eventually(l.t, func() bool {
		m, err = l.e.store.MessageByWaID(context.Background(), wamid)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	return m, err
}

// TestMediaSendSurvivesRestart: a send whose upload is still failing when
// the engine stops goes out after the restart: the in-process queue's
// jobs are rebuilt from the store, the upload's with them.
func TestMediaSendSurvivesRestart(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.SendMaxAttempts = 100
	l := startLive(t, cfg)
	agentID, agentTok := l.user(actors.RoleAgent)
	wa := "919811330002"
	c := l.customerWrites(wa)
	st, body := l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/assign", l.admin(), map[string]any{"agentId": agentID})
	require.Equal(t, http.StatusOK, st, body)
	require.NoError(t, l.sandbox().FailUploads(l.cfg.WhatsAppPhoneNumberID, 1000, cloudapi.UploadServerError))
	id := l.upload(agentTok, samples.Accepted()["jpeg"])
	st, res := l.api("POST", "/api/whatsapp/messages", agentTok, map[string]any{"to": "+" + wa, "type": "image", "image": map[string]string{"mediaId": id}})
	require.Equal(t, http.StatusAccepted, st, res)
	msgID := res["data"].(map[string]any)["message"].(map[string]any)["id"].(string)
	require.Eventually(t, func() bool {
		m, err := l.e.store.Media(context.Background(), id)
		return err == nil && m.Status == actors.MediaUploading && m.Attempts >= 1 && m.Error != ""
	}, 10*time.Second, 10*time.Millisecond, "the upload is failing")

	// The next engine has a fresh sandbox, without the fault.
	l.restart()
	require.Eventually(t, func() bool {
		s := l.messageStatus(msgID)
		return s == actors.StatusSent || s == actors.StatusDelivered || s == actors.StatusRead
	}, 20*time.Second, 20*time.Millisecond, "sent after the restart (status %s)", l.messageStatus(msgID))
	med, err := l.e.store.Media(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, actors.MediaUploaded, med.Status)
	msg, err := l.e.store.Message(context.Background(), msgID)
	require.NoError(t, err)
	assert.Equal(t, med.WaMediaID, sentBody(t, l, msg.WaMessageID)["image"].(map[string]any)["id"])
}

// TestMediaInMotionOnMongo: on MongoDB (FerretDB here) with GridFS, an
// inbound voice note is fetched into the bucket and an upload goes out to
// WhatsApp, as on SQLite.
func TestMediaInMotionOnMongo(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.MongoURI = servicetest.FerretDB(t, servicetest.FerretSQLite)
	cfg.MongoDatabase = "motion_" + strings.ToLower(actors.NewID()[:12])
	cfg.ConnectTimeout = 30 * time.Second
	cfg.MediaFetchBackoff = 20 * time.Millisecond
	l := startLive(t, cfg)
	sb := l.sandbox()
	agentID, agentTok := l.user(actors.RoleAgent)
	wa := "919811330003"
	phone := l.cfg.WhatsAppPhoneNumberID

	st, sim := l.sandboxControl("/sandbox/whatsapp/inbound", map[string]any{"from": wa, "phoneNumberId": phone, "type": "audio",
		"audio": map[string]any{"voice": true, "fail": map[string]any{"fault": "server_error", "count": 1}}})
	require.Equal(t, http.StatusAccepted, st, sim)
	data := sim["data"].(map[string]any)
	in, err := waitMessageByWaID(l, data["waMessageId"].(string))
	require.NoError(t, err)
	m := l.mediumSettled(in.Media.ID)
	require.Equal(t, actors.MediaStored, m.Status, "error: %s", m.Error)
	served, _ := sb.Media(data["mediaIds"].([]any)[0].(string))
	assert.Equal(t, served.Data, l.storedBytes(m.SHA256), "in GridFS, byte for byte")
	assert.Equal(t, 2, m.Attempts)

	c := l.conversationOf(phone, wa)
	st, body := l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/assign", l.admin(), map[string]any{"agentId": agentID})
	require.Equal(t, http.StatusOK, st, body)
	// The agent forwards the customer's voice note back, and sends a PDF.
	for _, send := range []map[string]any{
		{"type": "audio", "audio": map[string]string{"mediaId": m.ID}},
		{"type": "document", "document": map[string]string{"mediaId": l.upload(agentTok, samples.Accepted()["pdf"]), "filename": "invoice.pdf"}},
	} {
		send["to"] = "+" + wa
		st, res := l.api("POST", "/api/whatsapp/messages", agentTok, send)
		require.Equal(t, http.StatusAccepted, st, res)
		msgID := res["data"].(map[string]any)["message"].(map[string]any)["id"].(string)
		require.Eventually(t, func() bool {
			s := l.messageStatus(msgID)
			return s == actors.StatusSent || s == actors.StatusDelivered || s == actors.StatusRead
		}, 20*time.Second, 20*time.Millisecond, "sent (status %s)", l.messageStatus(msgID))
		msg, err := l.e.store.Message(context.Background(), msgID)
		require.NoError(t, err)
		typ := send["type"].(string)
		waMediaID := sentBody(t, l, msg.WaMessageID)[typ].(map[string]any)["id"].(string)
		held, ok := sb.Media(waMediaID)
		require.True(t, ok, "the sandbox issued %s", waMediaID)
		assert.Equal(t, phone, held.PhoneNumberID)
	}
}
