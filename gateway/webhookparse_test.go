package gateway_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/webhook"
)

// acceptedLog passes on what the gateway hands to the dispatcher, in the
// order handed over. The gateway answers 200 once the body is stored and
// hands it over just after, so tests wait for it with next.
type acceptedLog struct{ ch chan actors.InboxEntry }

func newAcceptedLog() *acceptedLog { return &acceptedLog{ch: make(chan actors.InboxEntry, 256)} }

func (l *acceptedLog) accept(es []actors.InboxEntry) {
	for _, e := range es {
		l.ch <- e
	}
}

// next returns the next entry handed over; it fails the test if none comes
// within 10 s (a hang, not a speed check).
func (l *acceptedLog) next(t *testing.T) actors.InboxEntry {
	t.Helper()
	select {
	case e := <-l.ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no entry handed over to the dispatcher")
		return actors.InboxEntry{}
	}
}

// metaEscaped is a body as Meta writes it (non-ASCII as \u escapes, "/" as
// "\/"); Meta signs exactly these bytes.
const metaEscaped = `{"object":"whatsapp_business_account","entry":[{"id":"100000000000002","changes":[{"value":{"messaging_product":"whatsapp",` +
	`"metadata":{"display_phone_number":"15550001111","phone_number_id":"1122334455667"},` +
	`"contacts":[{"profile":{"name":"Jos\u00e9"},"wa_id":"919876543210"}],` +
	`"messages":[{"from":"919876543210","id":"wamid.escaped","timestamp":"1740823200","type":"text",` +
	`"text":{"body":"Ol\u00e1 \ud83d\ude00 https:\/\/example.com\/orders\/42"}}]},"field":"messages"}]}]}`

// TestWebhookHandsOverTheBatchItParsed: an accepted body is parsed once, in
// the handler, and that batch goes to the dispatcher with the entry; it is
// what parsing the stored body gives, for every fixture of Meta's bodies,
// so recovery (which parses the stored body) applies the same thing. The
// stored body is the raw signed bytes.
func TestWebhookHandsOverTheBatchItParsed(t *testing.T) {
	log := newAcceptedLog()
	h := newHarness(t, harnessOpts{accepted: log.accept})
	ctx := context.Background()

	bodies := map[string][]byte{"meta-escaped": []byte(metaEscaped)}
	files, err := filepath.Glob(filepath.Join("webhook", "testdata", "fixtures", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		bodies[filepath.Base(f)] = b
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			r := h.call(http.MethodPost, "/api/whatsapp/webhook", "", body, "X-Hub-Signature-256", webhook.Sign(body, h.cfg.WhatsAppAppSecret))
			require.Equal(t, http.StatusOK, r.Status, r.String())

			handed := log.next(t)
			require.NotNil(t, handed.Batch, "a WhatsApp body is handed over parsed")

			stored, err := h.store.PendingInbox(ctx, 1000)
			require.NoError(t, err)
			var got *actors.InboxEntry
			for i := range stored {
				if stored[i].ID == handed.ID {
					got = &stored[i]
				}
			}
			require.NotNil(t, got, "the handed-over entry is stored")
			assert.Equal(t, body, got.Body, "the stored body is the signed bytes")
			assert.Nil(t, got.Batch)
			reparsed, err := webhook.Parse(got.Body)
			require.NoError(t, err)
			assert.Equal(t, reparsed, *handed.Batch)
			require.NoError(t, h.store.MarkInboxDone(ctx, []string{got.ID}))
		})
	}
}

// TestWebhookBodiesThatDoNotParse: valid JSON that is not a WhatsApp body
// is still signed by Meta, so it is stored and answered 200, handed over
// without a batch (the dispatcher parses it and sets it aside); a body that
// is not JSON is refused with 400 and neither stored nor handed over; a
// bad signature is refused before any parse.
func TestWebhookBodiesThatDoNotParse(t *testing.T) {
	log := newAcceptedLog()
	h := newHarness(t, harnessOpts{accepted: log.accept})
	ctx := context.Background()
	post := func(body []byte, sig string) response {
		return h.call(http.MethodPost, "/api/whatsapp/webhook", "", body, "X-Hub-Signature-256", sig)
	}

	other := []byte(`{"object":"page","entry":[]}`)
	r := post(other, webhook.Sign(other, h.cfg.WhatsAppAppSecret))
	require.Equal(t, http.StatusOK, r.Status, r.String())
	handed := log.next(t)
	assert.Nil(t, handed.Batch)
	stored, err := h.store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, stored, 1)
	assert.Equal(t, other, stored[0].Body)

	for _, bad := range [][]byte{[]byte(`{"object":"whatsapp_business_account",`), []byte(`{"object":"whatsapp_business_account"} {}`)} {
		r = post(bad, webhook.Sign(bad, h.cfg.WhatsAppAppSecret))
		require.Equal(t, http.StatusBadRequest, r.Status, r.String())
		assert.Equal(t, "INVALID_JSON", r.code())
	}
	escaped := []byte(metaEscaped)
	r = post(escaped, webhook.Sign([]byte(`{"object":"whatsapp_business_account"}`), h.cfg.WhatsAppAppSecret))
	require.Equal(t, http.StatusUnauthorized, r.Status, r.String())

	// Entries are handed over in commit order: the next one after the
	// refused bodies is this one.
	r = post(escaped, webhook.Sign(escaped, h.cfg.WhatsAppAppSecret))
	require.Equal(t, http.StatusOK, r.Status, r.String())
	sentinel := log.next(t)
	assert.Equal(t, escaped, sentinel.Body, "nothing refused was handed over")
	stored, err = h.store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, stored, 2, "nothing refused was stored")
	assert.Equal(t, []string{handed.ID, sentinel.ID}, []string{stored[0].ID, stored[1].ID})
}
