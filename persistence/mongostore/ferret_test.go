package mongostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/persistence/servicetest"
)

// The FerretDB handlers the tests run against.
const (
	handlerSQLite   = "sqlite"
	handlerPostgres = "postgresql"
)

// ferretServer is one embedded FerretDB shared by every test of the binary
// that uses its handler. Each test gets its own database on it.
type ferretServer struct {
	once   sync.Once
	uri    string
	admin  *mongo.Client // drops the databases tests leave behind
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

var (
	ferretMu      sync.Mutex
	ferretServers = map[string]*ferretServer{
		handlerSQLite:   {},
		handlerPostgres: {},
	}
	// sqliteDir holds the SQLite handler's files; removed by TestMain.
	sqliteDir string
	// ferretNewMu serialises ferretdb.New.
	ferretNewMu sync.Mutex
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopFerrets()
	if sqliteDir != "" {
		_ = os.RemoveAll(sqliteDir)
	}
	os.Exit(code)
}

// stopFerrets stops every FerretDB that was started and waits for it.
func stopFerrets() {
	ferretMu.Lock()
	defer ferretMu.Unlock()
	for _, fs := range ferretServers {
		if fs.admin != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = fs.admin.Disconnect(ctx)
			cancel()
		}
		if fs.cancel != nil {
			fs.cancel()
			<-fs.done
		}
	}
}

// ferretLogger discards FerretDB's own logs unless FERRETDB_LOG=1.
func ferretLogger() *slog.Logger {
	if os.Getenv("FERRETDB_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// ferretURI returns the MongoDB URI of the embedded FerretDB for handler,
// starting it on first use. The PostgreSQL handler needs the local server
// and skips (or fails, see servicetest) when it is missing.
func ferretURI(t *testing.T, handler string) (string, *mongo.Client) {
	t.Helper()
	var pgURL string
	if handler == handlerPostgres {
		pgURL = servicetest.PostgresURL(t)
	}
	ferretMu.Lock()
	fs := ferretServers[handler]
	ferretMu.Unlock()
	require.NotNil(t, fs, "unknown FerretDB handler %q", handler)

	fs.once.Do(func() {
		cfg := &ferretdb.Config{
			Listener:      ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
			Logger:        ferretLogger(),
			Handler:       handler,
			PostgreSQLURL: pgURL,
		}
		if handler == handlerSQLite {
			dir, err := os.MkdirTemp("", "mongostore-ferretdb-")
			if err != nil {
				fs.err = fmt.Errorf("sqlite dir: %w", err)
				return
			}
			ferretMu.Lock()
			sqliteDir = dir
			ferretMu.Unlock()
			cfg.SQLiteURL = "file:" + dir + "/"
		}
		// ferretdb.New sets package-level state: two handlers starting at
		// once (from parallel tests) race on it.
		ferretNewMu.Lock()
		f, err := ferretdb.New(cfg)
		ferretNewMu.Unlock()
		if err != nil {
			fs.err = fmt.Errorf("new ferretdb %s: %w", handler, err)
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = f.Run(ctx)
		}()
		uri := f.MongoDBURI()
		admin, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(4))
		ferretMu.Lock()
		fs.cancel, fs.done = cancel, done
		if err != nil {
			fs.err = fmt.Errorf("connect admin client: %w", err)
		}
		fs.uri, fs.admin = uri, admin
		ferretMu.Unlock()
	})
	require.NoError(t, fs.err, "start FerretDB with the %s handler", handler)
	return fs.uri, fs.admin
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
