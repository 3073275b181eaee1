package mongostore

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/storetest"
)

func TestContractFerretSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) actors.Store { return openStore(t, handlerSQLite) })
}

func TestContractFerretPostgres(t *testing.T) {
	servicetest.PostgresURL(t)
	storetest.Run(t, func(t *testing.T) actors.Store { return openStore(t, handlerPostgres) })
}

// handlers are the FerretDB backends the store-specific tests run on.
var handlers = []string{handlerSQLite, handlerPostgres}

func TestIndexesExist(t *testing.T) {
	want := map[string][]struct {
		name   string
		keys   bson.D
		unique bool
	}{
		usersColl: {
			{name: "email_unique", keys: bson.D{{Key: "email", Value: int32(1)}}, unique: true},
			{name: "emailSkeleton_unique", keys: bson.D{{Key: "emailSkeleton", Value: int32(1)}}, unique: true},
		},
		customersColl: {
			{name: "phone_unique", keys: bson.D{{Key: "phone", Value: int32(1)}}, unique: true},
			{name: "createdAt_id", keys: bson.D{{Key: "createdAt", Value: int32(-1)}, {Key: "_id", Value: int32(-1)}}},
			{name: "tags", keys: bson.D{{Key: "tags", Value: int32(1)}}},
		},
		familiesColl: {
			{name: "userId", keys: bson.D{{Key: "userId", Value: int32(1)}}},
			{name: "expiresAt", keys: bson.D{{Key: "expiresAt", Value: int32(1)}}},
		},
		auditColl: {
			{name: "at_id", keys: bson.D{{Key: "at", Value: int32(-1)}, {Key: "_id", Value: int32(-1)}}},
			{name: "actorId_at_id", keys: bson.D{{Key: "actorId", Value: int32(1)}, {Key: "at", Value: int32(-1)}, {Key: "_id", Value: int32(-1)}}},
			{name: "action_at_id", keys: bson.D{{Key: "action", Value: int32(1)}, {Key: "at", Value: int32(-1)}, {Key: "_id", Value: int32(-1)}}},
		},
		conversationsColl: {
			{name: "phoneNumberId_waId", keys: bson.D{{Key: "phoneNumberId", Value: int32(1)}, {Key: "waId", Value: int32(1)}}},
			{name: "nextTimerAt", keys: bson.D{{Key: "nextTimerAt", Value: int32(1)}}},
			{name: "assigneeId_state", keys: bson.D{{Key: "assigneeId", Value: int32(1)}, {Key: "state", Value: int32(1)}}},
			{name: "updatedAt_id", keys: bson.D{{Key: "updatedAt", Value: int32(-1)}, {Key: "_id", Value: int32(-1)}}},
			{name: "customerId_updatedAt", keys: bson.D{{Key: "customerId", Value: int32(1)}, {Key: "updatedAt", Value: int32(-1)}}},
		},
		messagesColl: {
			{name: "conversationId_createdAt_id", keys: bson.D{{Key: "conversationId", Value: int32(1)}, {Key: "createdAt", Value: int32(-1)}, {Key: "_id", Value: int32(-1)}}},
			{name: "waMessageId", keys: bson.D{{Key: "waMessageId", Value: int32(1)}}},
		},
		pendingColl: {
			{name: "waMessageId", keys: bson.D{{Key: "waMessageId", Value: int32(1)}}},
		},
		notificationsColl: {
			{name: "userId_createdAt_id", keys: bson.D{{Key: "userId", Value: int32(1)}, {Key: "createdAt", Value: int32(-1)}, {Key: "_id", Value: int32(-1)}}},
		},
		mediaColl: {
			{name: "sha256", keys: bson.D{{Key: "sha256", Value: int32(1)}}},
			{name: "status_updatedAt_id", keys: bson.D{{Key: "status", Value: int32(1)}, {Key: "updatedAt", Value: int32(1)}, {Key: "_id", Value: int32(1)}}},
		},
		mediaFilesColl: {
			{name: "filename_uploadDate", keys: bson.D{{Key: "filename", Value: int32(1)}, {Key: "uploadDate", Value: int32(1)}}},
			{name: "filename_unique", keys: bson.D{{Key: "filename", Value: int32(1)}}, unique: true},
		},
		mediaChunksColl: {
			{name: "files_id_n", keys: bson.D{{Key: "files_id", Value: int32(1)}, {Key: "n", Value: int32(1)}}, unique: true},
		},
		templatesColl: {
			{name: "wabaId_gen_name_language", unique: true,
				keys: bson.D{{Key: "wabaId", Value: int32(1)}, {Key: "gen", Value: int32(1)}, {Key: "name", Value: int32(1)}, {Key: "language", Value: int32(1)}}},
		},
	}
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			s := openStore(t, handler)
			ctx := t.Context()
			for coll, indexes := range want {
				got := listIndexes(t, ctx, s, coll)
				for _, ix := range indexes {
					spec, ok := got[ix.name]
					if !assert.True(t, ok, "index %s.%s missing; have %v", coll, ix.name, got) {
						continue
					}
					assert.Equal(t, ix.keys, spec.Key, "keys of %s.%s", coll, ix.name)
					assert.Equal(t, ix.unique, spec.Unique, "uniqueness of %s.%s", coll, ix.name)
				}
			}
		})
	}
}

// indexSpec is one entry of listIndexes.
type indexSpec struct {
	Name   string `bson:"name"`
	Key    bson.D `bson:"key"`
	Unique bool   `bson:"unique"`
}

func listIndexes(t *testing.T, ctx context.Context, s *Store, coll string) map[string]indexSpec {
	t.Helper()
	cur, err := s.users.Database().Collection(coll).Indexes().List(ctx)
	require.NoError(t, err, "list indexes of %s", coll)
	var specs []indexSpec
	require.NoError(t, cur.All(ctx, &specs))
	out := make(map[string]indexSpec, len(specs))
	for _, sp := range specs {
		out[sp.Name] = sp
	}
	return out
}

func TestDataSurvivesReopen(t *testing.T) {
	at := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			ctx := t.Context()
			uri, database := freshDatabase(t, handler)
			log := zaptest.NewLogger(t)

			s, err := Open(ctx, uri, database, 4, log)
			require.NoError(t, err)
			u := actors.User{ID: "u1", Email: "ana@example.com", EmailSkeleton: "ana@example.com", Name: "Ana", Role: actors.RoleAgent, PasswordHash: "h", CreatedAt: at, UpdatedAt: at}
			c := actors.Customer{ID: "c1", Name: "Bia", Phone: "+5511999990001", WaID: "5511999990001", Tags: []string{"vip"},
				Attributes: map[string]string{"plan": "gold"}, Version: 1, CreatedAt: at, UpdatedAt: at}
			f := actors.RefreshFamily{ID: "f1", UserID: "u1", TokenHash: "h1", Generation: 1, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(time.Hour)}
			a := actors.AuditRecord{ID: "a1", ActorID: "u1", Action: "login", Outcome: actors.OutcomeSuccess, At: at}
			require.NoError(t, s.CreateUser(ctx, u))
			require.NoError(t, s.CreateCustomer(ctx, c))
			require.NoError(t, s.CreateFamily(ctx, f))
			require.NoError(t, s.AppendAudit(ctx, []actors.AuditRecord{a}))
			require.NoError(t, s.Close())

			s, err = Open(ctx, uri, database, 4, log)
			require.NoError(t, err, "reopening finds the existing indexes")
			t.Cleanup(func() { _ = s.Close() })

			gotU, err := s.UserByEmail(ctx, u.Email)
			require.NoError(t, err)
			assert.Equal(t, u, gotU)
			gotC, err := s.CustomerByPhone(ctx, c.Phone)
			require.NoError(t, err)
			assert.Equal(t, c, gotC)
			gotF, err := s.Family(ctx, f.ID)
			require.NoError(t, err)
			assert.Equal(t, f, gotF)
			gotA, total, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			assert.Equal(t, 1, total)
			assert.Equal(t, []actors.AuditRecord{a}, gotA)

			// Unique indexes still hold after reopening.
			u2 := u
			u2.ID = "u2"
			require.ErrorIs(t, s.CreateUser(ctx, u2), actors.ErrDuplicate)
		})
	}
}

// TestOpenBackfillsEmailSkeletons opens a database whose users were stored
// before email skeletons existed: Open gives each its email as skeleton, so
// the unique index can be built and look-ups by skeleton find them.
func TestOpenBackfillsEmailSkeletons(t *testing.T) {
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			ctx := t.Context()
			uri, database := freshDatabase(t, handler)
			client, err := mongo.Connect(options.Client().ApplyURI(uri))
			require.NoError(t, err)
			t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
			old := client.Database(database).Collection(usersColl)
			for _, email := range []string{"ana@example.com", "bia@example.com"} {
				_, err := old.InsertOne(ctx, bson.D{{Key: "_id", Value: "id-" + email}, {Key: "email", Value: email},
					{Key: "name", Value: "n"}, {Key: "role", Value: "agent"}, {Key: "passwordHash", Value: "h"}})
				require.NoError(t, err)
			}

			s, err := Open(ctx, uri, database, 4, zaptest.NewLogger(t))
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			for _, email := range []string{"ana@example.com", "bia@example.com"} {
				u, err := s.UserByEmailSkeleton(ctx, email)
				require.NoError(t, err, email)
				assert.Equal(t, "id-"+email, u.ID)
			}
			err = s.CreateUser(ctx, actors.User{ID: "u3", Email: "other@example.com", EmailSkeleton: "ana@example.com", Role: actors.RoleAgent})
			assert.ErrorIs(t, err, actors.ErrDuplicate, "the skeleton index is unique")
		})
	}
}

func TestConcurrentCustomerUpdatesOneWins(t *testing.T) {
	at := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			ctx := t.Context()
			s := openStore(t, handler)
			c := actors.Customer{ID: "c1", Name: "Ana", Phone: "+5511999990001", WaID: "5511999990001", Version: 1, CreatedAt: at, UpdatedAt: at}
			require.NoError(t, s.CreateCustomer(ctx, c))

			const n = 12
			errs := make([]error, n)
			storetest.Race(n, func(i int) {
				upd := c
				upd.Name = fmt.Sprintf("writer %02d", i)
				_, errs[i] = s.UpdateCustomer(ctx, upd)
			})
			winner, failed := storetest.AtMostOneWinner(t, errs, actors.ErrConflict)
			got, err := s.Customer(ctx, "c1")
			require.NoError(t, err)
			landed := -1
			if got.Version == c.Version {
				assert.Equal(t, c, got, "no write landed: nothing changed")
			} else {
				_, err := fmt.Sscanf(got.Name, "writer %02d", &landed)
				require.NoError(t, err, "stored name %q", got.Name)
				assert.Equal(t, int64(2), got.Version)
			}
			storetest.Landed(t, winner, failed, landed)
		})
	}
}

func TestRevocationIsNeverLostToRotation(t *testing.T) {
	at := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			ctx := t.Context()
			s := openStore(t, handler)
			const rounds = 5
			for r := range rounds {
				id := fmt.Sprintf("f%d", r)
				require.NoError(t, s.CreateFamily(ctx, actors.RefreshFamily{
					ID: id, UserID: "u1", TokenHash: "h0", Generation: 1, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(time.Hour),
				}))
				// A chain of rotations races one revocation.
				storetest.Race(2, func(i int) {
					if i == 1 {
						assert.NoError(t, s.RevokeFamily(ctx, id, at.Add(time.Minute)))
						return
					}
					for g := range 4 {
						if err := s.RotateFamily(ctx, id, fmt.Sprint("h", g), fmt.Sprint("h", g+1), at.Add(2*time.Hour), at); err != nil {
							assert.ErrorIs(t, err, actors.ErrConflict, "a rotation may only lose to the revocation")
							return
						}
					}
				})

				f, err := s.Family(ctx, id)
				require.NoError(t, err)
				assert.Equal(t, at.Add(time.Minute), f.RevokedAt, "round %d: the revocation must stick", r)
			}
		})
	}
}

func TestWriteClaims(t *testing.T) {
	at := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		// name names the case.
		name string
		// claimAge is the age of a claim planted on the customer's current
		// version before the update; zero plants none.
		claimAge time.Duration
		// wantErr is the update's error, nil for success.
		wantErr error
	}{
		{name: "no claim: update succeeds", claimAge: 0, wantErr: nil},
		{name: "live claim: concurrent update, conflict", claimAge: time.Second, wantErr: actors.ErrConflict},
		{name: "abandoned claim is broken", claimAge: claimTTL + time.Second, wantErr: nil},
	}
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			s := openStore(t, handler)
			ctx := t.Context()
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c := actors.Customer{ID: fmt.Sprintf("c%d", i), Name: "Ana", Phone: fmt.Sprintf("+551199999000%d", i),
						WaID: "x", Version: 1, CreatedAt: at, UpdatedAt: at}
					require.NoError(t, s.CreateCustomer(ctx, c))
					if tt.claimAge > 0 {
						_, err := s.claims.InsertOne(ctx, claimDoc{Key: customerClaimKey(c.ID, c.Version), At: time.Now().Add(-tt.claimAge)})
						require.NoError(t, err)
					}
					c.Name = "Ana Maria"
					got, err := s.UpdateCustomer(ctx, c)
					if tt.wantErr != nil {
						require.ErrorIs(t, err, tt.wantErr)
						stored, err := s.Customer(ctx, c.ID)
						require.NoError(t, err)
						assert.Equal(t, int64(1), stored.Version, "a refused update changes nothing")
						return
					}
					require.NoError(t, err)
					assert.Equal(t, int64(2), got.Version)
					n, err := s.claims.CountDocuments(ctx, bson.D{{Key: "_id", Value: customerClaimKey(c.ID, c.Version)}})
					require.NoError(t, err)
					assert.Zero(t, n, "the claim is released after the write")
				})
			}
		})
	}
}

// TestClaimOfAWriterWithADeadlineIsAbandonedSoonAfterIt: a claim taken
// under a deadline (as every conversation actor's write is) protects its
// holder until claimMargin after that deadline, then the next writer breaks
// it, long before claimTTL: a node killed mid-write holds up the node that
// takes its conversations over for seconds, not a minute. A claim without a
// deadline keeps claimTTL.
func TestClaimOfAWriterWithADeadlineIsAbandonedSoonAfterIt(t *testing.T) {
	s := openStore(t, handlerSQLite)
	ctx := t.Context()
	base := time.Now()
	s.now = func() time.Time { return base }
	dctx, cancel := context.WithDeadline(ctx, base.Add(2*time.Second))
	defer cancel()
	_, err := s.claim(dctx, "customer/dead/1") // its holder dies: never released
	require.NoError(t, err)
	_, err = s.claim(ctx, "customer/free/1") // no deadline, never released
	require.NoError(t, err)
	_, err = s.claimPastDeadline(dctx, "blob/cleanup") // works past its deadline
	require.NoError(t, err)

	s.now = func() time.Time { return base.Add(2*time.Second + claimMargin - time.Millisecond) }
	_, err = s.claim(ctx, "customer/dead/1")
	require.ErrorIs(t, err, errClaimed, "protected until its deadline and the margin")
	s.now = func() time.Time { return base.Add(2*time.Second + claimMargin) }
	release, err := s.claim(ctx, "customer/dead/1")
	require.NoError(t, err, "broken once its holder's deadline and the margin passed")
	release()
	_, err = s.claim(ctx, "blob/cleanup")
	require.ErrorIs(t, err, errClaimed, "a holder working past its deadline keeps its claim")

	s.now = func() time.Time { return base.Add(claimTTL - time.Second) }
	_, err = s.claim(ctx, "customer/free/1")
	require.ErrorIs(t, err, errClaimed, "a claim without a deadline keeps claimTTL")
	s.now = func() time.Time { return base.Add(claimTTL) }
	_, err = s.claim(ctx, "customer/free/1")
	require.NoError(t, err)
}

func TestSweepRemovesOldClaimsOnly(t *testing.T) {
	s := openStore(t, handlerSQLite)
	ctx := t.Context()
	now := time.Now()
	_, err := s.claims.InsertMany(ctx, []claimDoc{
		{Key: "customer/old/1", At: now.Add(-claimSweepAge - time.Minute)},
		{Key: "customer/new/1", At: now.Add(-time.Minute)},
	})
	require.NoError(t, err)
	n, err := s.DeleteExpiredFamilies(ctx, now)
	require.NoError(t, err)
	assert.Zero(t, n, "no families to delete")
	var left []claimDoc
	cur, err := s.claims.Find(ctx, bson.D{})
	require.NoError(t, err)
	require.NoError(t, cur.All(ctx, &left))
	require.Len(t, left, 1)
	assert.Equal(t, "customer/new/1", left[0].Key)
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	// A port nothing listens on: bind one, then close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = Open(ctx, "mongodb://"+addr+"/", "unreachable", 2, zaptest.NewLogger(t))
	require.ErrorIs(t, err, actors.ErrUnavailable)
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s := openStore(t, handlerSQLite)
	require.NoError(t, s.Close())
	_, err := s.UserByID(t.Context(), "u1")
	require.ErrorIs(t, err, actors.ErrUnavailable)
}

func TestOpenRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name     string
		database string
		poolSize uint64
	}{
		{name: "empty database", database: "", poolSize: 4},
		{name: "unbounded pool", database: "x", poolSize: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(t.Context(), "mongodb://127.0.0.1:1/", tt.database, tt.poolSize, zaptest.NewLogger(t))
			require.Error(t, err)
		})
	}
}
