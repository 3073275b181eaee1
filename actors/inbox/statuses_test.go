package inbox

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/gateway/webhook"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// statusBody is a webhook body carrying statuses, each "recipient:wamid:status".
func statusBody(statuses ...string) []byte {
	var items []string
	for _, s := range statuses {
		p := strings.Split(s, ":")
		items = append(items, `{"id":"`+p[1]+`","status":"`+p[2]+`","timestamp":"1700000000","recipient_id":"`+p[0]+`"}`)
	}
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",` +
		`"metadata":{"display_phone_number":"1","phone_number_id":"pn"},"statuses":[` + strings.Join(items, ",") + `]}}]}]}`)
}

// commandDirectory records each command as "wa_id:in:wamid" or
// "wa_id:st:wamid/status,..." (one entry per command) and fails the
// commands of the wa_ids in fail.
type commandDirectory struct {
	mu   sync.Mutex
	got  []string
	fail map[string]bool
}

func (d *commandDirectory) Send(conversation.Key, conversation.Command) {}

func (d *commandDirectory) Request(key conversation.Key, msg conversation.Command, _ time.Duration) conversation.Reply {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ups []actors.StatusUpdate
	switch m := msg.(type) {
	case conversation.Inbound:
		d.got = append(d.got, key.WaID+":in:"+m.Msg.WaMessageID)
	case conversation.StatusChanged:
		ups = []actors.StatusUpdate{m.Update}
	case conversation.StatusesChanged:
		ups = m.Updates
	}
	if ups != nil {
		var parts []string
		for _, u := range ups {
			parts = append(parts, u.WaMessageID+"/"+u.Status)
		}
		d.got = append(d.got, key.WaID+":st:"+strings.Join(parts, ","))
	}
	if d.fail[key.WaID] {
		return reply{v: conversation.Result{Failure: &conversation.Failure{Code: conversation.CodeUnavailable, Message: "store down"}}}
	}
	return reply{v: conversation.Result{}}
}

func (d *commandDirectory) commands() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.got...)
}

// The statuses a round holds for one conversation go to it as one command,
// across bodies, up to the next message for it; a failed command retries
// every body that contributed to it, and only those.
func TestStatusesForOneConversationGoTogether(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// fail are the wa_ids whose conversations fail every command.
		fail map[string]bool
		// wantPending are the bodies (by index) left in the inbox.
		wantPending []int
	}{
		{name: "all applied: every body leaves"},
		{name: "a batch across two bodies fails: both stay, the rest leaves", fail: map[string]bool{"911": true}, wantPending: []int{0, 1, 2, 3}},
		{name: "a batch of one body fails: it stays", fail: map[string]bool{"922": true}, wantPending: []int{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"), zap.NewNop())
			require.NoError(t, err)
			t.Cleanup(func() { _ = store.Close() })
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Millisecond)
			bodies := [][]byte{
				statusBody("911:wa:sent", "922:wb:sent", "911:wc:sent"),
				statusBody("911:wa:delivered"),
				body("911", "w3"),
				statusBody("911:wa:read"),
			}
			ids := make([]string, len(bodies))
			var entries []actors.InboxEntry
			for i, b := range bodies {
				ids[i] = actors.NewID()
				entries = append(entries, actors.InboxEntry{ID: ids[i], Body: b, ReceivedAt: now.Add(time.Duration(i) * time.Millisecond)})
			}
			require.NoError(t, store.AppendInbox(ctx, entries))
			dir := &commandDirectory{fail: tc.fail}
			d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})

			n, err := d.drainOnce(ctx)
			assert.Equal(t, len(bodies), n, "one round takes every body")
			if len(tc.wantPending) > 0 {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, []string{
				"911:st:wa/sent,wc/sent,wa/delivered", // bodies 0 and 1, in body order
				"922:st:wb/sent",
				"911:in:w3",      // a message for 911 closes its batch...
				"911:st:wa/read", // ...so what follows it comes after it
			}, dir.commands())

			pending, err := store.PendingInbox(ctx, 10)
			require.NoError(t, err)
			var got []int
			for _, e := range pending {
				for i, id := range ids {
					if e.ID == id {
						got = append(got, i)
						assert.Equal(t, 1, e.Attempts, "body %d counts one attempt", i)
					}
				}
			}
			if tc.wantPending == nil {
				assert.Empty(t, got)
			} else {
				assert.ElementsMatch(t, tc.wantPending, got)
			}
		})
	}
}

// A batch refused because its conversation is parked defers every body in
// it without counting an attempt.
func TestParkedStatusBatchDefersItsBodies(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, store.AppendInbox(ctx, []actors.InboxEntry{
		{ID: actors.NewID(), Body: statusBody("911:wa:sent"), ReceivedAt: now},
		{ID: actors.NewID(), Body: statusBody("911:wa:delivered"), ReceivedAt: now.Add(time.Millisecond)},
	}))
	dir := &parkedDirectory{wa: "911"}
	dir.parked.Store(true)
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	_, err := d.drainOnce(ctx)
	require.NoError(t, err, "a parked conversation is not a failure")
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 2)
	for _, e := range pending {
		assert.Zero(t, e.Attempts)
		assert.Contains(t, d.deferred, e.ID)
	}
}
