package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/auth"
)

// Tokens are the credentials of a login session.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	// Claims are the access token's.
	Claims auth.Claims
}

// StartSession is what login and register do once the credentials are
// checked: open a refresh family for u and issue its first access and
// refresh tokens.
func (a *App) StartSession(ctx context.Context, u actors.User) (Tokens, error) {
	now := a.d.Now().UTC().Truncate(time.Millisecond)
	fid := auth.RandomID()
	refresh := a.d.Issuer.NewRefreshToken(fid)
	f := actors.RefreshFamily{
		ID: fid, UserID: u.ID, TokenHash: a.d.Issuer.HashRefreshToken(refresh), Generation: 1,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(a.d.RefreshTTL), TokenVersion: u.TokenVersion,
	}
	if err := a.d.Families.CreateFamily(ctx, f); err != nil {
		return Tokens{}, fmt.Errorf("create refresh family for user %s: %w", u.ID, err)
	}
	access, claims, err := a.d.Issuer.IssueAccess(u.ID, string(u.Role), fid, u.TokenVersion)
	if err != nil {
		return Tokens{}, fmt.Errorf("issue access token for user %s: %w", u.ID, err)
	}
	return Tokens{AccessToken: access, RefreshToken: refresh, Claims: claims}, nil
}

// FamilyRevocationKey is the revocation-list key that revokes every access
// token issued from refresh family fid.
func FamilyRevocationKey(fid string) string { return "family:" + fid }

// VersionRevocationKey is the revocation-list key that revokes every access
// token of user id issued under token version tv (set when the user's
// version moves past tv: a password change, role change or disable).
func VersionRevocationKey(id string, tv int64) string {
	return "user-version:" + id + ":" + strconv.FormatInt(tv, 10)
}

// noneRevoked is implemented by a revocation list that tells at no cost
// that it holds nothing at all (memkv): the ids are then not even built.
type noneRevoked interface{ NoneRevoked() bool }

// Current is nil when a verified token's user may still use it: refused
// (actors.ErrTokenRevoked) when the user is disabled or the token was
// issued under an older token version than the user's. It is the
// authoritative check (the store's version survives restarts and cache
// losses); the revocation-list key VerifyAccess looks up makes the refusal
// immediate on every node before a cached user is refreshed.
func Current(c auth.Claims, u actors.User) error {
	switch {
	case u.Disabled:
		return fmt.Errorf("user %s is disabled: %w", u.ID, actors.ErrTokenRevoked)
	case c.TokenVersion < u.TokenVersion:
		return fmt.Errorf("token %s of version %d, user %s is at %d: %w", c.ID, c.TokenVersion, u.ID, u.TokenVersion, actors.ErrTokenRevoked)
	}
	return nil
}

// VerifyAccess checks an access token's signature and claims (once per
// token, see auth.Issuer), then whether it, its refresh family or its
// user's token version was revoked (one lookup; none while a revocation
// list that can tell it holds nothing at all holds nothing). Errors wrap
// actors.ErrTokenExpired, actors.ErrTokenInvalid, actors.ErrTokenRevoked, or
// actors.ErrUnavailable when the revocation list cannot be read. It does
// not load the user.
func (a *App) VerifyAccess(ctx context.Context, token string) (auth.Claims, error) {
	claims, err := a.d.Issuer.VerifyAccess(token)
	if errors.Is(err, auth.ErrTokenExpired) {
		return auth.Claims{}, fmt.Errorf("verify access token: %w", actors.ErrTokenExpired)
	}
	if err != nil {
		return auth.Claims{}, fmt.Errorf("verify access token: %w", actors.ErrTokenInvalid)
	}
	if n, ok := a.d.Revocations.(noneRevoked); ok && n.NoneRevoked() {
		return claims, nil
	}
	ids := make([]string, 2, 3)
	ids[0], ids[1] = claims.ID, VersionRevocationKey(claims.Subject, claims.TokenVersion)
	if claims.FamilyID != "" {
		ids = append(ids, FamilyRevocationKey(claims.FamilyID))
	}
	revoked, err := a.d.Revocations.AnyRevoked(ctx, ids...)
	if err != nil {
		return auth.Claims{}, fmt.Errorf("check revocation of token %s: %w", claims.ID, errors.Join(actors.ErrUnavailable, err))
	}
	if revoked {
		return auth.Claims{}, fmt.Errorf("token %s: %w", claims.ID, actors.ErrTokenRevoked)
	}
	return claims, nil
}

// Authenticate is VerifyAccess as an agent session needs it to accept a
// fresh token over its socket: the token's user and expiry. The user is
// read from the store and must still accept the token (Current).
func (a *App) Authenticate(ctx context.Context, token string) (userID string, expiresAt time.Time, err error) {
	claims, err := a.VerifyAccess(ctx, token)
	if err != nil {
		return "", time.Time{}, err
	}
	u, err := a.d.Users.UserByID(ctx, claims.Subject)
	if errors.Is(err, actors.ErrNotFound) {
		return "", time.Time{}, fmt.Errorf("token %s names no user: %w", claims.ID, actors.ErrTokenInvalid)
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("load user %s: %w", claims.Subject, errors.Join(actors.ErrUnavailable, err))
	}
	if err := Current(claims, u); err != nil {
		return "", time.Time{}, err
	}
	if claims.ExpiresAt == nil {
		return "", time.Time{}, fmt.Errorf("token %s has no expiry: %w", claims.ID, actors.ErrTokenInvalid)
	}
	return claims.Subject, claims.ExpiresAt.Time, nil
}
