package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/gateway/auth"
)

// Errors of the user use cases. ErrEmailTaken and ErrEmailLookalike wrap
// actors.ErrDuplicate.
var (
	// ErrInvalidEmail: the address is not one bare, valid email address.
	ErrInvalidEmail = errors.New("invalid email address")
	// ErrMixedScript: a part of the address mixes letters of two scripts,
	// or holds an invisible or format character.
	ErrMixedScript = errors.New("email address mixes scripts or holds invisible characters")
	// ErrEmailTaken: a user has this very address.
	ErrEmailTaken = fmt.Errorf("email already registered: %w", actors.ErrDuplicate)
	// ErrEmailLookalike: a user has an address that looks the same.
	ErrEmailLookalike = fmt.Errorf("email looks like an already registered one: %w", actors.ErrDuplicate)
)

// Families opens refresh-token families.
type Families interface {
	CreateFamily(ctx context.Context, f actors.RefreshFamily) error
}

// Revocations tells whether any of ids (access-token ids, family keys) is
// revoked.
type Revocations interface {
	AnyRevoked(ctx context.Context, ids ...string) (bool, error)
}

// Conversations reads one conversation.
type Conversations interface {
	Conversation(ctx context.Context, id string) (actors.Conversation, error)
}

// Media reads one media record.
type Media interface {
	Media(ctx context.Context, id string) (actors.Media, error)
}

// Deps are what an App is built from.
type Deps struct {
	Users       actors.UserStore
	Families    Families
	Revocations Revocations
	// Issuer signs and verifies access tokens and hashes refresh tokens.
	Issuer *auth.Issuer
	// RefreshTTL is the lifetime of a refresh family.
	RefreshTTL time.Duration
	// Conversations and Directory serve Visible and MarkRead; without them
	// (no conversation engine) those answer actors.ErrUnavailable.
	Conversations Conversations
	Directory     conversation.Directory
	// Media serves MediaVisible; without it (no media store) that answers
	// actors.ErrUnavailable.
	Media Media
	// CommandTimeout bounds one command to a conversation actor; 10s when 0.
	CommandTimeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	Log *zap.Logger
}

// App is the shared use cases.
type App struct {
	d   Deps
	log *zap.Logger
}

// New returns an App. Users is always required; Families, Revocations and
// Issuer for sessions and tokens (StartSession, VerifyAccess, Authenticate).
func New(d Deps) *App {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	if d.CommandTimeout <= 0 {
		d.CommandTimeout = 10 * time.Second
	}
	return &App{d: d, log: d.Log.With(zap.String("component", "app"))}
}

// Issuer is the token issuer the App signs and verifies with; the gateway's
// refresh endpoint rotates tokens with it.
func (a *App) Issuer() *auth.Issuer { return a.d.Issuer }
