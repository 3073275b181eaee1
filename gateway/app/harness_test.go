package app_test

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/gateway/app"
	"github.com/wacc/engine/gateway/auth"
	"github.com/wacc/engine/persistence/memkv"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// fixture is an App over a real SQLite store and the in-process revocation
// list, with a clock the test moves.
type fixture struct {
	app   *app.App
	store *sqlitestore.Store
	kv    *memkv.KV
	dir   *fakeDirectory

	mu  sync.Mutex
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	log := zaptest.NewLogger(t)
	store, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "engine.db"), log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	kv := memkv.New(memkv.Options{})
	t.Cleanup(func() { _ = kv.Close() })
	f := &fixture{store: store, kv: kv, dir: &fakeDirectory{}, now: time.Now().UTC()}
	issuer := auth.NewIssuer([]byte(strings.Repeat("a", 32)), []byte(strings.Repeat("b", 32)), 15*time.Minute, f.clock)
	f.app = app.New(app.Deps{
		Users: store, Families: store, Revocations: kv, Issuer: issuer, RefreshTTL: time.Hour,
		Conversations: store, Directory: f.dir, Media: store, Now: f.clock, Log: log,
	})
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// fakeDirectory answers every Request with res and records the messages.
type fakeDirectory struct {
	mu   sync.Mutex
	msgs []conversation.Command
	res  conversation.Result
}

func (d *fakeDirectory) Send(conversation.Key, conversation.Command) {}

func (d *fakeDirectory) Request(_ conversation.Key, msg conversation.Command, _ time.Duration) conversation.Reply {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.msgs = append(d.msgs, msg)
	return reply{v: d.res}
}

func (d *fakeDirectory) sent() []conversation.Command {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]conversation.Command(nil), d.msgs...)
}

type reply struct{ v any }

func (r reply) Result() (any, error) { return r.v, nil }
