package mongostore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/storetest"
)

func TestCallsContractFerretSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunCalls(t, func(t *testing.T) actors.CallStore { return openStore(t, handlerSQLite) })
}

func TestCallsContractFerretPostgres(t *testing.T) {
	t.Parallel()
	servicetest.PostgresURL(t)
	storetest.RunCalls(t, func(t *testing.T) actors.CallStore { return openStore(t, handlerPostgres) })
}

// queuedCall is a live call of agent a1.
func queuedCall(id string) actors.Call {
	return actors.Call{ID: id, CustomerID: "cu1", AgentID: "a1", From: "+919800000001", To: "+919812345678",
		State: actors.StateNew, Status: actors.CallQueued, StartedAt: at0, CreatedAt: at0, UpdatedAt: at0}
}

// TestCallAgentGuardsHeal plants the call_agents guard a crash between a
// call write and its guard write leaves, and checks that the next call of
// the agent takes it over exactly when it is stale.
func TestCallAgentGuardsHeal(t *testing.T) {
	t.Parallel()
	old, young := guardGrace+time.Second, time.Second
	closed := func(id string) func(ctx context.Context, s *Store) error {
		return func(ctx context.Context, s *Store) error {
			c := queuedCall(id)
			c.State, c.Status = actors.StateClosed, actors.CallBusy
			return s.CreateCall(ctx, c)
		}
	}
	createK2 := func(ctx context.Context, s *Store) error { return s.CreateCall(ctx, queuedCall("k2")) }
	tests := []struct {
		// name names the crash the planted guard stands for.
		name string
		// owner is the planted guard's call, age its age.
		owner string
		age   time.Duration
		// setup stores the owner as the crash left it (nil: none).
		setup func(ctx context.Context, s *Store) error
		// call needs the agent; wantErr is its error, nil for success.
		call    func(ctx context.Context, s *Store) error
		wantErr error
	}{
		{name: "create crashed before its call insert, guard expired", owner: "gone", age: old,
			call: createK2},
		{name: "create in flight (or crashed) within the grace period", owner: "gone", age: young,
			call: createK2, wantErr: actors.ErrConflict},
		{name: "save crashed after closing, before dropping the guard", owner: "k1", age: old,
			setup: closed("k1"), call: createK2},
		{name: "a re-open in flight: closed owner within the grace period", owner: "k1", age: young,
			setup: closed("k1"), call: createK2, wantErr: actors.ErrConflict},
		{name: "a live call keeps its guard however old", owner: "k1", age: old,
			setup: func(ctx context.Context, s *Store) error {
				if err := closed("k1")(ctx, s); err != nil { // stored closed so that no guard is taken...
					return err
				}
				_, err := s.calls.UpdateOne(ctx, bson.D{{Key: "_id", Value: "k1"}}, // ...then made live
					bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: actors.StateActive}}}})
				return err
			},
			call: createK2, wantErr: actors.ErrConflict},
		{name: "a re-open crashed after its guard: the call re-opens itself at once", owner: "k1", age: young,
			setup: closed("k1"),
			call: func(ctx context.Context, s *Store) error {
				c, err := s.Call(ctx, "k1")
				if err != nil {
					return err
				}
				c.State, c.Status, c.Version = actors.StateNew, actors.CallQueued, 2
				return s.SaveCall(ctx, c)
			}},
	}
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			s := openStore(t, handler)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx := t.Context()
					for _, c := range []*mongo.Collection{s.calls, s.callAgents} {
						require.NoError(t, c.Drop(ctx))
					}
					if tt.setup != nil {
						require.NoError(t, tt.setup(ctx, s))
					}
					_, err := s.callAgents.InsertOne(ctx, guardDoc{Key: "a1", Owner: tt.owner, At: time.Now().Add(-tt.age)})
					require.NoError(t, err)

					err = tt.call(ctx, s)
					g, gerr := findOne[guardDoc](ctx, s.callAgents, bson.D{{Key: "_id", Value: "a1"}}, nil)
					require.NoError(t, gerr)
					if tt.wantErr != nil {
						require.ErrorIs(t, err, tt.wantErr)
						assert.Equal(t, tt.owner, g.Owner, "the guard is kept")
						return
					}
					require.NoError(t, err)
					live, err := s.LiveCallOfAgent(ctx, "a1")
					require.NoError(t, err)
					assert.Equal(t, live.ID, g.Owner, "the guard names the live call")
					assert.True(t, g.At.After(time.Now().Add(-time.Minute)), "a new guard")
				})
			}
		})
	}
}

// TestCallAgentGuardFollowsCalls checks the guard through a call's life: a
// live call holds it, closing gives it back, a refused create or re-open
// leaves it as it was.
func TestCallAgentGuardFollowsCalls(t *testing.T) {
	t.Parallel()
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			s := openStore(t, handler)
			ctx := t.Context()
			owner := func() string {
				t.Helper()
				g, err := findOne[guardDoc](ctx, s.callAgents, bson.D{{Key: "_id", Value: "a1"}}, nil)
				if errors.Is(err, mongo.ErrNoDocuments) {
					return ""
				}
				require.NoError(t, err)
				return g.Owner
			}
			require.NoError(t, s.CreateCall(ctx, queuedCall("k1")))
			assert.Equal(t, "k1", owner())
			require.ErrorIs(t, s.CreateCall(ctx, queuedCall("k2")), actors.ErrConflict)
			require.ErrorIs(t, s.CreateCall(ctx, queuedCall("k1")), actors.ErrDuplicate)
			assert.Equal(t, "k1", owner())

			k1, err := s.Call(ctx, "k1")
			require.NoError(t, err)
			k1.State, k1.Status, k1.Version = actors.StateActive, actors.CallRinging, 2
			require.NoError(t, s.SaveCall(ctx, k1))
			assert.Equal(t, "k1", owner(), "still live")
			k1.State, k1.Status, k1.Version = actors.StateClosed, actors.CallNoAnswer, 3
			require.NoError(t, s.SaveCall(ctx, k1))
			assert.Equal(t, "", owner(), "closing gives the agent back")

			require.NoError(t, s.CreateCall(ctx, queuedCall("k2")))
			k1.State, k1.Status, k1.Version = actors.StateNew, actors.CallQueued, 4
			require.ErrorIs(t, s.SaveCall(ctx, k1), actors.ErrConflict)
			assert.Equal(t, "k2", owner(), "a refused re-open leaves the guard")
		})
	}
}
