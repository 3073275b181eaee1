package mongostore

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/persistence/blobtest"
	"github.com/wacc/engine/persistence/sealed"
	"github.com/wacc/engine/persistence/storetest"
)

// openSealedStore opens a store with keys k on database of handler's
// server (a fresh database when database is "").
func openSealedStore(t *testing.T, uri, database string, k *sealed.Keyring) *Store {
	t.Helper()
	s, err := Open(t.Context(), uri, database, 8, zaptest.NewLogger(t), WithKeyring(k))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openSealedFresh(t *testing.T, handler string) *Store {
	t.Helper()
	uri, database := freshDatabase(t, handler)
	return openSealedStore(t, uri, database, storetest.Keyring(t, ""))
}

func runContractSealed(t *testing.T, handler string) {
	t.Run("store", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) actors.Store { return openSealedFresh(t, handler) })
	})
	t.Run("conversations", func(t *testing.T) {
		storetest.RunConversations(t, func(t *testing.T) actors.ConversationsStore { return openSealedFresh(t, handler) })
	})
	t.Run("outbound", func(t *testing.T) {
		storetest.RunOutbound(t, func(t *testing.T) storetest.OutboundTestStore { return openSealedFresh(t, handler) })
	})
	t.Run("media", func(t *testing.T) {
		storetest.RunMedia(t, func(t *testing.T) storetest.MediaTestStore { return openSealedFresh(t, handler) })
	})
	t.Run("blobs", func(t *testing.T) {
		blobtest.Run(t, blobtest.Harness{
			Open:      func(t *testing.T) mediabytes.Blobs { return openSealedFresh(t, handler).Blobs(testChunkSize) },
			ChunkSize: testChunkSize,
			Residue:   blobResidue,
		})
	})
	t.Run("references", func(t *testing.T) {
		blobtest.RunReferences(t, blobtest.RefHarness{
			Open: func(t *testing.T) (actors.MediaStore, mediabytes.Blobs) {
				s := openSealedFresh(t, handler)
				return s, s.Blobs(testChunkSize)
			},
			Residue: blobResidue,
			Rounds:  10,
		})
	})
}

func TestContractSealedFerretSQLite(t *testing.T) { runContractSealed(t, handlerSQLite) }

func TestContractSealedFerretPostgres(t *testing.T) { runContractSealed(t, handlerPostgres) }

// rawContains reports which of the collections' raw documents contain s.
func rawContains(t *testing.T, s *Store, str string) []string {
	t.Helper()
	db := s.customers.Database()
	var found []string
	for _, coll := range []string{customersColl, messagesColl, mediaChunksColl, inboxColl, idempotencyColl} {
		cur, err := db.Collection(coll).Find(t.Context(), bson.D{})
		require.NoError(t, err)
		for cur.Next(t.Context()) {
			if bytes.Contains(cur.Current, []byte(str)) {
				found = append(found, coll)
			}
		}
		require.NoError(t, cur.Err())
		require.NoError(t, cur.Close(t.Context()))
	}
	return found
}

func reencryptAll(t *testing.T, kinds []string, re func(kind, after string) (sealed.Batch, error)) int {
	t.Helper()
	moved := 0
	for _, kind := range kinds {
		after := ""
		for {
			b, err := re(kind, after)
			require.NoError(t, err, kind)
			moved += b.Resealed
			if b.Next == "" {
				break
			}
			after = b.Next
		}
	}
	return moved
}

func runSealedAtRest(t *testing.T, handler string) {
	ctx := t.Context()
	uri, database := freshDatabase(t, handler)
	hashKey := storetest.NewKey(t)
	oldKey, newKey := "old:"+storetest.NewKey(t), "new:"+storetest.NewKey(t)
	at := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	record := func(id string, at time.Time) (actors.Customer, actors.Message, []byte) {
		c := actors.Customer{ID: "c-" + id, Name: "Zyxwvut Canary " + id, Phone: "+1555000" + id, WaID: "1555000" + id,
			Email: "canary-mail-" + id + "@example.org", Attributes: map[string]string{"note": "canary-attribute"},
			Tags: []string{"vip"}, Version: 1, CreatedAt: at, UpdatedAt: at}
		m := actors.Message{ID: "m-" + id, ConversationID: "conv-" + id, Direction: "inbound", Type: "text",
			Text: "canary body text", Content: []byte(`{"body":"canary content"}`), Status: "received",
			WaMessageID: "wamid." + id, Raw: []byte(`{"text":{"body":"canary raw"}}`), CreatedAt: at, UpdatedAt: at}
		media := bytes.Repeat([]byte("canary media bytes "+id+" "), 12000) // several segments and chunks
		return c, m, media
	}
	write := func(s *Store, id string, at time.Time) (actors.Customer, actors.Message, []byte) {
		c, m, media := record(id, at)
		require.NoError(t, s.CreateCustomer(ctx, c))
		require.NoError(t, s.AppendMessage(ctx, m))
		require.NoError(t, s.Blobs(testChunkSize).Put(ctx, blobtest.Digest(media), int64(len(media)), bytes.NewReader(media)))
		return c, m, media
	}
	check := func(s *Store, c actors.Customer, m actors.Message, media []byte) {
		t.Helper()
		got, err := s.Customer(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, c.Name, got.Name)
		assert.Equal(t, c.Email, got.Email)
		assert.Equal(t, c.Attributes, got.Attributes)
		gm, err := s.MessageByWaID(ctx, m.WaMessageID)
		require.NoError(t, err)
		assert.Equal(t, m.Text, gm.Text)
		assert.JSONEq(t, string(m.Content), string(gm.Content))
		assert.JSONEq(t, string(m.Raw), string(gm.Raw))
		b, err := s.Blobs(testChunkSize).Open(ctx, blobtest.Digest(media))
		require.NoError(t, err)
		assert.Equal(t, int64(len(media)), b.Size())
		_, err = b.Seek(int64(len(media))-100, io.SeekStart)
		require.NoError(t, err)
		tail, err := io.ReadAll(b)
		require.NoError(t, err)
		assert.Equal(t, media[len(media)-100:], tail)
		require.NoError(t, b.Close())
	}

	// Before encryption: plaintext documents.
	plain := openSealedStore(t, uri, database, nil)
	c0, m0, media0 := write(plain, "0", at)
	require.NotEmpty(t, rawContains(t, plain, "canary body text"), "the check can see plaintext")

	// On with the old key: new documents sealed, old ones readable.
	s1 := openSealedStore(t, uri, database, storetest.Keyring(t, hashKey, oldKey))
	c1, m1, media1 := write(s1, "1", at.Add(time.Minute))
	inboxBody := []byte(`{"entry":[{"changes":[{"value":{"messages":[{"text":{"body":"canary inbox body"}}]}}]}]}`)
	require.NoError(t, s1.AppendInbox(ctx, []actors.InboxEntry{{ID: "i1", Body: inboxBody, ReceivedAt: at}}))
	pending, err := s1.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, inboxBody, pending[0].Body, "a sealed inbox body opens")
	_, err = s1.ClaimIdempotency(ctx, actors.IdempotencyRecord{Key: "idem-1", RequestHash: "h", CreatedAt: at,
		ExpiresAt: at.Add(24 * time.Hour), Owner: "o1", LeaseUntil: at.Add(time.Minute)})
	require.NoError(t, err)
	answer := []byte(`{"data":{"customer":{"name":"canary idempotent answer"}}}`)
	require.NoError(t, s1.CompleteIdempotency(ctx, "idem-1", "o1", 201, answer))
	rec, err := s1.IdempotencyRecord(ctx, "idem-1")
	require.NoError(t, err)
	assert.Equal(t, answer, rec.Body, "a sealed stored answer opens")
	check(s1, c0, m0, media0)
	check(s1, c1, m1, media1)

	// Rotate and move everything to the new key.
	s2 := openSealedStore(t, uri, database, storetest.Keyring(t, hashKey, newKey, oldKey))
	moved := reencryptAll(t, s2.ReencryptKinds(), func(kind, after string) (sealed.Batch, error) { return s2.Reencrypt(ctx, kind, after, 1) })
	assert.Equal(t, 4, moved, "two customers and two messages")
	moved = reencryptAll(t, []string{"media"}, func(kind, after string) (sealed.Batch, error) {
		return s2.Blobs(testChunkSize).Reencrypt(ctx, kind, after, 1)
	})
	assert.Equal(t, 2, moved, "two files")
	again := reencryptAll(t, s2.ReencryptKinds(), func(kind, after string) (sealed.Batch, error) { return s2.Reencrypt(ctx, kind, after, 10) })
	again += reencryptAll(t, []string{"media"}, func(kind, after string) (sealed.Batch, error) {
		return s2.Blobs(testChunkSize).Reencrypt(ctx, kind, after, 10)
	})
	assert.Zero(t, again, "a second run moves nothing")
	assert.Empty(t, blobResidue(t, s2.Blobs(testChunkSize)), "no old chunks or hidden files left")

	// The old key retired.
	s3 := openSealedStore(t, uri, database, storetest.Keyring(t, hashKey, newKey))
	check(s3, c0, m0, media0)
	check(s3, c1, m1, media1)
	for _, q := range []string{"zyxwvut canary 1", "5550001", "CANARY-MAIL-0@example.org", "vu"} {
		list, total, err := s3.ListCustomers(ctx, actors.CustomerFilter{Search: q, Page: 1, Limit: 10})
		require.NoError(t, err, q)
		assert.NotZero(t, total, q)
		assert.Len(t, list, total, q)
	}
	for _, c := range []string{"Zyxwvut", "canary-mail", "canary-attribute", "canary body", "canary content", "canary raw", "canary media", "canary inbox", "canary idempotent"} {
		assert.Empty(t, rawContains(t, s3, c), "plaintext %q at rest", c)
	}

	// Without keys a sealed document is an error, never ciphertext shown.
	_, err = plain.Customer(ctx, c1.ID)
	require.ErrorIs(t, err, sealed.ErrNoKeys)
	_, err = plain.Blobs(testChunkSize).Open(ctx, blobtest.Digest(media1))
	require.ErrorIs(t, err, sealed.ErrNoKeys)

	// A sealed value copied to another document does not open.
	var d customerDoc
	require.NoError(t, s3.customers.FindOne(ctx, bson.D{{Key: "_id", Value: c0.ID}}).Decode(&d))
	_, err = s3.customers.UpdateOne(ctx, bson.D{{Key: "_id", Value: c1.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: d.Name}}}})
	require.NoError(t, err)
	_, err = s3.Customer(ctx, c1.ID)
	require.ErrorIs(t, err, sealed.ErrCorrupt)
}

func TestSealedAtRestFerretSQLite(t *testing.T) { runSealedAtRest(t, handlerSQLite) }

func TestSealedAtRestFerretPostgres(t *testing.T) { runSealedAtRest(t, handlerPostgres) }
