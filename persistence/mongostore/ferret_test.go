package mongostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/persistence/servicetest"
)

// The FerretDB handlers the tests run against.
const (
	handlerSQLite   = servicetest.FerretSQLite
	handlerPostgres = servicetest.FerretPostgres
)

// ferretAdmin is the admin client of one handler's FerretDB (a child process
// shared by every test of the binary, see servicetest.FerretDB). Each test
// gets its own database on it, which the admin client drops.
type ferretAdmin struct {
	once   sync.Once
	uri    string
	client *mongo.Client
	err    error
}

var (
	ferretMu     sync.Mutex
	ferretAdmins = map[string]*ferretAdmin{
		handlerSQLite:   {},
		handlerPostgres: {},
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	disconnectAdmins()
	if err := servicetest.StopFerretDB(); err != nil {
		fmt.Fprintln(os.Stderr, "mongostore: stop FerretDB:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// disconnectAdmins closes the admin clients.
func disconnectAdmins() {
	ferretMu.Lock()
	defer ferretMu.Unlock()
	for _, fa := range ferretAdmins {
		if fa.client != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = fa.client.Disconnect(ctx)
			cancel()
		}
	}
}

// ferretURI returns the MongoDB URI of the FerretDB for handler, started on
// first use, and its admin client. The PostgreSQL handler needs the local
// server and skips (or fails, see servicetest) when it is missing.
func ferretURI(t *testing.T, handler string) (string, *mongo.Client) {
	t.Helper()
	uri := servicetest.FerretDB(t, handler)
	ferretMu.Lock()
	fa := ferretAdmins[handler]
	ferretMu.Unlock()
	require.NotNil(t, fa, "unknown FerretDB handler %q", handler)
	fa.once.Do(func() {
		client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(4))
		ferretMu.Lock()
		defer ferretMu.Unlock()
		if err != nil {
			fa.err = fmt.Errorf("connect admin client: %w", err)
			return
		}
		fa.uri, fa.client = uri, client
	})
	require.NoError(t, fa.err, "connect to FerretDB with the %s handler", handler)
	return fa.uri, fa.client
}

// freshDatabase returns the URI of the FerretDB for handler and the name of a
// new database that is dropped when t ends.
func freshDatabase(t *testing.T, handler string) (uri, database string) {
	t.Helper()
	uri, admin := ferretURI(t, handler)
	b := make([]byte, 6)
	rand.Read(b)
	database = "t_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := admin.Database(database).Drop(ctx); err != nil {
			t.Errorf("drop database %s: %v", database, err)
		}
	})
	return uri, database
}

// openStore opens a Store on a fresh database of the FerretDB for handler
// and closes it when t ends.
func openStore(t *testing.T, handler string) *Store {
	t.Helper()
	uri, database := freshDatabase(t, handler)
	s, err := Open(t.Context(), uri, database, 8, zaptest.NewLogger(t))
	require.NoError(t, err, "open store on %s", database)
	t.Cleanup(func() { _ = s.Close() })
	return s
}
