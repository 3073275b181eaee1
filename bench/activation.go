package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/asynkron/protoactor-go/actor"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/bench/density"
	"github.com/wacc/engine/persistence/sqlitestore"
	"github.com/wacc/engine/supervisors"
)

// runActivation measures, in this process: cold activations (a message to
// a conversation not in memory: load from the store, spawn, handle,
// answer) through supervisors.Host over SQLite; the peer, a bare
// mongo-driver FindOne-by-_id loop at the same concurrency over as many
// documents; and rehydration after a restart (Host.Rehydrate of 100k open
// conversations, 20k with --quick).
func runActivation(ctx context.Context, env *Env, res *Result) error {
	n := 20_000
	rehydrateN := 100_000
	if env.Opts.Quick {
		n, rehydrateN = 5_000, 20_000
	}
	cold, err := coldActivations(ctx, env, res, n)
	if err != nil {
		return err
	}

	for _, srv := range peerServers(env) {
		fmt.Fprintf(env.Progress, "   peer: %d documents, FindOne by _id, %s\n", n, srv.name)
		peer, err := findOnePeer(ctx, env, n, srv)
		if err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("peer (bare mongo-driver FindOne loop) against %s skipped: %v", srv.desc, err))
			continue
		}
		res.Runs = append(res.Runs, peer)
		res.Comparisons = append(res.Comparisons,
			compare(fmt.Sprintf("cold activation vs bare mongo-driver FindOne on %s (0.7× wanted)", srv.name), cold.Rate/max(peer.Rate, 1), 0.7, "×", false))
		res.Notes = append(res.Notes, fmt.Sprintf("peer %q: mongo-driver v2 FindOne by _id, decoded into a conversation-shaped struct, over %d documents, %d in flight, against %s", peer.Name, n, env.Opts.Conns, srv.desc))
	}
	if env.Opts.MongoURI == "" {
		res.Notes = append(res.Notes, "FerretDB is a slow stand-in for MongoDB, so these ratios flatter the engine: FerretDB turns each FindOne into SQL in this process, on the same two cores as the load generator; with the SQLite handler FerretDB 1.24's _id filter (sjson->'$._id') does not match its _id index (sjson->\"_id\"), so every FindOne scans all documents (a CPU profile is dominated by SQLite's JSON parser); with the PostgreSQL handler the filter goes to PostgreSQL (on the same cores) as a JSONB comparison. A real mongod answers FindOne by _id far faster: run with --mongo URI for the comparison the issue means")
	}

	fmt.Fprintf(env.Progress, "   rehydration: seed %d open conversations, restart, Host.Rehydrate\n", rehydrateN)
	hydr, err := rehydration(ctx, env, rehydrateN)
	if err != nil {
		return fmt.Errorf("activation: %w", err)
	}
	res.Runs = append(res.Runs, hydr)
	per100k := hydr.Seconds * 100_000 / float64(rehydrateN)
	what := "rehydration of 100k open conversations"
	if rehydrateN != 100_000 {
		what = fmt.Sprintf("rehydration of %dk open conversations, time scaled to 100k", rehydrateN/1000)
	}
	res.Comparisons = append(res.Comparisons, compare(what, per100k, 10, " s", true))
	res.Notes = append(res.Notes, fmt.Sprintf("rehydration: %d open conversations seeded through the SQLite store (updated in the last 5 min, each with a pending window-warning timer), store closed and reopened, a fresh actor system and supervisors.Host (16 shards), then Host.Rehydrate: %.2f s, %.0f conversations/s, %d actors in memory after it, live heap %.0f MiB after it (%.0f B per conversation, store and actor system included)",
		rehydrateN, hydr.Seconds, hydr.Rate, int(hydr.Extra["live"]), hydr.Extra["liveHeapMiB"], hydr.Extra["bytesPerConversation"]))
	return nil
}

// coldActivations sends messages to n conversations that have left memory
// (idle timeout 200ms) and measures each cold activation: load from the
// store, spawn, handle, answer.
func coldActivations(ctx context.Context, env *Env, res *Result, n int) (Run, error) {
	const idle = 200 * time.Millisecond
	dir, err := os.MkdirTemp(env.Tmp, "activation-")
	if err != nil {
		return Run{}, fmt.Errorf("activation: %w", err)
	}
	f, err := density.OpenFleetIdle(ctx, dir, zap.NewNop(), idle)
	if err != nil {
		return Run{}, fmt.Errorf("activation: %w", err)
	}
	defer f.Close()
	fmt.Fprintf(env.Progress, "   opening %d conversations\n", n)
	if err := f.Activate(ctx, 0, n); err != nil {
		return Run{}, fmt.Errorf("activation: %w", err)
	}
	// Each op goes to a conversation that has been idle longer than idle:
	// round r visits conversations in order, and a round of n at the
	// measured rate takes far longer than 200ms.
	cold := env.load(ctx, loadSpec{Name: "cold activation", Op: func(_ context.Context, i int64) error {
		return f.Deliver(int(i%int64(n)), 1+int(i/int64(n)))
	}})
	cold.Extra = map[string]float64{"conversations": float64(n), "liveAtEnd": float64(f.Live())}
	res.Runs = append(res.Runs, cold)
	res.Comparisons = append(res.Comparisons,
		compare("cold activations", cold.Rate, 5000, "/s", false),
		compare("cold activation p99", cold.Latency.P99, 20, "ms", true),
	)
	res.Notes = append(res.Notes, fmt.Sprintf("in-process supervisors.Host over SQLite, %d conversations visited round-robin with ACTOR_IDLE_TIMEOUT=%s, %d in flight; a conversation is cold when its round comes back if a round lasts longer than the idle timeout (it does below ~%d/s); each cold activation is a conversation read, a wamid insert and a conditional conversation save",
		n, idle, env.Opts.Conns, int(float64(n)/idle.Seconds())))
	if err := f.Close(); err != nil {
		return Run{}, fmt.Errorf("activation: %w", err)
	}
	return cold, nil
}

// peerDoc is a document of the peer's collection, shaped as the Mongo
// store's conversation documents, so the peer decodes as much as a load
// would.
type peerDoc struct {
	ID             string     `bson:"_id"`
	CustomerID     string     `bson:"customerId"`
	PhoneNumberID  string     `bson:"phoneNumberId"`
	WaID           string     `bson:"waId"`
	State          string     `bson:"state"`
	AssigneeID     string     `bson:"assigneeId"`
	LastInboundAt  *time.Time `bson:"lastInboundAt,omitempty"`
	LastOutboundAt *time.Time `bson:"lastOutboundAt,omitempty"`
	ExpiresAt      *time.Time `bson:"expiresAt,omitempty"`
	NextTimerAt    *time.Time `bson:"nextTimerAt,omitempty"`
	Unread         int64      `bson:"unread"`
	Seq            int64      `bson:"seq"`
	Version        int64      `bson:"version"`
	CreatedAt      time.Time  `bson:"createdAt"`
	UpdatedAt      time.Time  `bson:"updatedAt"`
}

// peerServer is a server the FindOne peer runs against.
type peerServer struct {
	// name labels the run; desc says what the server is.
	name, desc string
	// uri is the server's; empty: start FerretDB with handler (and pgURL
	// for the PostgreSQL handler) in this process.
	uri, handler, pgURL string
}

// peerServers are --mongo alone when given, else FerretDB embedded with the
// SQLite handler and, when the local PostgreSQL answers, with the
// PostgreSQL handler.
func peerServers(env *Env) []peerServer {
	if env.Opts.MongoURI != "" {
		return []peerServer{{name: "--mongo", desc: "the MongoDB server of --mongo", uri: env.Opts.MongoURI}}
	}
	ferret := "FerretDB " + moduleVersion("github.com/FerretDB/FerretDB") + " embedded in the bench process"
	out := []peerServer{{name: "FerretDB/SQLite", desc: ferret + " (SQLite handler, temporary directory)", handler: "sqlite"}}
	const pgAddr = "127.0.0.1:5432"
	if conn, err := net.DialTimeout("tcp", pgAddr, time.Second); err == nil {
		conn.Close()
		out = append(out, peerServer{name: "FerretDB/PostgreSQL", desc: ferret + " (PostgreSQL handler, local server, database test)",
			handler: "postgresql", pgURL: "postgres://postgres@" + pgAddr + "/test?sslmode=disable"})
	}
	return out
}

// findOnePeer inserts n conversation-shaped documents into a fresh
// database of srv and measures a bare mongo-driver FindOne-by-_id loop
// over them at the bench's concurrency.
func findOnePeer(ctx context.Context, env *Env, n int, srv peerServer) (Run, error) {
	uri := srv.uri
	if uri == "" {
		stop, u, err := startFerretDB(env, srv.handler, srv.pgURL)
		if err != nil {
			return Run{}, err
		}
		defer stop()
		uri = u
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(uint64(env.Opts.Conns)).SetAppName("wacc-bench"))
	if err != nil {
		return Run{}, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Disconnect(dctx)
	}()
	b := make([]byte, 6)
	rand.Read(b)
	db := client.Database("bench_activation_" + hex.EncodeToString(b))
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.Drop(dctx)
	}()
	coll := db.Collection("conversations")
	ids, err := seedPeer(ctx, coll, n)
	if err != nil {
		return Run{}, fmt.Errorf("seed: %w", err)
	}
	run := env.load(ctx, loadSpec{Name: "bare FindOne, " + srv.name, Op: func(ctx context.Context, i int64) error {
		var d peerDoc
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: ids[i%int64(n)]}}).Decode(&d); err != nil {
			return fmt.Errorf("find %s: %w", ids[i%int64(n)], err)
		}
		return nil
	}})
	run.Extra = map[string]float64{"documents": float64(n)}
	return run, nil
}

// seedPeer inserts n conversation-shaped documents, 1000 at a time, and
// returns their ids.
func seedPeer(ctx context.Context, coll *mongo.Collection, n int) ([]string, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	expires, next := now.Add(23*time.Hour), now.Add(22*time.Hour)
	ids := make([]string, n)
	for from := 0; from < n; from += 1000 {
		docs := make([]any, 0, 1000)
		for i := from; i < min(n, from+1000); i++ {
			ids[i] = actors.NewID()
			docs = append(docs, peerDoc{ID: ids[i], CustomerID: actors.NewID(), PhoneNumberID: "106540352242922", WaID: fmt.Sprintf("4916%09d", i),
				State: actors.StateActive, LastInboundAt: &now, ExpiresAt: &expires, NextTimerAt: &next, Unread: 1, Seq: 1, Version: 2,
				CreatedAt: now, UpdatedAt: now})
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// startFerretDB starts a FerretDB with handler ("sqlite": in a directory
// under env.Tmp; "postgresql": on pgURL), listening on a free loopback
// port, and returns how to stop it and its URI.
func startFerretDB(env *Env, handler, pgURL string) (stop func(), uri string, err error) {
	dir, err := os.MkdirTemp(env.Tmp, "ferretdb-")
	if err != nil {
		return nil, "", fmt.Errorf("ferretdb: %w", err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:        slog.New(slog.DiscardHandler),
		Handler:       handler,
		SQLiteURL:     "file:" + dir + "/",
		PostgreSQLURL: pgURL,
	})
	if err != nil {
		return nil, "", fmt.Errorf("start ferretdb: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	return func() { cancel(); <-done }, f.MongoDBURI(), nil
}

// moduleVersion is the version of module path this binary was built with.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "(unknown version)"
}

// rehydration seeds n open conversations through a SQLite store, closes it
// (the restart), and measures a fresh supervisors.Host rehydrating them
// over the reopened store: seconds, conversations per second, and the live
// heap afterwards.
func rehydration(ctx context.Context, env *Env, n int) (Run, error) {
	dir, err := os.MkdirTemp(env.Tmp, "rehydrate-")
	if err != nil {
		return Run{}, fmt.Errorf("rehydration: %w", err)
	}
	path := filepath.Join(dir, "engine.db")
	seedStart := time.Now()
	if err := seedOpenConversations(ctx, path, n); err != nil {
		return Run{}, fmt.Errorf("rehydration: %w", err)
	}
	seeded := time.Since(seedStart)

	before := liveHeap()
	store, err := sqlitestore.Open(ctx, path, zap.NewNop())
	if err != nil {
		return Run{}, fmt.Errorf("rehydration: %w", err)
	}
	defer store.Close()
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	defer system.Shutdown()
	cfg := conversation.Config{Window: 24 * time.Hour, Warning: time.Hour, IdleTimeout: 10 * time.Minute, IOTimeout: 5 * time.Second}
	deps := &conversation.Deps{Store: store, Config: cfg, Log: zap.NewNop()}
	host := supervisors.NewHost(system, deps, 16, zap.NewNop())
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		host.Stop(sctx)
	}()

	r, err := host.Rehydrate(ctx, store, 0)
	if err != nil {
		return Run{}, fmt.Errorf("rehydration: %w", err)
	}
	live := host.Live()
	if r.Spawned != n || live != n {
		return Run{}, fmt.Errorf("rehydration: %d spawned and %d in memory, want %d", r.Spawned, live, n)
	}
	after := liveHeap()
	fmt.Fprintf(env.Progress, "   rehydrated %d in %.2f s (seeding took %.1f s)\n", n, r.Duration.Seconds(), seeded.Seconds())
	return Run{Name: fmt.Sprintf("rehydration (N=%d, conversations/s)", n), Ops: int64(n), Seconds: r.Duration.Seconds(),
		Rate: float64(n) / r.Duration.Seconds(),
		Extra: map[string]float64{"live": float64(live), "seedSeconds": seeded.Seconds(),
			"liveHeapMiB": float64(after) / (1 << 20), "bytesPerConversation": (float64(after) - float64(before)) / float64(n)}}, nil
}

// seedOpenConversations creates, in a new store at path, n conversations
// as an earlier engine would have left them (active, updated in the last 5
// minutes, a window-warning timer pending), 64 at a time, and closes it.
func seedOpenConversations(ctx context.Context, path string, n int) error {
	store, err := sqlitestore.Open(ctx, path, zap.NewNop())
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range 64 {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || gctx.Err() != nil {
					return gctx.Err()
				}
				updated := now.Add(-time.Duration(i%300_000) * time.Millisecond)
				c := actors.Conversation{ID: actors.NewID(), CustomerID: actors.NewID(), PhoneNumberID: "106540352242922",
					WaID: fmt.Sprintf("4917%09d", i), State: actors.StateActive, LastInboundAt: updated,
					ExpiresAt: updated.Add(24 * time.Hour), NextTimerAt: updated.Add(23 * time.Hour), Unread: 1, Seq: 1, Version: 1,
					CreatedAt: updated, UpdatedAt: updated}
				if err := store.CreateConversation(gctx, c); err != nil {
					return fmt.Errorf("seed conversation %d: %w", i, err)
				}
			}
		})
	}
	err = g.Wait()
	return errors.Join(err, store.Close())
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
