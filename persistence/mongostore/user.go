package mongostore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// userDoc is a document of the users collection. Every field is returned to
// callers (actors.User carries the password hash for login), so reads
// project exactly these fields. phone is absent when unset (and in documents
// stored before users had phones); it reads as "". disabled and tokenVersion
// are absent in documents stored before accounts could be disabled; they
// read as false and 0.
type userDoc struct {
	ID            string    `bson:"_id"`
	Email         string    `bson:"email"`
	EmailSkeleton string    `bson:"emailSkeleton"`
	Name          string    `bson:"name"`
	Role          string    `bson:"role"`
	PasswordHash  string    `bson:"passwordHash"`
	Phone         string    `bson:"phone,omitempty"`
	Disabled      bool      `bson:"disabled"`
	TokenVersion  int64     `bson:"tokenVersion"`
	CreatedAt     time.Time `bson:"createdAt"`
	UpdatedAt     time.Time `bson:"updatedAt"`
}

var userProjection = bson.D{
	{Key: "_id", Value: 1}, {Key: "email", Value: 1}, {Key: "emailSkeleton", Value: 1}, {Key: "name", Value: 1}, {Key: "role", Value: 1},
	{Key: "passwordHash", Value: 1}, {Key: "phone", Value: 1}, {Key: "disabled", Value: 1}, {Key: "tokenVersion", Value: 1},
	{Key: "createdAt", Value: 1}, {Key: "updatedAt", Value: 1},
}

// toUserDoc is u as stored; an empty EmailSkeleton is stored as the email.
func toUserDoc(u actors.User) userDoc {
	skeleton := u.EmailSkeleton
	if skeleton == "" {
		skeleton = u.Email
	}
	return userDoc{
		ID:            u.ID,
		Email:         u.Email,
		EmailSkeleton: skeleton,
		Name:          u.Name,
		Role:          string(u.Role),
		PasswordHash:  u.PasswordHash,
		Phone:         u.Phone,
		Disabled:      u.Disabled,
		TokenVersion:  u.TokenVersion,
		CreatedAt:     u.CreatedAt,
		UpdatedAt:     u.UpdatedAt,
	}
}

func (d userDoc) user() actors.User {
	return actors.User{
		ID:            d.ID,
		Email:         d.Email,
		EmailSkeleton: d.EmailSkeleton,
		Name:          d.Name,
		Role:          actors.Role(d.Role),
		PasswordHash:  d.PasswordHash,
		Phone:         d.Phone,
		Disabled:      d.Disabled,
		TokenVersion:  d.TokenVersion,
		CreatedAt:     utc(d.CreatedAt),
		UpdatedAt:     utc(d.UpdatedAt),
	}
}

// CreateUser inserts u; actors.ErrDuplicate when the id, email or email
// skeleton is taken. An empty EmailSkeleton is stored as the email.
func (s *Store) CreateUser(ctx context.Context, u actors.User) error {
	if _, err := s.users.InsertOne(ctx, toUserDoc(u)); err != nil {
		return classify("create user "+u.ID, err)
	}
	return nil
}

// UserByID returns the user or actors.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (actors.User, error) {
	return s.findUser(ctx, "user "+id, bson.D{{Key: "_id", Value: id}})
}

// UserByEmail looks up by lower-cased email; actors.ErrNotFound when absent.
// The email is not repeated in errors.
func (s *Store) UserByEmail(ctx context.Context, email string) (actors.User, error) {
	return s.findUser(ctx, "user by email", bson.D{{Key: "email", Value: email}})
}

// UserByEmailSkeleton looks up by email skeleton; actors.ErrNotFound when
// absent.
func (s *Store) UserByEmailSkeleton(ctx context.Context, skeleton string) (actors.User, error) {
	return s.findUser(ctx, "user by email skeleton", bson.D{{Key: "emailSkeleton", Value: skeleton}})
}

// SetUserEmailSkeleton replaces a user's email skeleton; actors.ErrNotFound
// when the user is absent, actors.ErrDuplicate when another user has it.
func (s *Store) SetUserEmailSkeleton(ctx context.Context, id, skeleton string) error {
	res, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "emailSkeleton", Value: skeleton}}}})
	op := "set email skeleton of user " + id
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		// FerretDB v1 reports a unique-index violation on update as an
		// internal error rather than E11000: ask whether the skeleton is
		// someone else's.
		n, cerr := s.users.CountDocuments(ctx, bson.D{{Key: "emailSkeleton", Value: skeleton}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: id}}}},
			options.Count().SetLimit(1))
		if cerr == nil && n > 0 {
			return fmt.Errorf("%s: skeleton taken: %w", op, actors.ErrDuplicate)
		}
	}
	if err != nil {
		return classify(op, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%s: %w", op, actors.ErrNotFound)
	}
	return nil
}

// backfillSkeletons gives every user stored before email skeletons existed
// its email as skeleton, so that the unique index on emailSkeleton can be
// built (every document needs a distinct value: FerretDB has no sparse or
// partial indexes). The engine recomputes the skeletons that differ from the
// email at start-up (app.ReconcileSkeletons).
func (s *Store) backfillSkeletons(ctx context.Context) error {
	docs, err := findAll[userDoc](ctx, s.users, bson.D{{Key: "emailSkeleton", Value: bson.D{{Key: "$exists", Value: false}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "email", Value: 1}}))
	if err != nil {
		return classify("find users without email skeleton", err)
	}
	for _, d := range docs {
		_, err := s.users.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: d.ID}, {Key: "emailSkeleton", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "emailSkeleton", Value: d.Email}}}})
		if err != nil {
			return classify("backfill email skeleton of user "+d.ID, err)
		}
	}
	if len(docs) > 0 {
		s.log.Info("email skeletons backfilled", zap.Int("users", len(docs)))
	}
	return nil
}

func (s *Store) findUser(ctx context.Context, op string, filter bson.D) (actors.User, error) {
	d, err := findOne[userDoc](ctx, s.users, filter, options.Find().SetProjection(userProjection))
	if err != nil {
		return actors.User{}, classify(op, err)
	}
	return d.user(), nil
}

// SetUserRole changes the role and UpdatedAt and returns the stored user;
// a role that differs from the stored one also bumps tokenVersion (one
// conditional update: matched only while the role differs). ErrNotFound
// when absent.
func (s *Store) SetUserRole(ctx context.Context, id string, role actors.Role, at time.Time) (actors.User, error) {
	op := "set role of user " + id
	changed := bson.D{
		{Key: "$set", Value: bson.D{{Key: "role", Value: string(role)}, {Key: "updatedAt", Value: at}}},
		{Key: "$inc", Value: bson.D{{Key: "tokenVersion", Value: int64(1)}}},
	}
	u, err := s.updateUser(ctx, op, bson.D{{Key: "_id", Value: id}, {Key: "role", Value: bson.D{{Key: "$ne", Value: string(role)}}}}, changed)
	if !errors.Is(err, actors.ErrNotFound) {
		return u, err
	}
	// Same role (or no such user): only UpdatedAt changes.
	return s.updateUser(ctx, op, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "updatedAt", Value: at}}}})
}

// SetUserDisabled sets disabled and UpdatedAt and returns the stored user;
// disabling also bumps tokenVersion. actors.ErrNotFound when absent.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, at time.Time) (actors.User, error) {
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "disabled", Value: disabled}, {Key: "updatedAt", Value: at}}}}
	if disabled {
		update = append(update, bson.E{Key: "$inc", Value: bson.D{{Key: "tokenVersion", Value: int64(1)}}})
	}
	return s.updateUser(ctx, "set disabled of user "+id, bson.D{{Key: "_id", Value: id}}, update)
}

// SetUserPassword replaces the password hash, bumps tokenVersion, sets
// UpdatedAt and returns the stored user; actors.ErrNotFound when absent.
func (s *Store) SetUserPassword(ctx context.Context, id, passwordHash string, at time.Time) (actors.User, error) {
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "passwordHash", Value: passwordHash}, {Key: "updatedAt", Value: at}}},
		{Key: "$inc", Value: bson.D{{Key: "tokenVersion", Value: int64(1)}}},
	}
	return s.updateUser(ctx, "set password of user "+id, bson.D{{Key: "_id", Value: id}}, update)
}

// updateUser applies update to the user filter matches and returns the
// stored user; actors.ErrNotFound when none matches. (No projection:
// FerretDB does not take one on findAndModify; userDoc decodes only its
// fields.)
func (s *Store) updateUser(ctx context.Context, op string, filter, update bson.D) (actors.User, error) {
	var d userDoc
	err := s.users.FindOneAndUpdate(ctx, filter, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return actors.User{}, classify(op, err)
	}
	return d.user(), nil
}

// SetUserPhone sets the phone ("" removes the field) and UpdatedAt and
// returns the stored user; actors.ErrNotFound when absent.
func (s *Store) SetUserPhone(ctx context.Context, id, phone string, at time.Time) (actors.User, error) {
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "phone", Value: phone}, {Key: "updatedAt", Value: at}}}}
	if phone == "" {
		update = bson.D{
			{Key: "$set", Value: bson.D{{Key: "updatedAt", Value: at}}},
			{Key: "$unset", Value: bson.D{{Key: "phone", Value: ""}}},
		}
	}
	var d userDoc
	err := s.users.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return actors.User{}, classify("set phone of user "+id, err)
	}
	return d.user(), nil
}

// ListUsers returns users ordered by CreatedAt then ID; role "" means all.
func (s *Store) ListUsers(ctx context.Context, role actors.Role) ([]actors.User, error) {
	filter := bson.D{}
	if role != "" {
		filter = append(filter, bson.E{Key: "role", Value: string(role)})
	}
	opts := options.Find().
		SetProjection(userProjection).
		SetSort(bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}})
	op := fmt.Sprintf("list users (role %q)", role)
	docs, err := findAll[userDoc](ctx, s.users, filter, opts)
	if err != nil {
		return nil, classify(op, err)
	}
	out := make([]actors.User, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.user())
	}
	return out, nil
}

// ListUsersPage returns one page of users ordered by CreatedAt then ID and
// the total matching f. Search is a case-insensitive regular expression made
// of the quoted search string (a literal substring of name or email). The
// page and the total are two reads, not one snapshot.
func (s *Store) ListUsersPage(ctx context.Context, f actors.UserFilter) ([]actors.User, int, error) {
	filter := bson.D{}
	if f.Search != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(f.Search), Options: "i"}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "name", Value: re}},
			bson.D{{Key: "email", Value: re}},
		}})
	}
	op := fmt.Sprintf("list users (page %d, limit %d)", f.Page, f.Limit)
	sort := bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}
	return findPage(ctx, op, s.users, filter, userProjection, sort, f.Page, f.Limit, userDoc.user)
}
