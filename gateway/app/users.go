package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/auth"
)

// NewUser is what CreateUser needs. Email may be as typed; Password and
// Name are checked by the caller (the edges answer their own field errors).
type NewUser struct {
	Email    string
	Password string
	Name     string
	Role     actors.Role
}

// CreateUser stores a new user with an argon2id hash of its password, under
// its normalised email and that email's skeleton. Errors: ErrInvalidEmail;
// ErrEmailTaken when a user has the same normalised address;
// ErrEmailLookalike when a user's address looks the same (same skeleton);
// ErrMixedScript when a part of the address mixes scripts. A look-alike is
// reported before the script rule, so a spoof of an existing address is
// named as such.
func (a *App) CreateUser(ctx context.Context, nu NewUser) (actors.User, error) {
	email, err := NormalizeEmail(nu.Email)
	if err != nil {
		return actors.User{}, err
	}
	skeleton := Skeleton(email)
	if err := a.emailFree(ctx, email, skeleton); err != nil {
		return actors.User{}, err
	}
	if MixedScript(email) {
		return actors.User{}, ErrMixedScript
	}
	hash := auth.HashPassword(nu.Password)
	now := a.d.Now().UTC().Truncate(time.Millisecond)
	u := actors.User{ID: actors.NewID(), Email: email, EmailSkeleton: skeleton, Name: nu.Name, Role: nu.Role,
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	err = a.d.Users.CreateUser(ctx, u)
	if errors.Is(err, actors.ErrDuplicate) {
		// Another registration won the race for the address or its skeleton.
		if ferr := a.emailFree(ctx, email, skeleton); ferr != nil {
			return actors.User{}, ferr
		}
	}
	if err != nil {
		return actors.User{}, fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return u, nil
}

// emailFree is nil when no user has email or its skeleton.
func (a *App) emailFree(ctx context.Context, email, skeleton string) error {
	u, err := a.d.Users.UserByEmailSkeleton(ctx, skeleton)
	switch {
	case errors.Is(err, actors.ErrNotFound):
	case err != nil:
		return fmt.Errorf("look up email skeleton: %w", err)
	case u.Email == email:
		return ErrEmailTaken
	default:
		return ErrEmailLookalike
	}
	// Skeletons of users stored before skeletons existed may not be
	// reconciled yet; the address itself is checked too.
	_, err = a.d.Users.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, actors.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("look up email: %w", err)
	default:
		return ErrEmailTaken
	}
}

// UserByEmail finds the user of an address as typed (normalised first);
// actors.ErrNotFound when the address is invalid or nobody has it.
func (a *App) UserByEmail(ctx context.Context, email string) (actors.User, error) {
	n, err := NormalizeEmail(email)
	if err != nil {
		return actors.User{}, fmt.Errorf("user by email: %w", actors.ErrNotFound)
	}
	return a.d.Users.UserByEmail(ctx, n)
}

// ReconcileSkeletons recomputes the email skeleton of every user whose
// stored one differs (users stored before skeletons existed carry their
// email as skeleton). Two existing users whose addresses look alike cannot
// both hold the skeleton: the second keeps its old one and is logged, for
// an operator to look at. It returns how many it changed.
func (a *App) ReconcileSkeletons(ctx context.Context) (int, error) {
	users, err := a.d.Users.ListUsers(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("reconcile email skeletons: %w", err)
	}
	changed := 0
	for _, u := range users {
		want := Skeleton(u.Email)
		if u.EmailSkeleton == want {
			continue
		}
		err := a.d.Users.SetUserEmailSkeleton(ctx, u.ID, want)
		switch {
		case errors.Is(err, actors.ErrDuplicate):
			a.log.Warn("user's email looks like another user's; skeleton left as it was", zap.String("user_id", u.ID))
		case errors.Is(err, actors.ErrNotFound):
		case err != nil:
			return changed, fmt.Errorf("reconcile email skeletons: %w", err)
		default:
			changed++
		}
	}
	if changed > 0 {
		a.log.Info("email skeletons reconciled", zap.Int("users", changed))
	}
	return changed, nil
}
