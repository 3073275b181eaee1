package blobtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
)

// An interleaving orders the steps of one upload (mediabytes.Create of a
// record U of bytes X) against one deletion (mediabytes.Delete of the last
// other record of X). Steps are named after the call they come before:
// "create" (U's CreateMedia), "count1" and "count2" (the Release's counts),
// "remove" (the Release's Hide, or a Delete of X), "purge". Events are the
// same names, fired when the call returns, and "upload" when Create
// returns. waitFor holds each step back until its event fired.
type interleaving struct {
	name    string
	waitFor map[string]string
}

// interleavings are the orders in which a naive deletion (count, then
// delete the bytes) loses U's bytes, and the orders around them.
var interleavings = []interleaving{
	{name: "the upload writes its record after the first count, the release removes after the upload",
		waitFor: map[string]string{"create": "count1", "remove": "upload"}},
	{name: "the upload writes its record after the hide, the second count waits for the upload",
		waitFor: map[string]string{"create": "remove", "count2": "upload"}},
	{name: "the upload writes its record after the second count, the purge waits for the upload",
		waitFor: map[string]string{"create": "count2", "purge": "upload"}},
	{name: "the upload's record comes first",
		waitFor: map[string]string{"count1": "upload"}},
	{name: "the deletion finishes first",
		waitFor: map[string]string{"create": "delete"}},
}

// hooks holds steps back until their events fire.
type hooks struct {
	t       *testing.T
	waitFor map[string]string
	mu      sync.Mutex
	events  map[string]chan struct{}
	counts  int
}

func (h *hooks) event(name string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.events[name]
	if !ok {
		ch = make(chan struct{})
		h.events[name] = ch
	}
	return ch
}

func (h *hooks) before(step string) {
	ev, ok := h.waitFor[step]
	if !ok {
		return
	}
	select {
	case <-h.event(ev):
	case <-time.After(10 * time.Second):
		h.t.Errorf("step %s waited 10s for %s: the interleaving cannot happen", step, ev)
	}
}

// fire marks an event; only its first occurrence counts.
func (h *hooks) fire(ev string) {
	ch := h.event(ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (h *hooks) nextCount() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts++
	return fmt.Sprintf("count%d", h.counts)
}

type hookedStore struct {
	actors.MediaStore
	h *hooks
}

func (s hookedStore) CreateMedia(ctx context.Context, m actors.Media) error {
	s.h.before("create")
	defer s.h.fire("create")
	return s.MediaStore.CreateMedia(ctx, m)
}

func (s hookedStore) CountMediaBySHA256(ctx context.Context, sha string) (int, error) {
	step := s.h.nextCount()
	s.h.before(step)
	defer s.h.fire(step)
	return s.MediaStore.CountMediaBySHA256(ctx, sha)
}

type hookedBlobs struct {
	mediabytes.Blobs
	h *hooks
}

func (b hookedBlobs) Hide(ctx context.Context, sha string) (string, error) {
	b.h.before("remove")
	defer b.h.fire("remove")
	return b.Blobs.Hide(ctx, sha)
}

func (b hookedBlobs) Delete(ctx context.Context, sha string) error {
	b.h.before("remove")
	defer b.h.fire("remove")
	return b.Blobs.Delete(ctx, sha)
}

func (b hookedBlobs) Purge(ctx context.Context, hidden string) error {
	b.h.before("purge")
	defer b.h.fire("purge")
	return b.Blobs.Purge(ctx, hidden)
}

// checkInterleavings runs an upload and a deletion in each interleaving
// and checks that the upload's record keeps its bytes and that deleting it
// afterwards removes them.
func checkInterleavings(t *testing.T, ctx context.Context, h RefHarness, ms actors.MediaStore, bs mediabytes.Blobs) {
	for i, il := range interleavings {
		t.Run(il.name, func(t *testing.T) {
			data, sha := sample(uint64(60+i), 2100)
			seed := upload(fmt.Sprintf("i%d-seed", i), data)
			require.NoError(t, mediabytes.Create(ctx, ms, bs, seed, bytes.NewReader(data)))

			hk := &hooks{t: t, waitFor: il.waitFor, events: map[string]chan struct{}{}}
			hms, hbs := hookedStore{MediaStore: ms, h: hk}, hookedBlobs{Blobs: bs, h: hk}
			u := upload(fmt.Sprintf("i%d-upload", i), data)
			var wg sync.WaitGroup
			wg.Go(func() {
				assert.NoError(t, mediabytes.Create(ctx, hms, hbs, u, bytes.NewReader(data)), "upload")
				hk.fire("upload")
			})
			wg.Go(func() {
				assert.NoError(t, mediabytes.Delete(ctx, hms, hbs, seed.ID), "delete")
				hk.fire("delete")
			})
			wg.Wait()
			require.False(t, t.Failed())

			b, err := bs.Open(ctx, sha)
			require.NoError(t, err, "the upload's record has its bytes")
			got, err := io.ReadAll(b)
			require.NoError(t, err)
			require.NoError(t, b.Close())
			require.Equal(t, data, got)

			require.NoError(t, mediabytes.Delete(ctx, ms, bs, u.ID))
			requireAbsent(t, ctx, bs, sha)
			refNoResidue(t, h, bs)
		})
	}
}
