package scratch

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func start(t *testing.T, handler string) *mongo.Database {
	cfg := &ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"}, Logger: slog.New(slog.DiscardHandler), Handler: handler}
	if handler == "sqlite" {
		cfg.SQLiteURL = "file:" + t.TempDir() + "/"
	} else {
		cfg.PostgreSQLURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	f, err := ferretdb.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	c, err := mongo.Connect(options.Client().ApplyURI(f.MongoDBURI()).SetMaxPoolSize(30).SetTimeout(10 * time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	db := c.Database(fmt.Sprintf("scratch_%d", time.Now().UnixNano()))
	t.Cleanup(func() { db.Drop(context.Background()) })
	return db
}

func TestScratch(t *testing.T) {
	for _, h := range []string{"sqlite", "postgresql"} {
		t.Run(h, func(t *testing.T) {
			ctx := context.Background()
			db := start(t, h)
			fam := db.Collection("fam")
			_, err := fam.Indexes().CreateMany(ctx, []mongo.IndexModel{{Keys: bson.D{{"userId", 1}}}, {Keys: bson.D{{"email", 1}}, Options: options.Index().SetUnique(true)}})
			require.NoError(t, err)
			_, err = fam.Indexes().CreateMany(ctx, []mongo.IndexModel{{Keys: bson.D{{"userId", 1}}}, {Keys: bson.D{{"email", 1}}, Options: options.Index().SetUnique(true)}})
			t.Logf("index again: %v", err)
			tagsIdx, err := db.Collection("cust").Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{"tags", 1}}})
			t.Logf("tags index: %v %v", tagsIdx, err)
			_, err = db.Collection("cust").InsertOne(ctx, bson.D{{"_id", "c1"}, {"tags", bson.A{"a", "b"}}, {"attrs", bson.D{{"dots.and$dollars", "x"}}}})
			t.Logf("insert dotted: %v", err)
			_, err = fam.InsertOne(ctx, bson.D{{"_id", "f1"}, {"email", "a"}, {"hash", "h0"}, {"gen", 1}, {"revokedAt", nil}})
			require.NoError(t, err)
			_, err = fam.InsertOne(ctx, bson.D{{"_id", "f2"}, {"email", "b"}, {"hash", "h0"}, {"gen", 1}, {"revokedAt", nil}})
			require.NoError(t, err)
			_, err = fam.UpdateOne(ctx, bson.D{{"_id", "f2"}}, bson.D{{"$set", bson.D{{"email", "a"}}}})
			t.Logf("update to dup: dup=%v err=%#v", mongo.IsDuplicateKeyError(err), err)
			n, err := fam.CountDocuments(ctx, bson.D{{"revokedAt", nil}})
			t.Logf("null count %d %v", n, err)
			// unordered insertMany with dup inside batch
			_, err = db.Collection("audit").InsertMany(ctx, []any{bson.D{{"_id", "a1"}}, bson.D{{"_id", "a1"}}, bson.D{{"_id", "a2"}}}, options.InsertMany().SetOrdered(false))
			n, _ = db.Collection("audit").CountDocuments(ctx, bson.D{})
			t.Logf("insertMany: dup=%v n=%d err=%v", mongo.IsDuplicateKeyError(err), n, err)
			wins := 0
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := fam.UpdateOne(ctx, bson.D{{"_id", "f1"}, {"hash", "h0"}, {"revokedAt", nil}}, bson.D{{"$set", bson.D{{"hash", fmt.Sprint("h", i)}}}, {"$inc", bson.D{{"gen", 1}}}})
					if err != nil {
						t.Log(err)
						return
					}
					if r.ModifiedCount == 1 {
						mu.Lock()
						wins++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			var got bson.M
			require.NoError(t, fam.FindOne(ctx, bson.D{{"_id", "f1"}}).Decode(&got))
			t.Logf("wins=%d doc=%v", wins, got)
			res := fam.FindOneAndUpdate(ctx, bson.D{{"_id", "f2"}}, bson.D{{"$set", bson.D{{"x", 1}}}}, options.FindOneAndUpdate().SetReturnDocument(options.After).SetProjection(bson.D{{"x", 1}}))
			t.Logf("fam with projection: %v", res.Err())
			cur, err := fam.Indexes().List(ctx)
			require.NoError(t, err)
			var idx []bson.M
			require.NoError(t, cur.All(ctx, &idx))
			t.Logf("indexes %v", idx)
		})
	}
}
