package mongostore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

// userDoc is a document of the users collection. Every field is returned to
// callers (actors.User carries the password hash for login), so reads
// project exactly these fields.
type userDoc struct {
	ID           string    `bson:"_id"`
	Email        string    `bson:"email"`
	Name         string    `bson:"name"`
	Role         string    `bson:"role"`
	PasswordHash string    `bson:"passwordHash"`
	CreatedAt    time.Time `bson:"createdAt"`
	UpdatedAt    time.Time `bson:"updatedAt"`
}

var userProjection = bson.D{
	{Key: "_id", Value: 1}, {Key: "email", Value: 1}, {Key: "name", Value: 1}, {Key: "role", Value: 1},
	{Key: "passwordHash", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "updatedAt", Value: 1},
}

func toUserDoc(u actors.User) userDoc {
	return userDoc{
		ID:           u.ID,
		Email:        u.Email,
		Name:         u.Name,
		Role:         string(u.Role),
		PasswordHash: u.PasswordHash,
		CreatedAt:    u.CreatedAt,
		UpdatedAt:    u.UpdatedAt,
	}
}

func (d userDoc) user() actors.User {
	return actors.User{
		ID:           d.ID,
		Email:        d.Email,
		Name:         d.Name,
		Role:         actors.Role(d.Role),
		PasswordHash: d.PasswordHash,
		CreatedAt:    utc(d.CreatedAt),
		UpdatedAt:    utc(d.UpdatedAt),
	}
}

// CreateUser inserts u; actors.ErrDuplicate when the id or email is taken.
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

func (s *Store) findUser(ctx context.Context, op string, filter bson.D) (actors.User, error) {
	d, err := findOne[userDoc](ctx, s.users, filter, options.Find().SetProjection(userProjection))
	if err != nil {
		return actors.User{}, classify(op, err)
	}
	return d.user(), nil
}

// SetUserRole changes the role and UpdatedAt and returns the stored user;
// actors.ErrNotFound when absent.
func (s *Store) SetUserRole(ctx context.Context, id string, role actors.Role, at time.Time) (actors.User, error) {
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "role", Value: string(role)},
		{Key: "updatedAt", Value: at},
	}}}
	var d userDoc
	err := s.users.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return actors.User{}, classify("set role of user "+id, err)
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
