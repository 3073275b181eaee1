package sqlitestore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/sealed"
	"github.com/wacc/engine/persistence/storetest"
)

func openSealedAt(t testing.TB, path string, k *sealed.Keyring) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, zaptest.NewLogger(t), WithKeyring(k))
	require.NoError(t, err)
	return s
}

func openSealedTemp(t *testing.T) *Store {
	t.Helper()
	s := openSealedAt(t, filepath.Join(t.TempDir(), "engine.db"), storetest.Keyring(t, ""))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// The contract suites that touch sealed fields pass with encryption on.
func TestContractSealed(t *testing.T) {
	t.Run("store", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) actors.Store { return openSealedTemp(t) })
	})
	t.Run("conversations", func(t *testing.T) {
		storetest.RunConversations(t, func(t *testing.T) actors.ConversationsStore { return openSealedTemp(t) })
	})
	t.Run("outbound", func(t *testing.T) {
		storetest.RunOutbound(t, func(t *testing.T) storetest.OutboundTestStore { return openSealedTemp(t) })
	})
	t.Run("media", func(t *testing.T) {
		storetest.RunMedia(t, func(t *testing.T) storetest.MediaTestStore { return openSealedTemp(t) })
	})
}

// canaries are strings that must not appear in the files when sealed.
var canaries = []string{"Zyxwvut Canary", "canary-mail@example.org", "canary-attribute", "canary body text", "canary content", "canary raw", "canary inbox body", "canary idempotent"}

func canaryRecords(id string, at time.Time) (actors.Customer, actors.Message) {
	c := actors.Customer{ID: "c-" + id, Name: "Zyxwvut Canary " + id, Phone: "+1555000" + id, WaID: "1555000" + id,
		Email: "canary-mail@example.org", Attributes: map[string]string{"note": "canary-attribute"}, Tags: []string{"vip"},
		Version: 1, CreatedAt: at, UpdatedAt: at}
	m := actors.Message{ID: "m-" + id, ConversationID: "conv-" + id, Direction: "inbound", Type: "text",
		Text: "canary body text", Content: []byte(`{"body":"canary content"}`), Status: "received",
		WaMessageID: "wamid." + id, Raw: []byte(`{"text":{"body":"canary raw"}}`), CreatedAt: at, UpdatedAt: at}
	return c, m
}

// filesContaining names the files of dir that contain s.
func filesContaining(t *testing.T, dir, s string) []string {
	t.Helper()
	var found []string
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		if bytes.Contains(b, []byte(s)) {
			found = append(found, e.Name())
		}
	}
	return found
}

func TestSealedAtRest(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "engine.db")
	hashKey := storetest.NewKey(t)
	oldKey, newKey := "old:"+storetest.NewKey(t), "new:"+storetest.NewKey(t)
	at := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

	// Written before encryption was turned on: plaintext.
	s := openSealedAt(t, path, nil)
	c0, m0 := canaryRecords("0", at)
	require.NoError(t, s.CreateCustomer(ctx, c0))
	require.NoError(t, s.AppendMessage(ctx, m0))
	require.NoError(t, s.Close())
	require.NotEmpty(t, filesContaining(t, dir, "canary body text"), "the check can see plaintext")

	// Encryption on with the old key: new rows sealed, old rows readable.
	s = openSealedAt(t, path, storetest.Keyring(t, hashKey, oldKey))
	c1, m1 := canaryRecords("1", at.Add(time.Minute))
	require.NoError(t, s.CreateCustomer(ctx, c1))
	require.NoError(t, s.AppendMessage(ctx, m1))
	got, err := s.Customer(ctx, c0.ID)
	require.NoError(t, err)
	assert.Equal(t, c0.Name, got.Name, "a plaintext row stays readable")
	got, err = s.Customer(ctx, c1.ID)
	require.NoError(t, err)
	assert.Equal(t, c1.Name, got.Name)
	assert.Equal(t, c1.Attributes, got.Attributes)
	gm, err := s.MessageByWaID(ctx, m1.WaMessageID)
	require.NoError(t, err)
	assert.Equal(t, m1.Text, gm.Text)
	inboxBody := []byte(`{"entry":[{"changes":[{"value":{"messages":[{"text":{"body":"canary inbox body"}}]}}]}]}`)
	require.NoError(t, s.AppendInbox(ctx, []actors.InboxEntry{{ID: "i1", Body: inboxBody, ReceivedAt: at}}))
	pending, err := s.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, inboxBody, pending[0].Body, "a sealed inbox body opens")
	_, err = s.ClaimIdempotency(ctx, actors.IdempotencyRecord{Key: "idem-1", RequestHash: "h", CreatedAt: at,
		ExpiresAt: at.Add(24 * time.Hour), Owner: "o1", LeaseUntil: at.Add(time.Minute)})
	require.NoError(t, err)
	answer := []byte(`{"data":{"customer":{"name":"canary idempotent answer"}}}`)
	require.NoError(t, s.CompleteIdempotency(ctx, "idem-1", "o1", 201, answer))
	rec, err := s.IdempotencyRecord(ctx, "idem-1")
	require.NoError(t, err)
	assert.Equal(t, answer, rec.Body, "a sealed stored answer opens")
	assert.JSONEq(t, string(m1.Content), string(gm.Content))
	assert.JSONEq(t, string(m1.Raw), string(gm.Raw))

	// Rotate: the new key first, the old one kept; reencrypt moves all.
	require.NoError(t, s.Close())
	s = openSealedAt(t, path, storetest.Keyring(t, hashKey, newKey, oldKey))
	for _, kind := range s.ReencryptKinds() {
		after := ""
		for {
			b, err := s.Reencrypt(ctx, kind, after, 1)
			require.NoError(t, err)
			if b.Next == "" {
				break
			}
			after = b.Next
		}
	}
	// A second run finds nothing to do.
	for _, kind := range s.ReencryptKinds() {
		b, err := s.Reencrypt(ctx, kind, "", 100)
		require.NoError(t, err)
		assert.Equal(t, 2, b.Scanned, kind)
		assert.Zero(t, b.Resealed, kind)
	}
	var name, text string
	require.NoError(t, s.r.QueryRowContext(ctx, `SELECT name FROM customers WHERE id = ?`, c0.ID).Scan(&name))
	require.NoError(t, s.r.QueryRowContext(ctx, `SELECT text FROM messages WHERE id = ?`, m0.ID).Scan(&text))
	for _, v := range []string{name, text} {
		id, ok := sealed.StringKeyID(v)
		require.True(t, ok, "the legacy row is sealed now")
		assert.Equal(t, "new", id)
	}
	require.NoError(t, s.Close())

	// The old key retired: everything still opens.
	s = openSealedAt(t, path, storetest.Keyring(t, hashKey, newKey))
	for _, c := range []actors.Customer{c0, c1} {
		got, err := s.Customer(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, c.Name, got.Name)
		assert.Equal(t, c.Email, got.Email)
	}
	// Search: a name substring, a phone substring, an exact e-mail.
	for _, q := range []string{"zyxwvut canary 1", "5550001", "CANARY-MAIL@example.org", "vu"} {
		list, total, err := s.ListCustomers(ctx, actors.CustomerFilter{Search: q, Page: 1, Limit: 10})
		require.NoError(t, err, q)
		assert.NotZero(t, total, q)
		assert.Len(t, list, total, q)
	}
	list, total, err := s.ListCustomers(ctx, actors.CustomerFilter{Search: "xq", Page: 1, Limit: 10})
	require.NoError(t, err)
	assert.Zero(t, total, "a short search does not match inside ciphertext")
	assert.Empty(t, list)
	_, err = s.r.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	for _, c := range canaries {
		assert.Empty(t, filesContaining(t, dir, c), "plaintext %q at rest", c)
	}

	// Without keys a sealed row is an error, never ciphertext shown.
	s = openSealedAt(t, path, nil)
	_, err = s.Customer(ctx, c1.ID)
	require.ErrorIs(t, err, sealed.ErrNoKeys)
	require.NoError(t, s.Close())
}

// A sealed value moved to another row does not open.
func TestSealedValueBoundToRow(t *testing.T) {
	ctx := t.Context()
	s := openSealedTemp(t)
	at := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	a, _ := canaryRecords("1", at)
	b, _ := canaryRecords("2", at)
	require.NoError(t, s.CreateCustomer(ctx, a))
	require.NoError(t, s.CreateCustomer(ctx, b))
	_, err := s.w.ExecContext(ctx, `UPDATE customers SET name = (SELECT name FROM customers WHERE id = ?) WHERE id = ?`, a.ID, b.ID)
	require.NoError(t, err)
	_, err = s.Customer(ctx, b.ID)
	require.ErrorIs(t, err, sealed.ErrCorrupt)
}
