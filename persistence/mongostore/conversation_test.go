package mongostore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/storetest"
)

func TestConversationsContractFerretSQLite(t *testing.T) {
	t.Parallel()
	storetest.RunConversations(t, func(t *testing.T) actors.ConversationsStore { return openStore(t, handlerSQLite) })
}

func TestConversationsContractFerretPostgres(t *testing.T) {
	t.Parallel()
	servicetest.PostgresURL(t)
	storetest.RunConversations(t, func(t *testing.T) actors.ConversationsStore { return openStore(t, handlerPostgres) })
}

// at0 is the reference instant of the conversation tests.
var at0 = time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)

func openConv(id, waID string) actors.Conversation {
	return actors.Conversation{ID: id, CustomerID: "cu-" + waID, PhoneNumberID: "pn1", WaID: waID,
		State: actors.StateActive, Version: 1, CreatedAt: at0, UpdatedAt: at0}
}

func outboundMsg(id string) actors.Message {
	return actors.Message{ID: id, ConversationID: "c1", Direction: actors.DirectionOutbound, Type: "text",
		Text: "hi", Status: actors.StatusQueued, CreatedAt: at0, UpdatedAt: at0}
}

func countDocs(t *testing.T, ctx context.Context, c *mongo.Collection, filter bson.D) int64 {
	t.Helper()
	n, err := c.CountDocuments(ctx, filter)
	require.NoError(t, err, "count %s", c.Name())
	return n
}

func TestConcurrentUniqueKeysOneWins(t *testing.T) {
	t.Parallel()
	const n = 12
	tests := []struct {
		// name names the unique key raced for.
		name string
		// call is writer i's attempt at the key.
		call func(ctx context.Context, s *Store, i int) error
		// stored counts the records that hold the key afterwards.
		stored func(t *testing.T, ctx context.Context, s *Store) int64
	}{
		{
			name: "open conversation of a number and customer",
			call: func(ctx context.Context, s *Store, i int) error {
				return s.CreateConversation(ctx, openConv(fmt.Sprintf("c%02d", i), "491511"))
			},
			stored: func(t *testing.T, ctx context.Context, s *Store) int64 {
				return countDocs(t, ctx, s.conversations, bson.D{{Key: "waId", Value: "491511"}})
			},
		},
		{
			name: "wamid of appended messages",
			call: func(ctx context.Context, s *Store, i int) error {
				m := outboundMsg(fmt.Sprintf("m%02d", i))
				m.WaMessageID = "wamid.same"
				return s.AppendMessage(ctx, m)
			},
			stored: func(t *testing.T, ctx context.Context, s *Store) int64 {
				return countDocs(t, ctx, s.messages, bson.D{{Key: "waMessageId", Value: "wamid.same"}})
			},
		},
		{
			name: "wamid set by status updates",
			call: func(ctx context.Context, s *Store, i int) error {
				id := fmt.Sprintf("m%02d", i)
				if err := s.AppendMessage(ctx, outboundMsg(id)); err != nil {
					return err
				}
				_, err := s.UpdateMessageStatus(ctx, id, actors.StatusSent, "wamid.same", nil, at0)
				return err
			},
			stored: func(t *testing.T, ctx context.Context, s *Store) int64 {
				return countDocs(t, ctx, s.messages, bson.D{{Key: "waMessageId", Value: "wamid.same"}})
			},
		},
	}
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			s := openStore(t, handler)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx := t.Context()
					require.NoError(t, s.conversations.Drop(ctx))
					require.NoError(t, s.messages.Drop(ctx))
					errs := make([]error, n)
					storetest.Race(n, func(i int) { errs[i] = tt.call(ctx, s, i) })
					winner, _ := storetest.AtMostOneWinner(t, errs, actors.ErrDuplicate)
					stored := tt.stored(t, ctx, s)
					if winner >= 0 {
						assert.Equal(t, int64(1), stored)
					} else {
						// The call holding the key failed; its record may have landed.
						assert.LessOrEqual(t, stored, int64(1))
					}
				})
			}
		})
	}
}

func TestConcurrentStatusUpdatesNeverMoveBack(t *testing.T) {
	t.Parallel()
	forward := []string{actors.StatusSent, actors.StatusDelivered, actors.StatusRead}
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			s := openStore(t, handler)
			ctx := t.Context()
			const rounds, copies = 4, 3
			for r := range rounds {
				id := fmt.Sprintf("m%d", r)
				require.NoError(t, s.AppendMessage(ctx, outboundMsg(id)))
				changed := make([]bool, len(forward)*copies)
				errs := make([]error, len(changed))
				storetest.Race(len(changed), func(i int) {
					changed[i], errs[i] = s.UpdateMessageStatus(ctx, id, forward[i%len(forward)], "", nil, at0.Add(time.Duration(i)*time.Second))
				})
				failed := storetest.NilOrUnavailable(t, errs)
				applied := map[string]int{}
				reached := 0 // the furthest rank a successful call asked for
				for i, err := range errs {
					if err != nil {
						continue
					}
					st := forward[i%len(forward)]
					reached = max(reached, actors.StatusRank(st))
					if changed[i] {
						applied[st]++
					}
				}
				d, err := findOne[messageDoc](ctx, s.messages, bson.D{{Key: "_id", Value: id}}, nil)
				require.NoError(t, err)
				assert.Equal(t, int32(actors.StatusRank(d.Status)), d.StatusRank, "round %d", r)
				assert.GreaterOrEqual(t, actors.StatusRank(d.Status), reached, "round %d: a status moved back", r)
				for st, n := range applied {
					assert.LessOrEqual(t, n, 1, "round %d: %s applied %d times", r, st, n)
				}
				if len(failed) == 0 {
					assert.Equal(t, actors.StatusRead, d.Status, "round %d: the furthest status must stick", r)
					assert.Equal(t, 1, applied[actors.StatusRead], "round %d: read applies exactly once", r)
				}
			}
		})
	}
}

func TestConcurrentCountersAreExact(t *testing.T) {
	t.Parallel()
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			s := openStore(t, handler)
			ctx := t.Context()

			t.Run("inbox attempts", func(t *testing.T) {
				require.NoError(t, s.AppendInbox(ctx, []actors.InboxEntry{{ID: "i1", Body: []byte("{}"), ReceivedAt: at0}}))
				const n = 8
				errs := make([]error, n)
				storetest.Race(n, func(i int) { errs[i] = s.RecordInboxAttempt(ctx, "i1") })
				failed := storetest.NilOrUnavailable(t, errs)
				got, err := s.PendingInbox(ctx, 10)
				require.NoError(t, err)
				require.Len(t, got, 1)
				// A failed attempt may or may not have been counted.
				assert.GreaterOrEqual(t, got[0].Attempts, n-len(failed), "no increment may be lost")
				assert.LessOrEqual(t, got[0].Attempts, n)
			})

			t.Run("notifications marked read are counted once", func(t *testing.T) {
				const notes, markers = 6, 4
				ns := make([]actors.Notification, notes)
				for i := range ns {
					ns[i] = actors.Notification{ID: fmt.Sprintf("n%d", i), UserID: "u1", Kind: "assigned", CreatedAt: at0}
				}
				require.NoError(t, s.AddNotifications(ctx, ns))
				counts := make([]int, markers)
				errs := make([]error, markers)
				storetest.Race(markers, func(i int) { counts[i], errs[i] = s.MarkNotificationsRead(ctx, "u1", nil, at0.Add(time.Minute)) })
				failed := storetest.NilOrUnavailable(t, errs)
				sum := 0
				for i := range markers {
					sum += counts[i]
				}
				if len(failed) == 0 {
					assert.Equal(t, notes, sum, "each notification changes once")
				} else {
					assert.LessOrEqual(t, sum, notes, "no notification is counted twice")
				}
			})

			t.Run("pending statuses are taken once", func(t *testing.T) {
				for _, st := range []string{actors.StatusSent, actors.StatusDelivered, actors.StatusRead} {
					require.NoError(t, s.AddPendingStatus(ctx, actors.StatusUpdate{WaMessageID: "wamid.p", Status: st, Timestamp: at0}))
				}
				const takers = 4
				taken := make([][]actors.StatusUpdate, takers)
				errs := make([]error, takers)
				storetest.Race(takers, func(i int) { taken[i], errs[i] = s.TakePendingStatuses(ctx, "wamid.p") })
				failed := storetest.NilOrUnavailable(t, errs)
				seen := map[string]int{}
				for i := range takers {
					for _, u := range taken[i] {
						seen[u.Status]++
					}
				}
				if len(failed) == 0 {
					assert.Equal(t, map[string]int{actors.StatusSent: 1, actors.StatusDelivered: 1, actors.StatusRead: 1}, seen)
				}
				for st, n := range seen {
					assert.Equal(t, 1, n, "%s taken %d times", st, n)
				}
			})
		})
	}
}

func TestStaleGuardsHeal(t *testing.T) {
	t.Parallel()
	old, young := guardGrace+time.Second, time.Second
	tests := []struct {
		// name names the crash the planted guard stands for.
		name string
		// coll and key locate the planted guard; owner names its record.
		coll  func(s *Store) *mongo.Collection
		key   string
		owner string
		// age is how old the planted guard is.
		age time.Duration
		// until, when not 0, sets the planted guard's Until that far from
		// now (its writer's deadline plus the margin).
		until time.Duration
		// setup stores the owner's record as the crash left it (nil: none).
		setup func(ctx context.Context, s *Store) error
		// call needs the guarded key.
		call func(ctx context.Context, s *Store) error
		// wantErr is call's error, nil for success.
		wantErr error
	}{
		{
			name: "create crashed before its conversation insert, guard expired",
			coll: func(s *Store) *mongo.Collection { return s.openConvs }, key: "pn1/491511", owner: "gone", age: old,
			call:    func(ctx context.Context, s *Store) error { return s.CreateConversation(ctx, openConv("c2", "491511")) },
			wantErr: nil,
		},
		{
			name: "create in flight (or crashed) within the grace period",
			coll: func(s *Store) *mongo.Collection { return s.openConvs }, key: "pn1/491511", owner: "gone", age: young,
			call:    func(ctx context.Context, s *Store) error { return s.CreateConversation(ctx, openConv("c2", "491511")) },
			wantErr: actors.ErrDuplicate,
		},
		{
			name: "save crashed after closing, before dropping the guard",
			coll: func(s *Store) *mongo.Collection { return s.openConvs }, key: "pn1/491511", owner: "c1", age: old,
			setup: func(ctx context.Context, s *Store) error {
				c := openConv("c1", "491511")
				c.State, c.ClosedAt = actors.StateClosed, at0
				return s.CreateConversation(ctx, c)
			},
			call:    func(ctx context.Context, s *Store) error { return s.CreateConversation(ctx, openConv("c2", "491511")) },
			wantErr: nil,
		},
		{
			name: "a live open conversation keeps its guard however old",
			coll: func(s *Store) *mongo.Collection { return s.openConvs }, key: "pn1/491511", owner: "c1", age: old,
			setup: func(ctx context.Context, s *Store) error {
				c := openConv("c1", "491511")
				c.State = actors.StateClosed // stored closed so that no guard is taken...
				if err := s.CreateConversation(ctx, c); err != nil {
					return err
				}
				_, err := s.conversations.UpdateOne(ctx, bson.D{{Key: "_id", Value: "c1"}}, // ...then made open
					bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: actors.StateActive}}}})
				return err
			},
			call:    func(ctx context.Context, s *Store) error { return s.CreateConversation(ctx, openConv("c2", "491511")) },
			wantErr: actors.ErrDuplicate,
		},
		{
			name: "append crashed before its message insert, guard expired",
			coll: func(s *Store) *mongo.Collection { return s.wamids }, key: "wamid.x", owner: "gone", age: old,
			call: func(ctx context.Context, s *Store) error {
				m := outboundMsg("m2")
				m.WaMessageID = "wamid.x"
				return s.AppendMessage(ctx, m)
			},
			wantErr: nil,
		},
		{
			name: "append in flight within the grace period",
			coll: func(s *Store) *mongo.Collection { return s.wamids }, key: "wamid.x", owner: "gone", age: young,
			call: func(ctx context.Context, s *Store) error {
				m := outboundMsg("m2")
				m.WaMessageID = "wamid.x"
				return s.AppendMessage(ctx, m)
			},
			wantErr: actors.ErrDuplicate,
		},
		{
			name: "append crashed before its message insert, its writer's deadline passed",
			coll: func(s *Store) *mongo.Collection { return s.wamids }, key: "wamid.x", owner: "gone", age: young, until: -time.Millisecond,
			call: func(ctx context.Context, s *Store) error {
				m := outboundMsg("m2")
				m.WaMessageID = "wamid.x"
				return s.AppendMessage(ctx, m)
			},
			wantErr: nil,
		},
		{
			name: "append in flight within its writer's deadline",
			coll: func(s *Store) *mongo.Collection { return s.wamids }, key: "wamid.x", owner: "gone", age: young, until: 5 * time.Second,
			call: func(ctx context.Context, s *Store) error {
				m := outboundMsg("m2")
				m.WaMessageID = "wamid.x"
				return s.AppendMessage(ctx, m)
			},
			wantErr: actors.ErrDuplicate,
		},
		{
			name: "status update crashed after its guard, before the message write",
			coll: func(s *Store) *mongo.Collection { return s.wamids }, key: "wamid.x", owner: "m1", age: old,
			setup: func(ctx context.Context, s *Store) error { return s.AppendMessage(ctx, outboundMsg("m1")) },
			call: func(ctx context.Context, s *Store) error {
				if err := s.AppendMessage(ctx, outboundMsg("m2")); err != nil {
					return err
				}
				_, err := s.UpdateMessageStatus(ctx, "m2", actors.StatusSent, "wamid.x", nil, at0)
				return err
			},
			wantErr: nil,
		},
	}
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			s := openStore(t, handler)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx := t.Context()
					for _, c := range []*mongo.Collection{s.conversations, s.messages, s.openConvs, s.wamids} {
						require.NoError(t, c.Drop(ctx))
					}
					if tt.setup != nil {
						require.NoError(t, tt.setup(ctx, s))
					}
					planted := guardDoc{Key: tt.key, Owner: tt.owner, At: time.Now().Add(-tt.age)}
					if tt.until != 0 {
						until := time.Now().Add(tt.until)
						planted.Until = &until
					}
					_, err := tt.coll(s).InsertOne(ctx, planted)
					require.NoError(t, err)

					err = tt.call(ctx, s)
					if tt.wantErr != nil {
						require.ErrorIs(t, err, tt.wantErr)
						g, err := findOne[guardDoc](ctx, tt.coll(s), bson.D{{Key: "_id", Value: tt.key}}, nil)
						require.NoError(t, err)
						assert.Equal(t, tt.owner, g.Owner, "the guard is kept")
						return
					}
					require.NoError(t, err)
					g, err := findOne[guardDoc](ctx, tt.coll(s), bson.D{{Key: "_id", Value: tt.key}}, nil)
					require.NoError(t, err)
					assert.NotEqual(t, tt.owner, g.Owner, "the stale guard was replaced")
				})
			}
		})
	}
}

func TestGuardsFollowConversationLifecycle(t *testing.T) {
	t.Parallel()
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			s := openStore(t, handler)
			ctx := t.Context()
			owner := func(key string) string {
				t.Helper()
				g, err := findOne[guardDoc](ctx, s.openConvs, bson.D{{Key: "_id", Value: key}}, nil)
				if errors.Is(err, mongo.ErrNoDocuments) {
					return ""
				}
				require.NoError(t, err)
				return g.Owner
			}

			c1 := openConv("c1", "491511")
			require.NoError(t, s.CreateConversation(ctx, c1))
			assert.Equal(t, "c1", owner("pn1/491511"), "create takes the guard")

			// A create failing on its id gives its fresh guard back.
			dupID := openConv("c1", "491522")
			require.ErrorIs(t, s.CreateConversation(ctx, dupID), actors.ErrDuplicate)
			assert.Empty(t, owner("pn1/491522"), "failed create drops its guard")

			// Closing gives the guard up.
			c1.State, c1.ClosedAt, c1.Version = actors.StateClosed, at0, 2
			require.NoError(t, s.SaveConversation(ctx, c1))
			assert.Empty(t, owner("pn1/491511"), "closing drops the guard")

			c2 := openConv("c2", "491511")
			require.NoError(t, s.CreateConversation(ctx, c2))

			// Reopening c1 while c2 is open is refused and changes nothing.
			c1.State, c1.ClosedAt, c1.Version = actors.StateActive, time.Time{}, 3
			require.ErrorIs(t, s.SaveConversation(ctx, c1), actors.ErrDuplicate)
			got, err := s.Conversation(ctx, "c1")
			require.NoError(t, err)
			assert.Equal(t, actors.StateClosed, got.State)
			assert.Equal(t, "c2", owner("pn1/491511"))

			// Once c2 is closed, c1 may reopen and takes the guard.
			c2.State, c2.Version = actors.StateClosed, 2
			require.NoError(t, s.SaveConversation(ctx, c2))
			require.NoError(t, s.SaveConversation(ctx, c1))
			assert.Equal(t, "c1", owner("pn1/491511"))
			open, err := s.OpenConversation(ctx, "pn1", "491511")
			require.NoError(t, err)
			assert.Equal(t, "c1", open.ID)

			// A lost save keeps the guard where it was.
			stale := c1
			stale.State = actors.StateClosed
			require.ErrorIs(t, s.SaveConversation(ctx, stale), actors.ErrConflict)
			assert.Equal(t, "c1", owner("pn1/491511"))
		})
	}
}

func TestConversationDocumentShape(t *testing.T) {
	t.Parallel()
	s := openStore(t, handlerSQLite)
	ctx := t.Context()
	require.NoError(t, s.CreateConversation(ctx, openConv("c1", "491511")))
	require.NoError(t, s.AppendInbox(ctx, []actors.InboxEntry{{ID: "i1", Body: []byte(`{"a":1}`), ReceivedAt: at0}}))
	m := outboundMsg("m1")
	m.Content = json.RawMessage(`{"body":"hi"}`)
	require.NoError(t, s.AppendMessage(ctx, m))

	raw := func(c *mongo.Collection, id string) bson.Raw {
		t.Helper()
		r, err := findOne[bson.Raw](ctx, c, bson.D{{Key: "_id", Value: id}}, nil)
		require.NoError(t, err)
		return r
	}
	conv := raw(s.conversations, "c1")
	for _, field := range []string{"lastInboundAt", "lastOutboundAt", "expiresAt", "nextTimerAt", "warnedAt", "closedAt"} {
		_, err := conv.LookupErr(field)
		assert.ErrorIs(t, err, bsoncore.ErrElementNotFound, "zero %s must be absent", field)
	}
	assert.Equal(t, bson.TypeDateTime, conv.Lookup("updatedAt").Type)
	assert.Equal(t, bson.TypeBinary, raw(s.inbox, "i1").Lookup("body").Type, "inbox body is binary")
	msg := raw(s.messages, "m1")
	assert.Equal(t, bson.TypeBinary, msg.Lookup("content").Type, "content is binary")
	assert.Equal(t, bson.TypeInt32, msg.Lookup("statusRank").Type)
	_, err := msg.LookupErr("waMessageId")
	assert.ErrorIs(t, err, bsoncore.ErrElementNotFound, "an empty wamid is absent")
}

func TestMessageCursor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		// name names the cursor.
		name   string
		cursor string
		// wantOK is whether ListMessages accepts it.
		wantOK bool
	}{
		{name: "made by the store", cursor: encodeMessageCursor(at0, "m1"), wantOK: true},
		{name: "not base64", cursor: "%%%", wantOK: false},
		{name: "no separator", cursor: base64.RawURLEncoding.EncodeToString([]byte("123")), wantOK: false},
		{name: "bad milliseconds", cursor: base64.RawURLEncoding.EncodeToString([]byte("x:m1")), wantOK: false},
		{name: "empty id", cursor: base64.RawURLEncoding.EncodeToString([]byte("123:")), wantOK: false},
	}
	s := openStore(t, handlerSQLite)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.ListMessages(t.Context(), "c1", tt.cursor, 10)
			if tt.wantOK {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, errBadCursor)
		})
	}

	t.Run("round trip", func(t *testing.T) {
		at := time.Date(2025, 5, 1, 12, 0, 0, 123_000_000, time.UTC)
		gotAt, gotID, err := decodeMessageCursor(encodeMessageCursor(at, "m/1:x"))
		require.NoError(t, err)
		assert.Equal(t, at, gotAt)
		assert.Equal(t, "m/1:x", gotID)
	})
}
