package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// familyDoc is a document of the refresh_families collection. RevokedAt is
// null while the family is live.
type familyDoc struct {
	ID         string     `bson:"_id"`
	UserID     string     `bson:"userId"`
	TokenHash  string     `bson:"tokenHash"`
	Generation int64      `bson:"generation"`
	CreatedAt  time.Time  `bson:"createdAt"`
	UpdatedAt  time.Time  `bson:"updatedAt"`
	ExpiresAt  time.Time  `bson:"expiresAt"`
	RevokedAt  *time.Time `bson:"revokedAt"`
	// TokenVersion is absent in families stored before token versions; it
	// reads as 0.
	TokenVersion int64 `bson:"tokenVersion"`
}

var familyProjection = bson.D{
	{Key: "_id", Value: 1}, {Key: "userId", Value: 1}, {Key: "tokenHash", Value: 1},
	{Key: "generation", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "updatedAt", Value: 1},
	{Key: "expiresAt", Value: 1}, {Key: "revokedAt", Value: 1}, {Key: "tokenVersion", Value: 1},
}

// familyState is the part of a family a conditional write checks.
type familyState struct {
	TokenHash  string     `bson:"tokenHash"`
	Generation int64      `bson:"generation"`
	RevokedAt  *time.Time `bson:"revokedAt"`
}

var familyStateProjection = bson.D{
	{Key: "tokenHash", Value: 1}, {Key: "generation", Value: 1}, {Key: "revokedAt", Value: 1},
}

// Revocations that find the family's claim held (a rotation in flight) retry
// with a growing pause, at most revokeAttempts times.
const (
	revokeAttempts = 40
	revokePause    = 5 * time.Millisecond
	revokeMaxPause = 100 * time.Millisecond
)

func toFamilyDoc(f actors.RefreshFamily) familyDoc {
	d := familyDoc{
		ID:         f.ID,
		UserID:     f.UserID,
		TokenHash:  f.TokenHash,
		Generation: f.Generation,
		CreatedAt:  f.CreatedAt,
		UpdatedAt:  f.UpdatedAt,
		ExpiresAt:  f.ExpiresAt,

		TokenVersion: f.TokenVersion,
	}
	if !f.RevokedAt.IsZero() {
		at := f.RevokedAt
		d.RevokedAt = &at
	}
	return d
}

func (d familyDoc) family() actors.RefreshFamily {
	f := actors.RefreshFamily{
		ID:         d.ID,
		UserID:     d.UserID,
		TokenHash:  d.TokenHash,
		Generation: d.Generation,
		CreatedAt:  utc(d.CreatedAt),
		UpdatedAt:  utc(d.UpdatedAt),
		ExpiresAt:  utc(d.ExpiresAt),

		TokenVersion: d.TokenVersion,
	}
	if d.RevokedAt != nil {
		f.RevokedAt = utc(*d.RevokedAt)
	}
	return f
}

// CreateFamily inserts f; actors.ErrDuplicate when the id is taken.
func (s *Store) CreateFamily(ctx context.Context, f actors.RefreshFamily) error {
	if _, err := s.families.InsertOne(ctx, toFamilyDoc(f)); err != nil {
		return classify("create refresh family "+f.ID, err)
	}
	return nil
}

// Family returns the family or actors.ErrNotFound.
func (s *Store) Family(ctx context.Context, id string) (actors.RefreshFamily, error) {
	d, err := findOne[familyDoc](ctx, s.families, bson.D{{Key: "_id", Value: id}},
		options.Find().SetProjection(familyProjection))
	if err != nil {
		return actors.RefreshFamily{}, classify("refresh family "+id, err)
	}
	return d.family(), nil
}

// familyState reads the fields a conditional write checks.
func (s *Store) familyState(ctx context.Context, id string) (familyState, error) {
	return findOne[familyState](ctx, s.families, bson.D{{Key: "_id", Value: id}},
		options.Find().SetProjection(familyStateProjection))
}

// RotateFamily replaces oldHash by newHash, bumps Generation and sets
// ExpiresAt and UpdatedAt, only if the family is live and its TokenHash is
// still oldHash; otherwise it changes nothing and returns actors.ErrConflict
// (actors.ErrNotFound when the family does not exist). The write is one
// update filtered on {_id, tokenHash, revokedAt: null, generation}, taken
// under the family's write claim for that generation (see claim.go).
func (s *Store) RotateFamily(ctx context.Context, id, oldHash, newHash string, expiresAt, now time.Time) error {
	op := "rotate refresh family " + id
	st, err := s.familyState(ctx, id)
	if err != nil {
		return classify(op, err)
	}
	if st.RevokedAt != nil {
		return fmt.Errorf("%s: family revoked: %w", op, actors.ErrConflict)
	}
	if st.TokenHash != oldHash {
		return fmt.Errorf("%s: stale token: %w", op, actors.ErrConflict)
	}

	release, err := s.claim(ctx, familyClaimKey(id, st.Generation))
	if errors.Is(err, errClaimed) {
		return fmt.Errorf("%s: concurrent write: %w", op, actors.ErrConflict)
	}
	if err != nil {
		return classify(op, err)
	}
	defer release()

	filter := bson.D{
		{Key: "_id", Value: id},
		{Key: "tokenHash", Value: oldHash},
		{Key: "revokedAt", Value: nil},
		{Key: "generation", Value: st.Generation},
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "tokenHash", Value: newHash},
			{Key: "expiresAt", Value: expiresAt},
			{Key: "updatedAt", Value: now},
		}},
		{Key: "$inc", Value: bson.D{{Key: "generation", Value: int64(1)}}},
	}
	res, err := s.families.UpdateOne(ctx, filter, update)
	if err != nil {
		return classify(op, err)
	}
	if res.MatchedCount == 0 {
		if _, err := s.familyState(ctx, id); err != nil {
			return classify(op, err)
		}
		return fmt.Errorf("%s: changed concurrently: %w", op, actors.ErrConflict)
	}
	return nil
}

// RevokeFamily marks the family revoked at at; revoking twice keeps the
// first time. actors.ErrNotFound when absent.
func (s *Store) RevokeFamily(ctx context.Context, id string, at time.Time) error {
	if _, err := s.revoke(ctx, id, at); err != nil {
		return classify("revoke refresh family "+id, err)
	}
	return nil
}

// RevokeUserFamilies revokes every live family of a user and returns how
// many it revoked. Families are revoked one by one; on an error the count
// so far is returned with it.
func (s *Store) RevokeUserFamilies(ctx context.Context, userID string, at time.Time) (int, error) {
	op := "revoke refresh families of user " + userID
	live := bson.D{{Key: "userId", Value: userID}, {Key: "revokedAt", Value: nil}}
	type idDoc struct {
		ID string `bson:"_id"`
	}
	docs, err := findAll[idDoc](ctx, s.families, live, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return 0, classify(op, err)
	}
	n := 0
	for _, d := range docs {
		revoked, err := s.revoke(ctx, d.ID, at)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			// Deleted since it was listed; nothing to revoke.
		case err != nil:
			return n, classify(op, err)
		case revoked:
			n++
		}
	}
	return n, nil
}

// revoke sets revokedAt of a live family under its write claim, so a
// rotation in flight cannot write the family back as live. It reports
// whether this call revoked it (false when it already was), and returns
// mongo.ErrNoDocuments when the family does not exist.
func (s *Store) revoke(ctx context.Context, id string, at time.Time) (bool, error) {
	pause := revokePause
	for range revokeAttempts {
		st, err := s.familyState(ctx, id)
		if err != nil {
			return false, err
		}
		if st.RevokedAt != nil {
			return false, nil
		}
		release, err := s.claim(ctx, familyClaimKey(id, st.Generation))
		if errors.Is(err, errClaimed) {
			if err := wait(ctx, pause); err != nil {
				return false, err
			}
			pause = min(2*pause, revokeMaxPause)
			continue
		}
		if err != nil {
			return false, err
		}
		filter := bson.D{
			{Key: "_id", Value: id},
			{Key: "revokedAt", Value: nil},
			{Key: "generation", Value: st.Generation},
		}
		res, err := s.families.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: at}}}})
		release()
		if err != nil {
			return false, err
		}
		if res.MatchedCount == 1 {
			return true, nil
		}
		// Rotated, revoked or deleted since it was read: look again.
	}
	s.log.Warn("refresh family revocation kept losing to concurrent writes", zap.String("family_id", id))
	return false, fmt.Errorf("family kept changing: %w", actors.ErrConflict)
}

// DeleteExpiredFamilies removes families whose ExpiresAt is before before
// and returns how many it removed. It also sweeps write claims left behind
// by crashed writers (see claim.go).
func (s *Store) DeleteExpiredFamilies(ctx context.Context, before time.Time) (int, error) {
	op := "delete refresh families expired before " + before.UTC().Format(time.RFC3339)
	res, err := s.families.DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: before}}}})
	if err != nil {
		return 0, classify(op, err)
	}
	swept, err := s.sweepClaims(ctx)
	if err != nil {
		return int(res.DeletedCount), classify(op+": sweep write claims", err)
	}
	if swept > 0 {
		s.log.Info("abandoned write claims swept", zap.Int64("claims", swept))
	}
	return int(res.DeletedCount), nil
}
