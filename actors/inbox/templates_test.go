package inbox

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/webhook"
)

// recordingTemplates applies template events, failing while down is set.
type recordingTemplates struct {
	mu   sync.Mutex
	down bool
	got  []string
}

func (r *recordingTemplates) ApplyTemplateEvent(_ context.Context, ev actors.TemplateEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return errors.New("store down")
	}
	r.got = append(r.got, ev.BusinessAccountID+":"+ev.Name+"/"+ev.Language+":"+ev.Event+ev.Quality)
	return nil
}

func templateBody(event string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"waba1","time":1700000000,"changes":[` +
		`{"field":"message_template_status_update","value":{"event":"` + event + `","message_template_id":1,"message_template_name":"welcome","message_template_language":"en_US","reason":"NONE"}},` +
		`{"field":"message_template_quality_update","value":{"new_quality_score":"RED","message_template_id":1,"message_template_name":"welcome","message_template_language":"en-US"}}]}]}`)
}

func TestTemplateWebhooksReachTheRegistry(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, store.AppendInbox(ctx, []actors.InboxEntry{
		{ID: actors.NewID(), Body: templateBody("PAUSED"), ReceivedAt: now},
		{ID: actors.NewID(), Body: body("911", "w1"), ReceivedAt: now},
		{ID: actors.NewID(), Body: templateBody("APPROVED"), ReceivedAt: now},
	}))
	dir := &recordingDirectory{}
	reg := &recordingTemplates{down: true}
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Templates: reg, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})

	// While the registry fails, the template entries stay; the message
	// entry is applied and leaves.
	_, err := d.drainOnce(ctx)
	require.Error(t, err)
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 2)
	require.Equal(t, 1, pending[0].Attempts)

	reg.mu.Lock()
	reg.down = false
	reg.mu.Unlock()
	_, err = d.drainOnce(ctx)
	require.NoError(t, err)
	pending, err = store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
	require.Equal(t, []string{"waba1:welcome/en_US:PAUSED", "waba1:welcome/en_US:RED", "waba1:welcome/en_US:APPROVED", "waba1:welcome/en_US:RED"}, reg.got,
		"in inbox order, each body's events in body order")
}

func TestTemplateWebhooksWithoutRegistryDoNotBlock(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	ctx := context.Background()
	require.NoError(t, store.AppendInbox(ctx, []actors.InboxEntry{{ID: actors.NewID(), Body: templateBody("PAUSED"), ReceivedAt: time.Now().UTC()}}))
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: &recordingDirectory{}, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	_, err := d.drainOnce(ctx)
	require.NoError(t, err)
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
}
