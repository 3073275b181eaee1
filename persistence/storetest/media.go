package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// MediaTestStore is what RunMedia exercises: the media records, and the
// messages that show a medium.
type MediaTestStore interface {
	actors.MediaStore
	actors.ConversationsStore
	actors.OutboundStore
}

// RunMedia is the contract suite of actors.MediaStore and of the Media
// summary every message read returns. open gives a fresh, empty store and
// registers its own cleanup. Beyond the doc comments in package actors it
// pins down:
//
//   - Every field of a Media round-trips; times at millisecond precision in
//     UTC, a zero WaUploadedAt comes back zero.
//   - SaveMedia replaces every field but the id; DeleteMedia and SaveMedia
//     of an absent id are ErrNotFound and change nothing.
//   - MediaByStatus orders by UpdatedAt, then id, ascending.
//   - Message.Media is stored by AppendMessage and AppendMessageAndSave,
//     returned by Message, MessageByWaID, ListMessages and QueuedOutbound,
//     and replaced (with UpdatedAt) by SetMessageMedia; nil stays nil.
func RunMedia(t *testing.T, open func(t *testing.T) MediaTestStore) {
	runCases(t, open, []caseOf[MediaTestStore]{
		{name: "create then read every field", check: checkMediaCreate},
		{name: "a taken id is a duplicate and changes nothing", check: checkMediaDuplicate},
		{name: "absent ids are not found", check: checkMediaNotFound},
		{name: "save replaces every field", check: checkMediaSave},
		{name: "delete removes the record only", check: checkMediaDelete},
		{name: "count by sha256", check: checkMediaCount},
		{name: "by status, oldest update first", check: checkMediaByStatus},
		{name: "message media round-trips through every write and read", check: checkMessageMediaRoundTrip},
		{name: "set message media", check: checkSetMessageMedia},
	})
}

// Digests of the suite's media (64 lower-case hex digits).
const (
	shaA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	shaB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

// storedMedia is an uploaded medium linked to a message, every field set.
func storedMedia(id, sha string, updated time.Time) actors.Media {
	return actors.Media{
		ID: id, Filename: "receipt " + id + ".jpg", MimeType: "image/jpeg", Size: 48213, SHA256: sha,
		Status: actors.MediaUploaded, Error: "", WaMediaID: "1037543291543636", WaPhoneNumberID: "106540352242922",
		WaUploadedAt: base.Add(-time.Hour), UploaderID: "u-agent1", ConversationID: "c0001", MessageID: "m-" + id,
		Attempts: 2, CreatedAt: base.Add(-2 * time.Hour), UpdatedAt: updated,
	}
}

// pendingMedia is an inbound medium whose bytes are not fetched yet.
func pendingMedia(id string, updated time.Time) actors.Media {
	return actors.Media{
		ID: id, MimeType: "audio/ogg", Status: actors.MediaPending, WaMediaID: "wa-" + id,
		WaPhoneNumberID: "106540352242922", ConversationID: "c0001", MessageID: "m-" + id,
		CreatedAt: updated, UpdatedAt: updated,
	}
}

func mustMedia(t *testing.T, ctx context.Context, s actors.MediaStore, id string) actors.Media {
	t.Helper()
	m, err := s.Media(ctx, id)
	require.NoError(t, err, "media %s", id)
	return m
}

func mediaCount(t *testing.T, ctx context.Context, s actors.MediaStore, sha string) int {
	t.Helper()
	n, err := s.CountMediaBySHA256(ctx, sha)
	require.NoError(t, err, "count media of %s", sha)
	return n
}

func checkMediaCreate(t *testing.T, ctx context.Context, s MediaTestStore) {
	full := storedMedia("me1", shaA, base)
	require.NoError(t, s.CreateMedia(ctx, full))
	assert.Equal(t, full, mustMedia(t, ctx, s, "me1"))

	pending := pendingMedia("me2", base.Add(time.Second))
	require.NoError(t, s.CreateMedia(ctx, pending))
	got := mustMedia(t, ctx, s, "me2")
	assert.Equal(t, pending, got)
	assert.True(t, got.WaUploadedAt.IsZero(), "a zero WaUploadedAt comes back zero")
	assert.Equal(t, time.UTC, got.CreatedAt.Location(), "times come back in UTC")

	// Times are kept to the millisecond and returned in UTC.
	odd := storedMedia("me3", shaB, base.Add(123456789*time.Nanosecond).In(time.FixedZone("IST", 5*3600+1800)))
	require.NoError(t, s.CreateMedia(ctx, odd))
	got = mustMedia(t, ctx, s, "me3")
	assert.Equal(t, base.Add(123*time.Millisecond), got.UpdatedAt)
}

func checkMediaDuplicate(t *testing.T, ctx context.Context, s MediaTestStore) {
	first := storedMedia("me1", shaA, base)
	require.NoError(t, s.CreateMedia(ctx, first))
	again := storedMedia("me1", shaB, base.Add(time.Minute))
	again.Filename = "other.pdf"
	require.ErrorIs(t, s.CreateMedia(ctx, again), actors.ErrDuplicate)
	assert.Equal(t, first, mustMedia(t, ctx, s, "me1"))
	assert.Equal(t, 0, mediaCount(t, ctx, s, shaB), "the refused record counts nowhere")
}

func checkMediaNotFound(t *testing.T, ctx context.Context, s MediaTestStore) {
	require.NoError(t, s.CreateMedia(ctx, storedMedia("me1", shaA, base)))
	_, err := s.Media(ctx, "nope")
	assert.ErrorIs(t, err, actors.ErrNotFound, "Media")
	assert.ErrorIs(t, s.SaveMedia(ctx, storedMedia("nope", shaB, base)), actors.ErrNotFound, "SaveMedia")
	assert.ErrorIs(t, s.DeleteMedia(ctx, "nope"), actors.ErrNotFound, "DeleteMedia")
	_, err = s.Media(ctx, "nope")
	assert.ErrorIs(t, err, actors.ErrNotFound, "SaveMedia of an absent id creates nothing")
	assert.Equal(t, 0, mediaCount(t, ctx, s, shaB))
	assert.Equal(t, storedMedia("me1", shaA, base), mustMedia(t, ctx, s, "me1"), "others untouched")
}

func checkMediaSave(t *testing.T, ctx context.Context, s MediaTestStore) {
	// An inbound medium is fetched: pending, then stored with its bytes.
	m := pendingMedia("me1", base)
	require.NoError(t, s.CreateMedia(ctx, m))
	require.NoError(t, s.CreateMedia(ctx, pendingMedia("me2", base)))
	m.Status, m.SHA256, m.Size, m.MimeType, m.Filename = actors.MediaStored, shaA, 9120, "audio/ogg; codecs=opus", "voice.ogg"
	m.Attempts, m.UpdatedAt = 3, base.Add(time.Minute)
	require.NoError(t, s.SaveMedia(ctx, m))
	assert.Equal(t, m, mustMedia(t, ctx, s, "me1"))

	// Every field is replaced, including clearing ones that were set.
	next := storedMedia("me1", shaB, base.Add(2*time.Minute))
	next.Status, next.Error = actors.MediaFailed, "upload to WhatsApp: (#131053) Media upload error"
	require.NoError(t, s.SaveMedia(ctx, next))
	assert.Equal(t, next, mustMedia(t, ctx, s, "me1"))
	cleared := next
	cleared.WaUploadedAt, cleared.WaMediaID, cleared.Error, cleared.ConversationID, cleared.MessageID = time.Time{}, "", "", "", ""
	require.NoError(t, s.SaveMedia(ctx, cleared))
	assert.Equal(t, cleared, mustMedia(t, ctx, s, "me1"))

	assert.Equal(t, pendingMedia("me2", base), mustMedia(t, ctx, s, "me2"), "only m.ID is written")
}

func checkMediaDelete(t *testing.T, ctx context.Context, s MediaTestStore) {
	require.NoError(t, s.CreateMedia(ctx, storedMedia("me1", shaA, base)))
	require.NoError(t, s.CreateMedia(ctx, storedMedia("me2", shaA, base)))
	require.NoError(t, s.DeleteMedia(ctx, "me1"))
	_, err := s.Media(ctx, "me1")
	assert.ErrorIs(t, err, actors.ErrNotFound)
	assert.ErrorIs(t, s.DeleteMedia(ctx, "me1"), actors.ErrNotFound, "a second delete")
	assert.Equal(t, storedMedia("me2", shaA, base), mustMedia(t, ctx, s, "me2"))
	assert.Equal(t, 1, mediaCount(t, ctx, s, shaA))

	// The id is free again.
	require.NoError(t, s.CreateMedia(ctx, storedMedia("me1", shaB, base)))
	assert.Equal(t, shaB, mustMedia(t, ctx, s, "me1").SHA256)
}

func checkMediaCount(t *testing.T, ctx context.Context, s MediaTestStore) {
	assert.Equal(t, 0, mediaCount(t, ctx, s, shaA), "empty store")
	for i := range 3 {
		require.NoError(t, s.CreateMedia(ctx, storedMedia(fmt.Sprintf("a%d", i), shaA, base)))
	}
	require.NoError(t, s.CreateMedia(ctx, storedMedia("b0", shaB, base)))
	require.NoError(t, s.CreateMedia(ctx, pendingMedia("p0", base)))
	assert.Equal(t, 3, mediaCount(t, ctx, s, shaA))
	assert.Equal(t, 1, mediaCount(t, ctx, s, shaB))
	assert.Equal(t, 0, mediaCount(t, ctx, s, "0000000000000000000000000000000000000000000000000000000000000000"))

	// A record moved to other bytes no longer counts for the old ones.
	moved := storedMedia("a2", shaB, base.Add(time.Minute))
	require.NoError(t, s.SaveMedia(ctx, moved))
	assert.Equal(t, 2, mediaCount(t, ctx, s, shaA))
	assert.Equal(t, 2, mediaCount(t, ctx, s, shaB))
	require.NoError(t, s.DeleteMedia(ctx, "a0"))
	require.NoError(t, s.DeleteMedia(ctx, "a1"))
	assert.Equal(t, 0, mediaCount(t, ctx, s, shaA), "the last reference deleted")
}

func checkMediaByStatus(t *testing.T, ctx context.Context, s MediaTestStore) {
	byStatus := func(status string, limit int) []string {
		t.Helper()
		ms, err := s.MediaByStatus(ctx, status, limit)
		require.NoError(t, err)
		for _, m := range ms {
			assert.Equal(t, status, m.Status, "media %s", m.ID)
		}
		return idsOf(ms, func(m actors.Media) string { return m.ID })
	}
	assert.Empty(t, byStatus(actors.MediaPending, 10), "empty store")

	// Inserted out of order; p2 and p3 tie on UpdatedAt and go by id.
	seed := []actors.Media{
		pendingMedia("p3", base.Add(2*time.Second)),
		pendingMedia("p1", base.Add(-time.Hour)),
		storedMedia("s1", shaA, base.Add(-2*time.Hour)),
		pendingMedia("p2", base.Add(2*time.Second)),
		pendingMedia("p4", base.Add(time.Hour)),
	}
	seed[2].Status = actors.MediaStored
	up := storedMedia("u1", shaB, base)
	up.Status = actors.MediaUploading
	seed = append(seed, up)
	for _, m := range seed {
		require.NoError(t, s.CreateMedia(ctx, m))
	}
	assert.Equal(t, []string{"p1", "p2", "p3", "p4"}, byStatus(actors.MediaPending, 10))
	assert.Equal(t, []string{"p1", "p2"}, byStatus(actors.MediaPending, 2), "limited to the oldest")
	assert.Equal(t, []string{"u1"}, byStatus(actors.MediaUploading, 10))
	assert.Empty(t, byStatus(actors.MediaFailed, 10))

	// A fetch attempt moves p1 to the back; a stored one leaves the status.
	p1 := pendingMedia("p1", base.Add(2*time.Hour))
	p1.Attempts = 1
	require.NoError(t, s.SaveMedia(ctx, p1))
	p2 := pendingMedia("p2", base.Add(3*time.Hour))
	p2.Status, p2.SHA256, p2.Size = actors.MediaStored, shaA, 10
	require.NoError(t, s.SaveMedia(ctx, p2))
	assert.Equal(t, []string{"p3", "p4", "p1"}, byStatus(actors.MediaPending, 10))
	assert.Equal(t, []string{"s1", "p2"}, byStatus(actors.MediaStored, 10))
}

// mediaMessage is a message carrying medium id in status.
func mediaMessage(m actors.Message, id, status string) actors.Message {
	m.Type = "image"
	m.Text = "[image]"
	m.Media = &actors.MessageMedia{ID: id, Status: status, MimeType: "image/jpeg", Size: 48213, Filename: "receipt.jpg"}
	return m
}

func checkMessageMediaRoundTrip(t *testing.T, ctx context.Context, s MediaTestStore) {
	c := conv("c0001", "491511")
	require.NoError(t, s.CreateConversation(ctx, c))
	in := mediaMessage(msg("m1", "c0001", base), "me1", actors.MediaPending)
	require.NoError(t, s.AppendMessage(ctx, in))
	out := mediaMessage(outbound("m2", "c0001", base.Add(time.Second)), "me2", actors.MediaStored)
	out.Media.Error = "not yet uploaded"
	next := created(c)
	next.Version, next.Seq = 2, 8
	require.NoError(t, s.AppendMessageAndSave(ctx, out, next))
	plain := msg("m3", "c0001", base.Add(2*time.Second))
	require.NoError(t, s.AppendMessage(ctx, plain))

	for _, want := range []actors.Message{in, out, plain} {
		got, err := s.Message(ctx, want.ID)
		require.NoError(t, err)
		assertMessage(t, want, got, "Message(%s)", want.ID)
	}
	assertMessage(t, in, mustMessage(t, ctx, s, "wamid.m1"), "MessageByWaID")
	assertMessage(t, plain, mustMessage(t, ctx, s, "wamid.m3"), "MessageByWaID")
	listed := allMessages(t, ctx, s, "c0001")
	require.Len(t, listed, 3)
	assertMessage(t, plain, listed[0], "listed")
	assertMessage(t, out, listed[1], "listed")
	assertMessage(t, in, listed[2], "listed")
	queued, err := s.QueuedOutbound(ctx, 10)
	require.NoError(t, err)
	require.Len(t, queued, 1)
	assertMessage(t, out, queued[0], "QueuedOutbound")
}

func checkSetMessageMedia(t *testing.T, ctx context.Context, s MediaTestStore) {
	in := mediaMessage(msg("m1", "c0001", base), "me1", actors.MediaPending)
	require.NoError(t, s.AppendMessage(ctx, in))
	plain := msg("m2", "c0001", base)
	require.NoError(t, s.AppendMessage(ctx, plain))

	// The bytes arrive.
	stored := actors.MessageMedia{ID: "me1", Status: actors.MediaStored, MimeType: "image/jpeg", Size: 90210, Filename: "photo.jpg"}
	at := base.Add(time.Minute)
	require.NoError(t, s.SetMessageMedia(ctx, "m1", stored, at))
	want := in
	want.Media, want.UpdatedAt = &stored, at
	got, err := s.Message(ctx, "m1")
	require.NoError(t, err)
	assertMessage(t, want, got)

	// A fetch that failed for good says why; a message without a medium
	// gets one.
	failed := actors.MessageMedia{ID: "me1", Status: actors.MediaFailed, Error: "download expired"}
	require.NoError(t, s.SetMessageMedia(ctx, "m1", failed, base.Add(2*time.Minute)))
	got = mustMessage(t, ctx, s, "wamid.m1")
	require.NotNil(t, got.Media)
	assert.Equal(t, failed, *got.Media)
	assert.Equal(t, base.Add(2*time.Minute), got.UpdatedAt)
	require.NoError(t, s.SetMessageMedia(ctx, "m2", stored, at))
	got = mustMessage(t, ctx, s, "wamid.m2")
	require.NotNil(t, got.Media)
	assert.Equal(t, stored, *got.Media)
	assert.Equal(t, plain.Text, got.Text, "the rest of the message is untouched")

	assert.ErrorIs(t, s.SetMessageMedia(ctx, "nope", stored, at), actors.ErrNotFound)
	_, err = s.Message(ctx, "nope")
	assert.ErrorIs(t, err, actors.ErrNotFound, "nothing created")
}
