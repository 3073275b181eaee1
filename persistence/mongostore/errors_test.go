package mongostore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/wacc/engine/actors"
)

// The error FerretDB v1.24 on PostgreSQL answered a racing update with when
// a backend connection had been broken by an earlier command (doc.go,
// "FerretDB on PostgreSQL").
var ferretInternalError = mongo.CommandError{
	Code: 1, Name: "InternalError",
	Message: "[msg_findandmodify.go:196 handler.(*Handler).findAndModifyDocument] [update.go:114 common.UpdateDocument] " +
		"[collection.go:227 postgresql.(*collection).UpdateAll] timeout: read tcp 127.0.0.1:44562->127.0.0.1:5432: i/o timeout",
}

func TestClassify(t *testing.T) {
	sentinels := []error{actors.ErrNotFound, actors.ErrDuplicate, actors.ErrConflict, actors.ErrUnavailable}
	tests := []struct {
		name string
		err  error
		// want is the one sentinel the error must carry; nil for none.
		want error
	}{
		{name: "FerretDB InternalError", err: ferretInternalError, want: actors.ErrUnavailable},
		{name: "wrapped InternalError", err: fmt.Errorf("update: %w", ferretInternalError), want: actors.ErrUnavailable},
		{name: "maxTimeMS expired", err: mongo.CommandError{Code: 50, Name: "MaxTimeMSExpired"}, want: actors.ErrUnavailable},
		{name: "deadline", err: context.DeadlineExceeded, want: actors.ErrUnavailable},
		{name: "client disconnected", err: mongo.ErrClientDisconnected, want: actors.ErrUnavailable},
		{name: "no documents", err: mongo.ErrNoDocuments, want: actors.ErrNotFound},
		{name: "duplicate key", err: mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000, Message: "E11000"}}}, want: actors.ErrDuplicate},
		{name: "bad value", err: mongo.CommandError{Code: 2, Name: "BadValue"}, want: nil},
		{name: "other write error", err: mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 2, Message: "bad"}}}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify("op x", tt.err)
			require.Error(t, got)
			assert.Contains(t, got.Error(), "op x")
			for _, s := range sentinels {
				assert.Equal(t, s == tt.want, errors.Is(got, s), "carries %v", s)
			}
		})
	}
}

// TestPointReadsSendNoMaxTimeMS pins the driver behaviour findOne relies
// on: with the store's client options (a client-wide timeout) FindOne sends
// maxTimeMS, which FerretDB v1 mishandles, and a find with limit 1 does not.
func TestPointReadsSendNoMaxTimeMS(t *testing.T) {
	uri, database := freshDatabase(t, handlerSQLite)
	var mu sync.Mutex
	var finds []bson.Raw
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "find" {
			mu.Lock()
			finds = append(finds, e.Command)
			mu.Unlock()
		}
	}}
	client, err := mongo.Connect(clientOptions(uri, 2).SetMonitor(monitor))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	ctx := t.Context()
	coll := client.Database(database).Collection("points")
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "v", Value: int32(7)}})
	require.NoError(t, err)

	type doc struct {
		V int32 `bson:"v"`
	}
	got, err := findOne[doc](ctx, coll, bson.D{{Key: "_id", Value: "a"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, int32(7), got.V)
	_, err = findOne[doc](ctx, coll, bson.D{{Key: "_id", Value: "missing"}}, nil)
	require.ErrorIs(t, err, mongo.ErrNoDocuments)
	require.NoError(t, coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Err())

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, finds, 3)
	for i, cmd := range finds[:2] {
		_, err := cmd.LookupErr("maxTimeMS")
		assert.ErrorIs(t, err, bsoncore.ErrElementNotFound, "findOne %d sent maxTimeMS: %s", i, cmd)
	}
	_, err = finds[2].LookupErr("maxTimeMS")
	assert.NoError(t, err, "FindOne is expected to send maxTimeMS: %s", finds[2])
}
