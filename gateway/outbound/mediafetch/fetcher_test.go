package mediafetch_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/outbound/mediafetch"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
	"github.com/wacc/engine/gateway/sandbox/cloudapi"
	"github.com/wacc/engine/persistence/fsblobs"
	"github.com/wacc/engine/persistence/sqlitestore"
)

const (
	phoneID = "1122334455667"
	waitFor = 10 * time.Second
	tick    = 10 * time.Millisecond
)

// events records what the fetcher publishes.
type events struct {
	mu  sync.Mutex
	evs []actors.Event
}

func (e *events) Publish(ev actors.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

func (e *events) updates() []actors.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []actors.Event
	for _, ev := range e.evs {
		if ev.Type == actors.EventMessageUpdated {
			out = append(out, ev)
		}
	}
	return out
}

// world is a fetcher over a real SQLite store and filesystem byte store,
// fetching from a real sandbox through the real client.
type world struct {
	t       *testing.T
	sb      *cloudapi.Sandbox
	sbURL   string
	store   *sqlitestore.Store
	blobs   *fsblobs.Store
	client  *whatsapp.Client
	events  *events
	conv    actors.Conversation
	fetcher *mediafetch.Fetcher
	opts    mediafetch.Options
}

func newWorld(t *testing.T, change func(*mediafetch.Options)) *world {
	t.Helper()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	t.Cleanup(receiver.Close)
	sb := cloudapi.New(cloudapi.Options{WebhookURL: receiver.URL, TimeoutHold: 5 * time.Second})
	srv := httptest.NewServer(sb.Handler())
	sctx, stop := context.WithCancel(context.Background())
	sbDone := make(chan error, 1)
	go func() { sbDone <- sb.Run(sctx) }()
	t.Cleanup(func() {
		stop()
		assert.NoError(t, <-sbDone)
		srv.Close()
	})
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"), zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	blobs, err := fsblobs.Open(filepath.Join(t.TempDir(), "media"))
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Millisecond)
	conv := actors.Conversation{ID: actors.NewID(), CustomerID: "cust-1", PhoneNumberID: phoneID, WaID: "919876500111", State: actors.StateActive,
		AssigneeID: "agent-1", Version: 1, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, store.CreateConversation(context.Background(), conv))
	w := &world{t: t, sb: sb, sbURL: srv.URL, store: store, blobs: blobs, events: &events{}, conv: conv,
		client: whatsapp.NewClient(whatsapp.ClientOptions{BaseURL: srv.URL, AccessToken: "test-token", HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}})}
	w.opts = mediafetch.Options{Store: store, Blobs: blobs, Client: w.client, Publisher: w.events, TempDir: t.TempDir(),
		RetryBase: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond, SweepEvery: 50 * time.Millisecond, AttemptTimeout: 5 * time.Second,
		Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Registry: prometheus.NewRegistry()}
	if change != nil {
		change(&w.opts)
	}
	w.fetcher = mediafetch.New(w.opts)
	return w
}

// run runs the fetcher until the test ends.
func (w *world) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.fetcher.Run(ctx) }()
	w.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(w.t, err)
		case <-time.After(waitFor):
			w.t.Error("Run did not return after its context ended")
		}
	})
}

// simulate has the sandbox keep a customer's medium (fields: the media
// object of POST /sandbox/whatsapp/inbound) and returns its media id.
func (w *world) simulate(typ, object string) string {
	w.t.Helper()
	body := `{"from":"919876500111","phoneNumberId":"` + phoneID + `","type":"` + typ + `","` + typ + `":` + object + `}`
	resp, err := http.Post(w.sbURL+"/sandbox/whatsapp/inbound", "application/json", strings.NewReader(body))
	require.NoError(w.t, err)
	defer resp.Body.Close()
	var got struct {
		Data struct {
			MediaIDs []string `json:"mediaIds"`
		} `json:"data"`
	}
	require.Equal(w.t, http.StatusAccepted, resp.StatusCode)
	require.NoError(w.t, json.NewDecoder(resp.Body).Decode(&got))
	require.Len(w.t, got.Data.MediaIDs, 1)
	return got.Data.MediaIDs[0]
}

// inbound is the message a webhook would bring for the sandbox's medium
// waMediaID (the webhook's sha256 is base64; digest overrides it).
func (w *world) inbound(typ, waMediaID, wamid string, digest []byte) *actors.InboundMessage {
	w.t.Helper()
	st, ok := w.sb.Media(waMediaID)
	sum, _ := hex.DecodeString(st.SHA256)
	if digest != nil {
		sum = digest
	}
	content := map[string]any{"id": waMediaID, "mime_type": st.MimeType, "sha256": base64.StdEncoding.EncodeToString(sum)}
	if !ok {
		content["mime_type"] = "image/jpeg"
	}
	if typ == "document" {
		content["filename"] = "../../etc/invoice\x00.pdf"
	}
	raw, _ := json.Marshal(content)
	return &actors.InboundMessage{PhoneNumberID: phoneID, WaID: w.conv.WaID, WaMessageID: wamid, Type: typ, Content: raw, Timestamp: time.Now()}
}

// receive does what the conversation actor does with an inbound media
// message: Pending, store the message, Fetch. It returns the message.
func (w *world) receive(in *actors.InboundMessage) actors.Message {
	w.t.Helper()
	ctx := context.Background()
	msg := actors.Message{ID: actors.NewID(), ConversationID: w.conv.ID, Direction: actors.DirectionInbound, Type: in.Type, Text: "[" + in.Type + "]",
		Content: in.Content, Status: "received", WaMessageID: in.WaMessageID, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	msg.UpdatedAt = msg.CreatedAt
	mm, err := w.fetcher.Pending(ctx, msg.ID, w.conv.ID, in)
	require.NoError(w.t, err)
	require.NotNil(w.t, mm)
	assert.Equal(w.t, actors.MediaPending, mm.Status)
	msg.Media = mm
	w.conv.Seq++
	w.conv.Version++ // saved as the stored version's next
	msg.Seq = w.conv.Seq
	require.NoError(w.t, w.store.AppendMessageAndSave(ctx, msg, w.conv))
	w.fetcher.Fetch(mm.ID)
	return msg
}

// settled waits until the medium leaves pending and returns it.
func (w *world) settled(mediaID string) actors.Media {
	w.t.Helper()
	var m actors.Media
	require.Eventually(w.t, func() bool {
		var err error
		m, err = w.store.Media(context.Background(), mediaID)
		require.NoError(w.t, err)
		return m.Status != actors.MediaPending
	}, waitFor, tick, "medium %s still pending: %+v", mediaID, m)
	return m
}

// stored checks a stored medium: its bytes are the sandbox's, the message
// shows it, and message.updated carried it.
func (w *world) stored(msg actors.Message, waMediaID string) actors.Media {
	w.t.Helper()
	m := w.settled(msg.Media.ID)
	require.Equal(w.t, actors.MediaStored, m.Status, "error: %s", m.Error)
	st, _ := w.sb.Media(waMediaID)
	assert.Equal(w.t, st.SHA256, m.SHA256)
	assert.Equal(w.t, int64(st.Size), m.Size)
	assert.Equal(w.t, st.MimeType, m.MimeType)
	assert.Empty(w.t, m.Error)
	blob, err := w.blobs.Open(context.Background(), m.SHA256)
	require.NoError(w.t, err)
	got, err := io.ReadAll(blob)
	require.NoError(w.t, err)
	require.NoError(w.t, blob.Close())
	assert.Equal(w.t, st.Data, got, "the stored bytes are the ones WhatsApp served")
	w.shown(msg.ID, m)
	return m
}

// shown waits for the message to show m and for its message.updated.
func (w *world) shown(messageID string, m actors.Media) {
	w.t.Helper()
	want := m.Summary()
	require.Eventually(w.t, func() bool {
		got, err := w.store.Message(context.Background(), messageID)
		require.NoError(w.t, err)
		return got.Media != nil && *got.Media == want
	}, waitFor, tick)
	require.Eventually(w.t, func() bool {
		for _, ev := range w.events.updates() {
			v := ev.Data.(actors.MessageView)
			if v.ID == messageID && v.Media != nil && *v.Media == want {
				assert.Equal(w.t, w.conv.ID, ev.ConversationID)
				assert.Equal(w.t, "agent-1", ev.AssigneeID, "routed to the conversation's assignee")
				assert.Equal(w.t, phoneID, ev.PhoneNumberID)
				return true
			}
		}
		return false
	}, waitFor, tick, "message.updated for %s", messageID)
}

func TestFetchStoresEveryMediaType(t *testing.T) {
	w := newWorld(t, nil)
	w.run()
	cases := []struct{ typ, object string }{
		{"image", `{"caption":"receipt"}`},
		{"audio", `{"voice":true}`},
		{"video", `{}`},
		{"document", `{"filename":"invoice.pdf"}`},
		{"sticker", `{"animated":true}`},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			waID := w.simulate(tc.typ, tc.object)
			msg := w.receive(w.inbound(tc.typ, waID, "wamid."+tc.typ, nil))
			m := w.stored(msg, waID)
			assert.Equal(t, 1, m.Attempts)
			assert.Equal(t, mediafetch.InboundMediaID("wamid."+tc.typ), m.ID)
			assert.Equal(t, waID, m.WaMediaID)
			assert.Equal(t, msg.ID, m.MessageID)
			assert.Equal(t, w.conv.ID, m.ConversationID)
			assert.Empty(t, m.UploaderID)
			if tc.typ == "document" {
				assert.Equal(t, "invoice.pdf", m.Filename, "display name only: no path, no control characters")
			}
		})
	}
}

// TestFetchRetriesThenSucceeds: each fault the sandbox injects is retried
// (asking for a fresh URL each time) until the download succeeds.
func TestFetchRetriesThenSucceeds(t *testing.T) {
	w := newWorld(t, nil)
	w.run()
	for _, fault := range []cloudapi.DownloadFault{cloudapi.DownloadServerError, cloudapi.DownloadNotFound, cloudapi.DownloadTimeout, cloudapi.DownloadCorrupt} {
		t.Run(string(fault), func(t *testing.T) {
			waID := w.simulate("image", `{"fail":{"fault":"`+string(fault)+`","count":2}}`)
			msg := w.receive(w.inbound("image", waID, "wamid.retry."+string(fault), nil))
			m := w.stored(msg, waID)
			assert.Equal(t, 3, m.Attempts, "two failed attempts, then the one that stored it")
			st, _ := w.sb.Media(waID)
			assert.Equal(t, 3, st.Downloads)
		})
	}
}

// TestFetchFailsForGood: a medium WhatsApp does not know fails at once; one
// that keeps failing fails after MaxAttempts; both show why.
func TestFetchFailsForGood(t *testing.T) {
	w := newWorld(t, func(o *mediafetch.Options) { o.MaxAttempts = 3 })
	w.run()
	cases := []struct {
		name         string
		waMediaID    func() string
		digest       []byte
		wantAttempts int
		wantError    string
	}{
		{name: "unknown media id", waMediaID: func() string { return "5550001112223" }, wantAttempts: 1, wantError: "ask the customer to send it again"},
		{name: "downloads keep failing", waMediaID: func() string { return w.simulate("image", `{"fail":{"fault":"server_error","count":100}}`) },
			wantAttempts: 3, wantError: "gave up after 3 attempts: 2 api service unavailable"},
		{name: "bytes never match the webhook's digest", waMediaID: func() string { return w.simulate("image", `{}`) },
			digest: bytes.Repeat([]byte{7}, 32), wantAttempts: 3, wantError: "did not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := w.receive(w.inbound("image", tc.waMediaID(), "wamid.fail."+tc.name, tc.digest))
			m := w.settled(msg.Media.ID)
			require.Equal(t, actors.MediaFailed, m.Status)
			assert.Equal(t, tc.wantAttempts, m.Attempts)
			assert.Contains(t, m.Error, tc.wantError)
			assert.Empty(t, m.SHA256, "nothing stored")
			w.shown(msg.ID, m)
		})
	}
}

// TestPendingIsIdempotent: a webhook delivered again names the same
// record; a record whose message was never stored is taken over by the
// redelivery's message.
func TestPendingIsIdempotent(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	waID := w.simulate("image", `{}`)
	in := w.inbound("image", waID, "wamid.dup", nil)
	first, err := w.fetcher.Pending(ctx, "never-stored", w.conv.ID, in)
	require.NoError(t, err)
	msg := w.receive(in) // the redelivery, with a new message id
	assert.Equal(t, first.ID, msg.Media.ID)
	m, err := w.store.Media(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, msg.ID, m.MessageID, "linked to the message that was stored")

	// A third delivery, once the message is stored, leaves the link alone.
	again, err := w.fetcher.Pending(ctx, "another", w.conv.ID, in)
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID)
	m, err = w.store.Media(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, msg.ID, m.MessageID)

	none, err := w.fetcher.Pending(ctx, "text", w.conv.ID, &actors.InboundMessage{WaMessageID: "wamid.t", Type: "text", Content: []byte(`{"body":"hi"}`)})
	require.NoError(t, err)
	assert.Nil(t, none, "a text has no medium")

	// Run picks up what was left pending.
	w.run()
	w.stored(msg, waID)
}

// TestRecoveryAfterRestart: a medium left pending by a run that ended (its
// Fetch never made) is fetched by the next run's sweep.
func TestRecoveryAfterRestart(t *testing.T) {
	w := newWorld(t, func(o *mediafetch.Options) { o.SweepEvery = time.Hour })
	waID := w.simulate("audio", `{"voice":true}`)
	msg := w.receive(w.inbound("audio", waID, "wamid.restart", nil))
	m, err := w.store.Media(context.Background(), msg.Media.ID)
	require.NoError(t, err)
	require.Equal(t, actors.MediaPending, m.Status, "nothing fetched before Run")

	// A second medium whose last failed attempt was just now: not due at
	// the first sweep, it must not wait for the next one (an hour away).
	waID2 := w.simulate("image", `{}`)
	msg2 := w.receive(w.inbound("image", waID2, "wamid.restart.2", nil))
	m2, err := w.store.Media(context.Background(), msg2.Media.ID)
	require.NoError(t, err)
	m2.Attempts, m2.Error, m2.UpdatedAt = 3, "http 503", time.Now().UTC()
	require.NoError(t, w.store.SaveMedia(context.Background(), m2))

	// A new fetcher, as after a restart: its first sweep finds the records.
	w.opts.Registry = prometheus.NewRegistry()
	w.fetcher = mediafetch.New(w.opts)
	w.run()
	w.stored(msg, waID)
	got := w.stored(msg2, waID2)
	assert.Equal(t, 4, got.Attempts, "attempts are counted across the restart")
}
