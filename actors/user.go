package actors

import (
	"context"
	"time"
)

// Role is a user's role. Permissions follow from it (see Permissions).
type Role string

// The three roles of the contract.
const (
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleAgent      Role = "agent"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleSupervisor || r == RoleAgent
}

// User is an account that can log in. Email is stored normalised (NFKC,
// lower case; see gateway/app) and is unique. PasswordHash is an encoded
// argon2id hash and never leaves the server.
type User struct {
	ID    string
	Email string
	// EmailSkeleton is Email with every character that looks like another
	// replaced by the one it looks like (Cyrillic "а" by Latin "a", ...);
	// it is unique too, so two addresses that look the same cannot both
	// exist. A store keeps Email as the skeleton when it is empty.
	EmailSkeleton string
	Name          string
	Role          Role
	PasswordHash  string
	// Phone is the user's own phone in E.164 (+919876543210), the number a
	// call to a customer rings first; empty when unset.
	Phone string
	// Disabled users cannot log in, refresh or use any token.
	Disabled bool
	// TokenVersion counts the changes that end a user's sessions: a
	// password change, a role change and a disable each add one. Tokens and
	// refresh families carry the version they were issued under; older ones
	// are refused.
	TokenVersion int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// UserStore keeps accounts.
type UserStore interface {
	// CreateUser inserts u; ErrDuplicate when the id or email is taken.
	CreateUser(ctx context.Context, u User) error
	// UserByID returns the user or ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)
	// UserByEmail looks up by normalised email; ErrNotFound when absent.
	UserByEmail(ctx context.Context, email string) (User, error)
	// UserByEmailSkeleton looks up by EmailSkeleton; ErrNotFound when absent.
	UserByEmailSkeleton(ctx context.Context, skeleton string) (User, error)
	// SetUserEmailSkeleton replaces a user's EmailSkeleton; ErrNotFound when
	// the user is absent, ErrDuplicate when another user has that skeleton
	// (nothing changes then).
	SetUserEmailSkeleton(ctx context.Context, id, skeleton string) error
	// SetUserRole changes the role and UpdatedAt and returns the stored
	// user; when the role differs from the stored one it also adds one to
	// TokenVersion. ErrNotFound when absent.
	SetUserRole(ctx context.Context, id string, role Role, at time.Time) (User, error)
	// SetUserDisabled sets Disabled and UpdatedAt and returns the stored
	// user; disabling (disabled true) also adds one to TokenVersion.
	// ErrNotFound when absent.
	SetUserDisabled(ctx context.Context, id string, disabled bool, at time.Time) (User, error)
	// SetUserPassword replaces PasswordHash, adds one to TokenVersion, sets
	// UpdatedAt and returns the stored user; ErrNotFound when absent.
	SetUserPassword(ctx context.Context, id, passwordHash string, at time.Time) (User, error)
	// SetUserPhone sets the phone (E.164, checked by the caller; "" clears
	// it) and UpdatedAt and returns the stored user; ErrNotFound when absent.
	SetUserPhone(ctx context.Context, id, phone string, at time.Time) (User, error)
	// ListUsers returns users ordered by CreatedAt then ID; role "" means all.
	ListUsers(ctx context.Context, role Role) ([]User, error)
	// ListUsersPage returns one page of users ordered by CreatedAt then ID
	// and the total matching f (the admin's user list).
	ListUsersPage(ctx context.Context, f UserFilter) ([]User, int, error)
}

// UserFilter selects a page of users. Search matches a substring of the
// name or the email, ignoring case (at least ASCII letters' case); "" matches every user.
// Page starts at 1; the store bounds Limit as it bounds customer pages.
type UserFilter struct {
	Search string
	Page   int
	Limit  int
}

// RefreshFamily is the server side of one login's refresh tokens. Each
// rotation replaces TokenHash (the SHA-256 of the only live refresh token) and
// bumps Generation; presenting any other token of the family is reuse.
type RefreshFamily struct {
	ID         string
	UserID     string
	TokenHash  string
	Generation int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ExpiresAt  time.Time
	// RevokedAt is zero while the family is live.
	RevokedAt time.Time
	// TokenVersion is the user's TokenVersion when the family was opened;
	// a family older than the user's current version is refused.
	TokenVersion int64
}

// TokenStore keeps refresh-token families.
type TokenStore interface {
	// CreateFamily inserts f; ErrDuplicate when the id is taken.
	CreateFamily(ctx context.Context, f RefreshFamily) error
	// Family returns the family or ErrNotFound.
	Family(ctx context.Context, id string) (RefreshFamily, error)
	// RotateFamily atomically replaces oldHash by newHash, bumps Generation
	// and sets ExpiresAt and UpdatedAt, only if the family is live and its
	// TokenHash is still oldHash. Otherwise it changes nothing and returns
	// ErrConflict (ErrNotFound when the family does not exist).
	RotateFamily(ctx context.Context, id, oldHash, newHash string, expiresAt, now time.Time) error
	// RevokeFamily marks the family revoked at at; revoking twice keeps the
	// first time. ErrNotFound when absent.
	RevokeFamily(ctx context.Context, id string, at time.Time) error
	// RevokeUserFamilies revokes every live family of a user and returns how
	// many it revoked.
	RevokeUserFamilies(ctx context.Context, userID string, at time.Time) (int, error)
	// DeleteExpiredFamilies removes families whose ExpiresAt is before
	// before and returns how many it removed.
	DeleteExpiredFamilies(ctx context.Context, before time.Time) (int, error)
}
