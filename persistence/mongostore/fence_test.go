package mongostore

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/storetest"
)

func TestFencingContractFerretSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunFencing(t, func(t *testing.T) storetest.FencingTestStore { return openStore(t, handlerSQLite) })
}

func TestFencingContractFerretPostgres(t *testing.T) {
	t.Parallel()
	servicetest.PostgresURL(t)
	storetest.RunFencing(t, func(t *testing.T) storetest.FencingTestStore { return openStore(t, handlerPostgres) })
}

// TestFenceAppendRacingAnAcquisitionKeepsTheMessageUnapplied pins what a
// store without transactions guarantees for a message insert an
// acquisition slips in front of (see fence.go): the message is stored, the
// conversation save is refused and the conversation is unchanged; the newer
// activation then applies the stored message once, and the stale one stays
// refused.
func TestFenceAppendRacingAnAcquisitionKeepsTheMessageUnapplied(t *testing.T) {
	t.Parallel()
	s := openStore(t, handlerSQLite)
	ctx := t.Context()
	old, err := s.AcquireEpoch(ctx, "pn1", "491511")
	require.NoError(t, err)
	c := openConv("c1", "491511")
	c.Epoch = old
	require.NoError(t, s.CreateConversation(ctx, c))
	stored, err := s.Conversation(ctx, "c1")
	require.NoError(t, err)

	var newer int64
	s.beforeFencedInsert = func() {
		newer, err = s.AcquireEpoch(ctx, "pn1", "491511")
		require.NoError(t, err)
	}
	next := stored
	next.Epoch, next.Version, next.Seq = old, stored.Version+1, stored.Seq+1
	at := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	m := actors.Message{ID: "m1", ConversationID: "c1", Direction: actors.DirectionInbound, Type: "text", Text: "hi",
		Content: json.RawMessage(`{"body":"hi"}`), Status: "received", WaMessageID: "wamid.m1", Seq: next.Seq, CreatedAt: at, UpdatedAt: at}
	require.ErrorIs(t, s.AppendMessageAndSave(ctx, m, next), actors.ErrFenced)
	s.beforeFencedInsert = nil

	got, err := s.MessageByWaID(ctx, "wamid.m1")
	require.NoError(t, err, "the insert the acquisition slipped in front of is kept")
	assert.Greater(t, got.Seq, stored.Seq, "with a Seq the conversation does not reflect")
	after, err := s.Conversation(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, stored.Version, after.Version, "the conversation save was refused")
	assert.Equal(t, stored.Seq, after.Seq)

	// The newer activation, handed the webhook again, finds the wamid and
	// applies it (a save alone).
	apply := after
	apply.Epoch, apply.Version, apply.Seq = newer, after.Version+1, got.Seq
	require.NoError(t, s.SaveConversation(ctx, apply))
	// The stale activation stays refused.
	stale := apply
	stale.Epoch, stale.Version = old, apply.Version+1
	require.ErrorIs(t, s.SaveConversation(ctx, stale), actors.ErrFenced)
}

// TestFenceCreateRacingAnAcquisitionFencesTheStaleActivation: a create an
// acquisition slipped in front of is kept, but it carries the newer epoch,
// so the stale activation's next save is refused.
func TestFenceCreateRacingAnAcquisitionFencesTheStaleActivation(t *testing.T) {
	t.Parallel()
	s := openStore(t, handlerSQLite)
	ctx := t.Context()
	old, err := s.AcquireEpoch(ctx, "pn1", "491511")
	require.NoError(t, err)
	c := openConv("c1", "491511")
	c.Epoch = old
	// The acquisition lands after the create's check, before its insert:
	// simulated by taking it after the check passed, which is the order
	// fenceCreated guards against.
	require.NoError(t, s.checkEpoch(ctx, "test", "pn1", "491511", old))
	newer, err := s.AcquireEpoch(ctx, "pn1", "491511")
	require.NoError(t, err)
	c.Version = 1
	_, err = s.conversations.InsertOne(ctx, toConversationDoc(c))
	require.NoError(t, err)
	require.NoError(t, s.fenceCreated(ctx, c))

	stored, err := s.Conversation(ctx, "c1")
	require.NoError(t, err)
	stale := stored
	stale.Epoch, stale.Version = old, stored.Version+1
	require.ErrorIs(t, s.SaveConversation(ctx, stale), actors.ErrFenced, "the stale activation is refused before the newer one wrote")
	cur := stored
	cur.Epoch, cur.Version = newer, stored.Version+1
	require.NoError(t, s.SaveConversation(ctx, cur))
}
