package sender_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/gateway/media/samples"
	"github.com/wacc/engine/gateway/outbound/sender"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
	"github.com/wacc/engine/gateway/sandbox/cloudapi"
	"github.com/wacc/engine/persistence/fsblobs"
	"github.com/wacc/engine/persistence/memqueue"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// timeline records when uploads answered and sends started, per media
// and per body.
type timeline struct {
	mu        sync.Mutex
	uploaded  map[string]time.Time // WhatsApp media id -> when its upload answered
	sendStart map[string]time.Time // WhatsApp media id named by a send -> when the send started
}

// tracedClient is the real client, with the times of its calls recorded.
type tracedClient struct {
	*whatsapp.Client
	tl *timeline
}

func (c tracedClient) UploadMedia(ctx context.Context, phoneNumberID, mimeType, filename string, size int64, r io.Reader) (string, error) {
	id, err := c.Client.UploadMedia(ctx, phoneNumberID, mimeType, filename, size, r)
	if err == nil {
		c.tl.mu.Lock()
		c.tl.uploaded[id] = time.Now()
		c.tl.mu.Unlock()
	}
	return id, err
}

func (c tracedClient) Send(ctx context.Context, phoneNumberID string, body json.RawMessage) (string, error) {
	c.tl.mu.Lock()
	c.tl.sendStart[mediaIDOf(body)] = time.Now()
	c.tl.mu.Unlock()
	return c.Client.Send(ctx, phoneNumberID, body)
}

// mediaIDOf is the id of a send body's image object.
func mediaIDOf(body []byte) string {
	var b struct {
		Image struct {
			ID string `json:"id"`
		} `json:"image"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Image.ID
}

// mediaWorld is the sender draining a real in-process queue into the
// sandbox through the real client, with our media in SQLite and the
// filesystem.
type mediaWorld struct {
	t        *testing.T
	sb       *cloudapi.Sandbox
	client   *whatsapp.Client
	store    *sqlitestore.Store
	blobs    *fsblobs.Store
	queue    *memqueue.Queue
	rec      *recorder
	outcomes *outcomes
	tl       *timeline
	prep     *sender.MediaPrep
	conv     actors.Conversation
	n        int
}

type mediaOptions struct {
	maxAttempts int
	uploadStall time.Duration
}

func newMediaWorld(t *testing.T, o mediaOptions) *mediaWorld {
	t.Helper()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	t.Cleanup(receiver.Close)
	sb := cloudapi.New(cloudapi.Options{WebhookURL: receiver.URL, AssumeWindowOpen: true, TimeoutHold: 5 * time.Second})
	srv := httptest.NewServer(sb.Handler())
	sctx, stopSandbox := context.WithCancel(context.Background())
	sbDone := make(chan error, 1)
	go func() { sbDone <- sb.Run(sctx) }()
	t.Cleanup(func() {
		stopSandbox()
		assert.NoError(t, <-sbDone)
		srv.Close()
	})
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"), zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	blobs, err := fsblobs.Open(filepath.Join(t.TempDir(), "media"))
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Millisecond)
	conv := actors.Conversation{ID: actors.NewID(), CustomerID: "c-1", PhoneNumberID: number, WaID: "919876500222", State: actors.StateActive,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, store.CreateConversation(context.Background(), conv))

	w := &mediaWorld{t: t, sb: sb, store: store, blobs: blobs, outcomes: &outcomes{}, conv: conv, prep: &sender.MediaPrep{Store: store},
		tl: &timeline{uploaded: map[string]time.Time{}, sendStart: map[string]time.Time{}}}
	w.client = whatsapp.NewClient(whatsapp.ClientOptions{BaseURL: srv.URL, AccessToken: "token", HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}})
	w.queue = memqueue.New(memqueue.Options{MaxAttempts: o.maxAttempts})
	t.Cleanup(func() { _ = w.queue.Close() })
	w.rec = &recorder{q: w.queue, settled: map[string][]settlement{}}
	traced := tracedClient{Client: w.client, tl: w.tl}
	shaper := whatsapp.NewShaper(whatsapp.ShaperOptions{MPS: 1000, PairInterval: time.Millisecond, PairBurst: 1000})
	s := sender.New(sender.Options{Consumer: w.rec, Client: traced, Shaper: shaper, Store: store, Directory: w.outcomes,
		Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel+1)), Registry: prometheus.NewRegistry(),
		Media: store, Blobs: blobs, Uploader: traced, Outbox: w.queue, MediaHold: 10 * time.Millisecond, UploadStall: o.uploadStall})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return w
}

// medium keeps a PNG as an agent's upload and returns its record.
func (w *mediaWorld) medium(change func(*actors.Media)) actors.Media {
	w.t.Helper()
	data := samples.PNG()
	sum := sha256.Sum256(data)
	now := time.Now().UTC().Truncate(time.Millisecond)
	m := actors.Media{ID: actors.NewID(), Filename: "photo.png", MimeType: "image/png", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
		Status: actors.MediaStored, UploaderID: "agent-1", CreatedAt: now, UpdatedAt: now}
	if change != nil {
		change(&m)
	}
	require.NoError(w.t, mediabytes.Create(context.Background(), w.store, w.blobs, m, bytes.NewReader(data)))
	return m
}

// queued stores a queued image message naming medium mediaID, as the
// conversation actor does, readies the medium (MediaPrep) and returns the
// message and the jobs to publish: the upload job (nil when none is
// needed) and the send job.
func (w *mediaWorld) queued(mediaID string) (actors.Message, *actors.OutboundJob, actors.OutboundJob) {
	w.t.Helper()
	ctx := context.Background()
	w.n++
	now := time.Now().UTC().Truncate(time.Millisecond)
	body := fmt.Sprintf(`{"messaging_product":"whatsapp","recipient_type":"individual","to":%q,"type":"image","image":{"id":%q,"caption":"your receipt"}}`,
		w.conv.WaID, mediaID)
	msg := actors.Message{ID: fmt.Sprintf("out-%d", w.n), ConversationID: w.conv.ID, Direction: actors.DirectionOutbound, Type: "image",
		Text: "your receipt", Status: actors.StatusQueued, Raw: json.RawMessage(body), CreatedAt: now, UpdatedAt: now}
	mm, upload, err := w.prep.Prepare(ctx, mediaID, number, msg)
	require.NoError(w.t, err)
	msg.Media = mm
	w.conv.Version++
	require.NoError(w.t, w.store.AppendMessageAndSave(ctx, msg, w.conv))
	if upload != nil {
		upload.ConversationID, upload.To, upload.Priority, upload.EnqueuedAt = w.conv.ID, w.conv.WaID, actors.PriorityReply, now
	}
	send := actors.OutboundJob{MessageID: msg.ID, ConversationID: w.conv.ID, PhoneNumberID: number, To: w.conv.WaID, Priority: actors.PriorityReply,
		Body: json.RawMessage(body), MediaID: mediaID, Attempt: 1, EnqueuedAt: now}
	return msg, upload, send
}

func (w *mediaWorld) publish(jobs ...actors.OutboundJob) {
	w.t.Helper()
	for _, j := range jobs {
		require.NoError(w.t, w.queue.Publish(context.Background(), j))
	}
}

// final waits until message id leaves queued and returns it.
func (w *mediaWorld) final(id string) actors.Message {
	w.t.Helper()
	var m actors.Message
	require.Eventually(w.t, func() bool {
		var err error
		m, err = w.store.Message(context.Background(), id)
		require.NoError(w.t, err)
		return m.Status != actors.StatusQueued
	}, 10*time.Second, 5*time.Millisecond, "message %s still queued", id)
	return m
}

// sentWith checks that message id was sent naming WhatsApp's id of the
// medium, which the sandbox holds as an upload of the business number,
// and that the send started only after that upload answered.
func (w *mediaWorld) sentWith(id, mediaID string) actors.Media {
	w.t.Helper()
	msg := w.final(id)
	require.Equal(w.t, actors.StatusSent, msg.Status, "error: %+v", msg.Error)
	med, err := w.store.Media(context.Background(), mediaID)
	require.NoError(w.t, err)
	require.Equal(w.t, actors.MediaUploaded, med.Status)
	assert.Equal(w.t, number, med.WaPhoneNumberID)
	assert.WithinDuration(w.t, time.Now(), med.WaUploadedAt, time.Minute)
	st, ok := w.sb.Media(med.WaMediaID)
	require.True(w.t, ok, "the sandbox issued %s", med.WaMediaID)
	assert.Equal(w.t, number, st.PhoneNumberID)
	assert.Equal(w.t, samples.PNG(), st.Data, "the sandbox got the stored bytes")
	var body json.RawMessage
	for _, s := range w.sb.Sent() {
		if s.WaMessageID == msg.WaMessageID {
			body = s.Body
		}
	}
	require.NotNil(w.t, body, "the sandbox recorded the send")
	assert.Equal(w.t, med.WaMediaID, mediaIDOf(body), "the send names WhatsApp's media id, not ours")
	assert.Contains(w.t, string(body), `"caption":"your receipt"`)
	w.tl.mu.Lock()
	defer w.tl.mu.Unlock()
	up, started := w.tl.uploaded[med.WaMediaID], w.tl.sendStart[med.WaMediaID]
	require.False(w.t, up.IsZero(), "uploaded through the sender")
	assert.True(w.t, started.After(up), "the send started after its upload answered")
	return med
}

func TestUploadThenSend(t *testing.T) {
	w := newMediaWorld(t, mediaOptions{})
	m := w.medium(nil)
	msg, upload, send := w.queued(m.ID)
	require.NotNil(t, upload, "a stored medium needs an upload")
	assert.Equal(t, actors.JobMediaUpload, upload.Kind)
	w.publish(*upload, send)
	med := w.sentWith(msg.ID, m.ID)
	assert.Equal(t, 1, med.Attempts)
	assert.Equal(t, msg.ID, med.MessageID, "linked to the message that sent it")
	assert.Equal(t, w.conv.ID, med.ConversationID)

	// A second send of the same medium from the same number reuses the
	// upload.
	msg2, upload2, send2 := w.queued(m.ID)
	assert.Nil(t, upload2)
	w.publish(send2)
	again := w.sentWith(msg2.ID, m.ID)
	assert.Equal(t, med.WaMediaID, again.WaMediaID)
	assert.Equal(t, msg.ID, again.MessageID, "the first link stays")
}

// TestSendWaitsForTheUpload: a send delivered before its upload is held
// (no attempt used) until the upload answered, never sent ahead of it.
func TestSendWaitsForTheUpload(t *testing.T) {
	w := newMediaWorld(t, mediaOptions{uploadStall: time.Hour})
	m := w.medium(nil)
	msg, upload, send := w.queued(m.ID)
	w.publish(send)
	require.Eventually(t, func() bool {
		n := 0
		for _, s := range w.rec.of(msg.ID) {
			if s.op == "hold" {
				n++
				assert.Equal(t, 1, s.attempt, "a hold uses no attempt")
			}
		}
		return n >= 3
	}, 10*time.Second, 5*time.Millisecond, "the send is held while no upload came")
	assert.Empty(t, w.sb.Sent(), "nothing sent before the upload")
	w.publish(*upload)
	w.sentWith(msg.ID, m.ID)
}

// TestUploadFailures: an upload that fails is retried by the sender's
// classes; one WhatsApp refuses, or that runs out of attempts, fails its
// medium and the send, with the reason.
func TestUploadFailures(t *testing.T) {
	cases := []struct {
		name        string
		fault       cloudapi.UploadFault
		count       int
		maxAttempts int
		wantSent    bool
		wantErr     string // in the medium's error and the message's
	}{
		{name: "server error twice, then uploaded", fault: cloudapi.UploadServerError, count: 2, wantSent: true},
		{name: "no answer once, then uploaded", fault: cloudapi.UploadTimeout, count: 1, wantSent: true},
		{name: "refused by WhatsApp", fault: cloudapi.UploadRejected, count: 1, wantErr: "131053"},
		{name: "out of attempts", fault: cloudapi.UploadServerError, count: 10, maxAttempts: 3, wantErr: "gave up after the last attempt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newMediaWorld(t, mediaOptions{maxAttempts: tc.maxAttempts})
			require.NoError(t, w.sb.FailUploads(number, tc.count, tc.fault))
			m := w.medium(nil)
			msg, upload, send := w.queued(m.ID)
			w.publish(*upload, send)
			if tc.wantSent {
				med := w.sentWith(msg.ID, m.ID)
				assert.Equal(t, tc.count+1, med.Attempts, "each upload attempt counted")
				return
			}
			got := w.final(msg.ID)
			require.Equal(t, actors.StatusFailed, got.Status)
			require.NotNil(t, got.Error)
			assert.Equal(t, actors.FailureMedia, got.Error.Kind)
			assert.Contains(t, got.Error.Message, tc.wantErr)
			assert.Contains(t, got.Error.Reason, tc.wantErr, "the agent sees why")
			med, err := w.store.Media(context.Background(), m.ID)
			require.NoError(t, err)
			assert.Equal(t, actors.MediaFailed, med.Status)
			assert.Contains(t, med.Error, tc.wantErr)
			assert.Empty(t, w.sb.Sent(), "nothing sent")
			// The status is written before the conversation is told.
			require.Eventually(t, func() bool { return len(w.outcomes.of(msg.ID)) > 0 }, 5*time.Second, 5*time.Millisecond,
				"the conversation was told")
			assert.Equal(t, actors.StatusFailed, w.outcomes.of(msg.ID)[0].Status)

			// A new send of the medium asks for a new upload.
			require.NoError(t, w.sb.FailUploads(number, 1, cloudapi.UploadServerError)) // then accepted
			msg2, upload2, send2 := w.queued(m.ID)
			require.NotNil(t, upload2, "a failed medium is uploaded again for a new send")
			w.publish(*upload2, send2)
			w.sentWith(msg2.ID, m.ID)
		})
	}
}

// TestStaleUploadIsRenewed: a WhatsApp id 30 days old, or given for
// another business number, is uploaded again before the send.
func TestStaleUploadIsRenewed(t *testing.T) {
	cases := []struct {
		name   string
		age    time.Duration
		number string
	}{
		{name: "30 days old", age: actors.MediaWaLife + time.Minute, number: number},
		{name: "uploaded for another number", age: time.Hour, number: "999000111"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newMediaWorld(t, mediaOptions{})
			m := w.medium(func(m *actors.Media) {
				m.Status, m.WaMediaID, m.WaPhoneNumberID, m.WaUploadedAt = actors.MediaUploaded, "4490001", tc.number, time.Now().Add(-tc.age).UTC()
			})
			msg, upload, send := w.queued(m.ID)
			require.NotNil(t, upload)
			w.publish(*upload, send)
			med := w.sentWith(msg.ID, m.ID)
			assert.NotEqual(t, "4490001", med.WaMediaID)
		})
	}
}

// TestLostUploadIsAskedAgain: a send whose upload job never came (lost
// with an in-process queue) asks for one after UploadStall.
func TestLostUploadIsAskedAgain(t *testing.T) {
	w := newMediaWorld(t, mediaOptions{uploadStall: 50 * time.Millisecond})
	m := w.medium(nil)
	msg, _, send := w.queued(m.ID)
	w.publish(send) // the upload job is lost
	w.sentWith(msg.ID, m.ID)
}

// TestDeletedMediumFailsTheSend: a medium deleted before its send fails
// the message with the reason.
func TestDeletedMediumFailsTheSend(t *testing.T) {
	w := newMediaWorld(t, mediaOptions{})
	m := w.medium(nil)
	msg, _, send := w.queued(m.ID)
	require.NoError(t, mediabytes.Delete(context.Background(), w.store, w.blobs, m.ID))
	w.publish(send)
	got := w.final(msg.ID)
	require.Equal(t, actors.StatusFailed, got.Status)
	assert.Equal(t, actors.FailureMedia, got.Error.Kind)
	assert.Contains(t, got.Error.Message, "deleted")
}

// TestRedrivenUploadSends: an upload dead-lettered after its last attempt
// fails its send; re-driving the dead letter (the message back to queued,
// as the dead-letter route does) uploads the medium and sends the message.
func TestRedrivenUploadSends(t *testing.T) {
	w := newMediaWorld(t, mediaOptions{maxAttempts: 2})
	require.NoError(t, w.sb.FailUploads(number, 2, cloudapi.UploadServerError))
	m := w.medium(nil)
	msg, upload, send := w.queued(m.ID)
	w.publish(*upload, send)
	got := w.final(msg.ID)
	require.Equal(t, actors.StatusFailed, got.Status)
	dls, err := w.queue.ListDeadLetters(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	assert.Equal(t, actors.JobMediaUpload, dls[0].Job.Kind, "only the upload is dead-lettered; the send was failed and acknowledged")

	requeued, err := w.store.RequeueFailed(context.Background(), msg.ID, time.Now().UTC())
	require.NoError(t, err)
	require.True(t, requeued)
	n, err := w.queue.Redrive(context.Background(), []string{msg.ID})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	w.sentWith(msg.ID, m.ID)
}
