package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// FencingTestStore is what RunFencing exercises.
type FencingTestStore interface {
	actors.ConversationsStore
	actors.EpochStore
	Message(ctx context.Context, id string) (actors.Message, error)
}

// RunFencing is the contract suite of actors.EpochStore: epochs of a key
// only grow, and a write fenced with an epoch that is not its key's current
// one is actors.ErrFenced and changes nothing, even when the newer epoch's
// holder has written nothing yet.
func RunFencing(t *testing.T, open func(t *testing.T) FencingTestStore) {
	runCases(t, open, []caseOf[FencingTestStore]{
		{name: "acquire increments each key's epoch on its own", check: checkAcquireIncrements},
		{name: "concurrent acquires hand out distinct epochs", check: checkAcquireConcurrent},
		{name: "fence refuses a save with an old epoch and accepts the current one", check: checkFenceSave},
		{name: "fence refuses a create with an old epoch", check: checkFenceCreate},
		{name: "fence refuses a message append with an old epoch", check: checkFenceAppend},
		{name: "fence refuses status updates with an old epoch", check: checkFenceStatuses},
		{name: "unfenced writes are not checked", check: checkUnfenced},
	})
}

func checkAcquireIncrements(t *testing.T, ctx context.Context, s FencingTestStore) {
	for i, want := range []int64{1, 2, 3} {
		got, err := s.AcquireEpoch(ctx, "pn1", "491511")
		require.NoError(t, err, "acquire %d", i)
		assert.Equal(t, want, got, "acquire %d of key a", i)
	}
	got, err := s.AcquireEpoch(ctx, "pn1", "491522")
	require.NoError(t, err)
	assert.Equal(t, int64(1), got, "another customer's key starts at 1")
	got, err = s.AcquireEpoch(ctx, "pn2", "491511")
	require.NoError(t, err)
	assert.Equal(t, int64(1), got, "another business number's key starts at 1")
}

func checkAcquireConcurrent(t *testing.T, ctx context.Context, s FencingTestStore) {
	const workers, each = 4, 10
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				e, err := s.AcquireEpoch(ctx, "pn1", "491511")
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				got = append(got, e)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	want := make([]int64, 0, workers*each)
	for i := range workers * each {
		want = append(want, int64(i+1))
	}
	assert.Equal(t, want, got, "every acquire got its own epoch")
}

// fencedConv creates conversation id of key (pn1, waID) fenced with the
// first epoch and returns it as stored, with that epoch.
func fencedConv(t *testing.T, ctx context.Context, s FencingTestStore, id, waID string) actors.Conversation {
	t.Helper()
	e, err := s.AcquireEpoch(ctx, "pn1", waID)
	require.NoError(t, err)
	c := conv(id, waID)
	c.Epoch = e
	require.NoError(t, s.CreateConversation(ctx, c))
	stored := mustConv(t, ctx, s, id)
	stored.Epoch = e
	return stored
}

func checkFenceSave(t *testing.T, ctx context.Context, s FencingTestStore) {
	old := fencedConv(t, ctx, s, "c1", "491511")
	// A newer activation takes the key and writes nothing yet.
	newer, err := s.AcquireEpoch(ctx, "pn1", "491511")
	require.NoError(t, err)
	require.Greater(t, newer, old.Epoch)

	stale := old
	stale.Version++
	stale.Unread = 99
	err = s.SaveConversation(ctx, stale)
	require.ErrorIs(t, err, actors.ErrFenced, "a save with the old epoch")
	assert.NotErrorIs(t, err, actors.ErrConflict, "a fenced save is told apart from a version conflict")
	got := mustConv(t, ctx, s, "c1")
	assert.Equal(t, int64(1), got.Version, "the refused save changed nothing")
	assert.Equal(t, old.Unread, got.Unread, "the refused save changed nothing")

	cur := got
	cur.Epoch = newer
	cur.Version++
	cur.Unread = 5
	require.NoError(t, s.SaveConversation(ctx, cur), "a save with the current epoch")
	got = mustConv(t, ctx, s, "c1")
	assert.Equal(t, int64(2), got.Version)
	assert.Equal(t, 5, got.Unread)

	// The old activation is still refused after the newer one wrote.
	stale = got
	stale.Epoch = old.Epoch
	stale.Version++
	require.ErrorIs(t, s.SaveConversation(ctx, stale), actors.ErrFenced)
	assert.Equal(t, int64(2), mustConv(t, ctx, s, "c1").Version)
}

func checkFenceCreate(t *testing.T, ctx context.Context, s FencingTestStore) {
	old, err := s.AcquireEpoch(ctx, "pn1", "491511")
	require.NoError(t, err)
	newer, err := s.AcquireEpoch(ctx, "pn1", "491511")
	require.NoError(t, err)

	c := conv("c1", "491511")
	c.Epoch = old
	require.ErrorIs(t, s.CreateConversation(ctx, c), actors.ErrFenced)
	_, err = s.OpenConversation(ctx, "pn1", "491511")
	require.ErrorIs(t, err, actors.ErrNotFound, "the refused create stored nothing")
	_, err = s.Conversation(ctx, "c1")
	require.ErrorIs(t, err, actors.ErrNotFound, "the refused create stored nothing")

	c.Epoch = newer
	require.NoError(t, s.CreateConversation(ctx, c), "the current epoch creates")
	got, err := s.OpenConversation(ctx, "pn1", "491511")
	require.NoError(t, err)
	assert.Equal(t, "c1", got.ID)
}

func checkFenceAppend(t *testing.T, ctx context.Context, s FencingTestStore) {
	old := fencedConv(t, ctx, s, "c1", "491511")
	newer, err := s.AcquireEpoch(ctx, "pn1", "491511")
	require.NoError(t, err)

	next := old
	next.Version++
	next.Seq++
	m := msg("m1", "c1", base)
	m.Seq = next.Seq
	require.ErrorIs(t, s.AppendMessageAndSave(ctx, m, next), actors.ErrFenced)
	_, err = s.Message(ctx, "m1")
	require.ErrorIs(t, err, actors.ErrNotFound, "the refused append stored no message")
	_, err = s.MessageByWaID(ctx, m.WaMessageID)
	require.ErrorIs(t, err, actors.ErrNotFound, "the refused append kept no wamid")
	assert.Equal(t, old.Seq, mustConv(t, ctx, s, "c1").Seq, "the refused append left the conversation")

	next.Epoch = newer
	require.NoError(t, s.AppendMessageAndSave(ctx, m, next), "the current epoch appends")
	got, err := s.Message(ctx, "m1")
	require.NoError(t, err)
	assert.Equal(t, next.Seq, got.Seq)
	assert.Equal(t, next.Seq, mustConv(t, ctx, s, "c1").Seq)
}

func checkFenceStatuses(t *testing.T, ctx context.Context, s FencingTestStore) {
	c := fencedConv(t, ctx, s, "c1", "491511")
	for _, id := range []string{"o1", "o2"} {
		m := outbound(id, "c1", base)
		next := c
		next.Version++
		require.NoError(t, s.AppendMessageAndSave(ctx, m, next))
		c = mustConv(t, ctx, s, "c1")
		c.Epoch = next.Epoch
	}
	old := actors.Fence{PhoneNumberID: "pn1", WaID: "491511", Epoch: c.Epoch}
	newer, err := s.AcquireEpoch(ctx, "pn1", "491511")
	require.NoError(t, err)
	cur := old
	cur.Epoch = newer
	at := base.Add(time.Minute)

	_, err = s.UpdateMessageStatusFenced(ctx, old, "o1", actors.StatusSent, "wamid.o1", nil, at)
	require.ErrorIs(t, err, actors.ErrFenced)
	changes := []actors.StatusChange{{MessageID: "o1", Status: actors.StatusSent, At: at}, {MessageID: "o2", Status: actors.StatusSent, At: at}}
	_, err = s.UpdateMessageStatusesFenced(ctx, old, changes)
	require.ErrorIs(t, err, actors.ErrFenced)
	for _, id := range []string{"o1", "o2"} {
		m, err := s.Message(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, actors.StatusQueued, m.Status, "the refused status left %s", id)
		assert.Empty(t, m.WaMessageID, "the refused status left %s", id)
	}

	changed, err := s.UpdateMessageStatusFenced(ctx, cur, "o1", actors.StatusSent, "wamid.o1", nil, at)
	require.NoError(t, err)
	assert.True(t, changed)
	changes[1].Status = actors.StatusDelivered
	got, err := s.UpdateMessageStatusesFenced(ctx, cur, changes)
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true}, got, "o1 is sent already; o2 moves on")
	m, err := s.Message(ctx, "o2")
	require.NoError(t, err)
	assert.Equal(t, actors.StatusDelivered, m.Status)
}

func checkUnfenced(t *testing.T, ctx context.Context, s FencingTestStore) {
	_, err := s.AcquireEpoch(ctx, "pn1", "491511")
	require.NoError(t, err)
	c := conv("c1", "491511")
	require.NoError(t, s.CreateConversation(ctx, c), "epoch 0 writes unfenced")
	next := mustConv(t, ctx, s, "c1")
	next.Version++
	require.NoError(t, s.AppendMessageAndSave(ctx, msg("m1", "c1", base), next))
	_, err = s.UpdateMessageStatus(ctx, "m1", actors.StatusRead, "", nil, base)
	require.NoError(t, err)
}
