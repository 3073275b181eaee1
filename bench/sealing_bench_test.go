package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/fsblobs"
	"github.com/wacc/engine/persistence/sealed"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// Cost of encryption at rest (persistence/sealed) per message: the
// sealing itself, a message stored and read back on SQLite with and
// without keys, and media bytes stored and read on the filesystem. No
// assertions on time; run with
//
//	go test -run '^$' -bench BenchmarkSealing -benchmem .
//
// and compare the on/off pairs.

func sealingKeyring(b *testing.B) *sealed.Keyring {
	b.Helper()
	key := func() string {
		k := make([]byte, sealed.KeySize)
		_, _ = rand.Read(k)
		return base64.StdEncoding.EncodeToString(k)
	}
	k, err := sealed.Parse("bench:"+key(), key())
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// benchMessage is an inbound text of typical size: 160 characters of
// text, its typed content and the raw message object WhatsApp sent.
func benchMessage(i int) actors.Message {
	text := strings.Repeat("hello, I need help with my order ", 5)[:160]
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	return actors.Message{
		ID: fmt.Sprintf("m%09d", i), ConversationID: fmt.Sprintf("c%05d", i%1000), Direction: "inbound", Type: "text",
		Text: text, Content: []byte(`{"body":"` + text + `"}`), Status: "received", WaMessageID: fmt.Sprintf("wamid.%09d", i),
		Raw: []byte(`{"from":"919800000001","id":"wamid.` + fmt.Sprint(i) + `","timestamp":"1767225600","type":"text","text":{"body":"` +
			text + `"}}`),
		CreatedAt: at, UpdatedAt: at,
	}
}

func BenchmarkSealing(b *testing.B) {
	b.Run("fields/seal+open", func(b *testing.B) {
		k := sealingKeyring(b)
		m := benchMessage(1)
		b.ReportAllocs()
		b.SetBytes(int64(len(m.Text) + len(m.Content) + len(m.Raw)))
		for b.Loop() {
			t := k.SealString(sealed.AAD("messages", "text", m.ID), m.Text)
			c := k.SealBytes(sealed.AAD("messages", "content", m.ID), m.Content)
			r := k.SealBytes(sealed.AAD("messages", "raw", m.ID), m.Raw)
			if _, err := k.OpenString(sealed.AAD("messages", "text", m.ID), t); err != nil {
				b.Fatal(err)
			}
			if _, err := k.Open(sealed.AAD("messages", "content", m.ID), c); err != nil {
				b.Fatal(err)
			}
			if _, err := k.Open(sealed.AAD("messages", "raw", m.ID), r); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run("sqlite/append+read/"+name, func(b *testing.B) {
			var opts []sqlitestore.Option
			if on {
				opts = append(opts, sqlitestore.WithKeyring(sealingKeyring(b)))
			}
			s, err := sqlitestore.Open(b.Context(), filepath.Join(b.TempDir(), "engine.db"), zap.NewNop(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				m := benchMessage(i)
				i++
				if err := s.AppendMessage(b.Context(), m); err != nil {
					b.Fatal(err)
				}
				got, err := s.MessageByWaID(b.Context(), m.WaMessageID)
				if err != nil || got.Text != m.Text {
					b.Fatalf("read back: %v", err)
				}
			}
		})
	}
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run("sqlite/customer-search-of-2000/"+name, func(b *testing.B) {
			var opts []sqlitestore.Option
			if on {
				opts = append(opts, sqlitestore.WithKeyring(sealingKeyring(b)))
			}
			s, err := sqlitestore.Open(b.Context(), filepath.Join(b.TempDir(), "engine.db"), zap.NewNop(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range sqlitestore.SealedSearchWindow {
				c := actors.Customer{ID: fmt.Sprintf("c%05d", i), Name: fmt.Sprintf("Customer %05d Rao", i),
					Phone: fmt.Sprintf("+9198%08d", i), WaID: fmt.Sprintf("9198%08d", i), Email: fmt.Sprintf("c%05d@example.com", i),
					Attributes: map[string]string{"plan": "gold"}, Version: 1, CreatedAt: at.Add(time.Duration(i) * time.Second), UpdatedAt: at}
				if err := s.CreateCustomer(b.Context(), c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				list, total, err := s.ListCustomers(b.Context(), actors.CustomerFilter{Search: "01234 rao", Page: 1, Limit: 20})
				if err != nil || total != 1 || len(list) != 1 {
					b.Fatalf("search: %d found, %v", total, err)
				}
			}
		})
	}
	media := make([]byte, 1<<20)
	_, _ = rand.Read(media)
	sum := sha256.Sum256(media)
	sha := hex.EncodeToString(sum[:])
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run("media-1MiB/put+read/"+name, func(b *testing.B) {
			var opts []fsblobs.Option
			if on {
				opts = append(opts, fsblobs.WithKeyring(sealingKeyring(b)))
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(media)))
			for b.Loop() {
				b.StopTimer()
				fs, err := fsblobs.Open(filepath.Join(b.TempDir(), "media"), opts...)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := fs.Put(b.Context(), sha, int64(len(media)), bytes.NewReader(media)); err != nil {
					b.Fatal(err)
				}
				blob, err := fs.Open(b.Context(), sha)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, blob)
				_ = blob.Close()
				if err != nil || n != int64(len(media)) {
					b.Fatalf("read back %d bytes: %v", n, err)
				}
			}
		})
	}
}
