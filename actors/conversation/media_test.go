package conversation_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// intake is a fake MediaIntake: it records the calls, checks that Fetch
// comes after the message is stored, and fails Pending while err is set.
type intake struct {
	store *memStore

	mu      sync.Mutex
	pending []string // message ids
	fetched []string // media ids
	stored  []bool   // for each Fetch: the message was stored already
	err     error
}

func (in *intake) Pending(_ context.Context, messageID, conversationID string, m *actors.InboundMessage) (*actors.MessageMedia, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.err != nil {
		return nil, in.err
	}
	if m.Type != "image" {
		return nil, nil
	}
	in.pending = append(in.pending, messageID)
	return &actors.MessageMedia{ID: "media-of-" + m.WaMessageID, Status: actors.MediaPending, MimeType: "image/jpeg"}, nil
}

func (in *intake) Fetch(mediaID string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.fetched = append(in.fetched, mediaID)
	in.stored = append(in.stored, in.store.carries(mediaID))
}

// carries reports whether a stored message carries medium mediaID.
func (s *memStore) carries(mediaID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.Media != nil && m.Media.ID == mediaID {
			return true
		}
	}
	return false
}

func (in *intake) calls() (pending, fetched []string, stored []bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.pending...), append([]string(nil), in.fetched...), append([]bool(nil), in.stored...)
}

func image(h *harness, wamid string) conversation.Inbound {
	return conversation.Inbound{Msg: actors.InboundMessage{PhoneNumberID: key.PhoneNumberID, WaID: key.WaID, WaMessageID: wamid, Type: "image",
		Text: "[image]", Content: []byte(`{"id":"4490","mime_type":"image/jpeg","sha256":"x"}`), Timestamp: h.clock.Now()}}
}

// TestInboundMediaIsRecordedThenFetched: the medium is recorded before the
// message is stored (the message shows it pending), fetched once the
// message is, and a redelivered webhook fetches nothing twice.
func TestInboundMediaIsRecordedThenFetched(t *testing.T) {
	t.Parallel()
	in := &intake{}
	h := newHarness(t, testConfig, func(d *conversation.Deps) { d.Media = in })
	in.store = h.store

	res := h.must(image(h, "wamid.img1"))
	h.must(h.inbound("wamid.txt1", "and a text"))
	msgs := h.store.messagesOf(res.Conversation.ID)
	require.Len(t, msgs, 2)
	var img actors.Message
	for _, m := range msgs {
		if m.Type == "image" {
			img = m
		} else {
			assert.Nil(t, m.Media, "a text has no medium")
		}
	}
	require.NotNil(t, img.Media)
	assert.Equal(t, actors.MessageMedia{ID: "media-of-wamid.img1", Status: actors.MediaPending, MimeType: "image/jpeg"}, *img.Media)

	pending, fetched, stored := in.calls()
	assert.Equal(t, []string{img.ID}, pending, "Pending got the id the message was stored under")
	assert.Equal(t, []string{"media-of-wamid.img1"}, fetched)
	assert.Equal(t, []bool{true}, stored, "Fetch came after the message was stored")

	created := h.events.ofType(actors.EventMessageCreated)
	require.NotEmpty(t, created)
	view := created[0].Data.(actors.MessageView)
	require.NotNil(t, view.Media)
	assert.Equal(t, actors.MediaPending, view.Media.Status, "message.created shows the medium pending")

	again := h.must(image(h, "wamid.img1"))
	assert.True(t, again.Duplicate)
	_, fetched, _ = in.calls()
	assert.Len(t, fetched, 1, "a redelivery fetches nothing twice")
	assert.Len(t, h.store.messagesOf(res.Conversation.ID), 2)
}

// TestInboundMediaNotRecordedIsNotStored: when the medium cannot be
// recorded, the message is not stored either, so the webhook is answered
// with an error and delivered again.
func TestInboundMediaNotRecordedIsNotStored(t *testing.T) {
	t.Parallel()
	in := &intake{err: errors.New("store down")}
	h := newHarness(t, testConfig, func(d *conversation.Deps) { d.Media = in })
	in.store = h.store
	_, err := h.ask(image(h, "wamid.img1"))
	require.Error(t, err)
	_, lookupErr := h.store.MessageByWaID(context.Background(), "wamid.img1")
	assert.ErrorIs(t, lookupErr, actors.ErrNotFound)

	in.mu.Lock()
	in.err = nil
	in.mu.Unlock()
	res := h.must(image(h, "wamid.img1"))
	assert.Len(t, h.store.messagesOf(res.Conversation.ID), 1, "the redelivery stores it")
}

// mediaSends is a fake MediaSends.
type mediaSends struct {
	mu       sync.Mutex
	upload   bool // Prepare asks for an upload
	err      error
	prepared []actors.Message
}

func (s *mediaSends) Prepare(_ context.Context, mediaID, phoneNumberID string, msg actors.Message) (*actors.MessageMedia, *actors.OutboundJob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, nil, s.err
	}
	s.prepared = append(s.prepared, msg)
	mm := &actors.MessageMedia{ID: mediaID, Status: actors.MediaStored, MimeType: "image/png"}
	if !s.upload {
		return mm, nil, nil
	}
	return mm, &actors.OutboundJob{Kind: actors.JobMediaUpload, MessageID: msg.ID, PhoneNumberID: phoneNumberID, MediaID: mediaID, Attempt: 1}, nil
}

// TestSendWithOurMedium: the message carries the medium; the upload job, when
// needed, is published before the send, on the same queue, and the send job
// names the medium.
func TestSendWithOurMedium(t *testing.T) {
	t.Parallel()
	for _, upload := range []bool{true, false} {
		name := map[bool]string{true: "needs an upload", false: "uploaded already"}[upload]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ms := &mediaSends{upload: upload}
			h := newHarness(t, testConfig, func(d *conversation.Deps) { d.MediaSends = ms })
			c := h.must(h.inbound("wamid.1", "send me the invoice")).Conversation
			send := text("out-1", "")
			send.Type, send.Text, send.MediaID = "image", "[image]", "m-42"
			send.Body = []byte(`{"messaging_product":"whatsapp","to":"` + key.WaID + `","type":"image","image":{"id":"m-42"}}`)
			res := h.must(send)
			require.NotNil(t, res.Message.Media)
			assert.Equal(t, "m-42", res.Message.Media.ID)
			assert.Equal(t, "m-42", h.store.message("out-1").Media.ID)
			require.Len(t, ms.prepared, 1)
			assert.Equal(t, c.ID, ms.prepared[0].ConversationID)

			jobs := h.outbox.published()
			want := 1
			if upload {
				want = 2
				assert.Equal(t, actors.JobMediaUpload, jobs[0].Kind, "the upload first")
				assert.Equal(t, actors.OutboundJob{Kind: actors.JobMediaUpload, MessageID: "out-1", ConversationID: c.ID, PhoneNumberID: key.PhoneNumberID,
					To: key.WaID, Priority: actors.PriorityReply, MediaID: "m-42", Attempt: 1, EnqueuedAt: h.clock.Now()}, jobs[0])
			}
			require.Len(t, jobs, want)
			last := jobs[len(jobs)-1]
			assert.Equal(t, actors.JobSend, last.Kind)
			assert.Equal(t, "m-42", last.MediaID)
		})
	}

	t.Run("an unknown medium is refused and nothing queued", func(t *testing.T) {
		t.Parallel()
		ms := &mediaSends{err: actors.ErrNotFound}
		h := newHarness(t, testConfig, func(d *conversation.Deps) { d.MediaSends = ms })
		h.must(h.inbound("wamid.1", "hi"))
		send := text("out-1", "x")
		send.MediaID = "gone"
		_, err := h.ask(send)
		require.ErrorIs(t, err, actors.ErrNotFound)
		assert.Empty(t, h.outbox.published())
		assert.Equal(t, actors.Message{}, h.store.message("out-1"))
	})
	t.Run("without MediaSends a medium is refused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, testConfig)
		h.must(h.inbound("wamid.1", "hi"))
		send := text("out-1", "x")
		send.MediaID = "m-1"
		_, err := h.ask(send)
		require.ErrorIs(t, err, actors.ErrUnavailable)
		assert.Empty(t, h.outbox.published())
	})
}
