package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/app"
	"github.com/wacc/engine/gateway/auth"
)

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

type logoutRequest struct {
	RefreshToken string `json:"refreshToken,omitempty"`
}

type roleRequest struct {
	Role string `json:"role"`
}

type userView struct {
	ID    string      `json:"id"`
	Email string      `json:"email"`
	Name  string      `json:"name"`
	Role  actors.Role `json:"role"`
	// Phone is the user's own phone (E.164), null when unset.
	Phone *string `json:"phone"`
	// Disabled users cannot log in nor use any token (PATCH /api/users/{id}).
	Disabled    bool                `json:"disabled"`
	CreatedAt   time.Time           `json:"createdAt"`
	Permissions []actors.Permission `json:"permissions,omitempty"`
}

type userEnvelope struct {
	User userView `json:"user"`
}

type meResponse struct {
	User userView `json:"user"`
}

type sessionResponse struct {
	User             userView `json:"user"`
	AccessToken      string   `json:"accessToken"`
	RefreshToken     string   `json:"refreshToken"`
	TokenType        string   `json:"tokenType"`
	ExpiresIn        int      `json:"expiresIn"`
	RefreshExpiresIn int      `json:"refreshExpiresIn"`
}

func viewUser(u actors.User) userView {
	v := userView{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled, CreatedAt: u.CreatedAt.UTC()}
	if u.Phone != "" {
		phone := u.Phone
		v.Phone = &phone
	}
	return v
}

// checkPassword applies the password rules of register and password
// change: 8 to 128 characters, not on the common and breached list.
func checkPassword(ve *validationError, field, p string) {
	n := utf8.RuneCountInString(p)
	if n < auth.MinPasswordLen || n > auth.MaxPasswordLen {
		ve.add(field, "INVALID_LENGTH", fmt.Sprintf("must be %d to %d characters", auth.MinPasswordLen, auth.MaxPasswordLen))
		return
	}
	if auth.Breached(p) {
		ve.add(field, "BREACHED_PASSWORD", "is a common password or one known from data breaches (on the list shipped with the engine); choose another")
	}
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if e := decodeJSON(r, &req); e != nil {
		s.audit(r, "auth.register", "user", actors.OutcomeFailure, e.Code)
		writeError(w, r, e)
		return
	}
	ve := &validationError{}
	if _, err := app.NormalizeEmail(req.Email); err != nil {
		ve.add("email", "INVALID_EMAIL", "must be a valid email address")
	}
	checkPassword(ve, "password", req.Password)
	name := strings.TrimSpace(req.Name)
	if n := utf8.RuneCountInString(name); n < 1 || n > 200 {
		ve.add("name", "INVALID_LENGTH", "must be 1 to 200 characters")
	}
	if e := ve.err(); e != nil {
		s.audit(r, "auth.register", "user", actors.OutcomeFailure, e.Code)
		writeError(w, r, e)
		return
	}
	u, err := s.app.CreateUser(r.Context(), app.NewUser{Email: req.Email, Password: req.Password, Name: name, Role: actors.RoleAgent})
	if e := createUserError(err); e != nil {
		s.audit(r, "auth.register", "user", actors.OutcomeFailure, e.Message)
		writeError(w, r, e)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sess, err := s.startSession(r.Context(), u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.auditAs(r, u.ID, "auth.register", "user:"+u.ID, actors.OutcomeSuccess, "")
	writeData(w, http.StatusCreated, sess)
}

// createUserError is the answer to CreateUser's refusals of an address, nil
// for any other outcome.
func createUserError(err error) *apiError {
	switch {
	case errors.Is(err, app.ErrEmailTaken):
		return errf(http.StatusConflict, CodeConflict, "email is already registered")
	case errors.Is(err, app.ErrEmailLookalike):
		return errf(http.StatusConflict, CodeConflict, "email looks like an address that is already registered (look-alike characters)")
	case errors.Is(err, app.ErrMixedScript):
		ve := &validationError{}
		ve.add("email", "MIXED_SCRIPT", "must not mix letters of different scripts within a part of the address")
		return ve.err()
	case errors.Is(err, app.ErrInvalidEmail):
		ve := &validationError{}
		ve.add("email", "INVALID_EMAIL", "must be a valid email address")
		return ve.err()
	}
	return nil
}

// startSession opens a refresh family for u and issues its first pair.
func (s *Server) startSession(ctx context.Context, u actors.User) (sessionResponse, error) {
	tok, err := s.app.StartSession(ctx, u)
	if err != nil {
		return sessionResponse{}, err
	}
	return s.sessionResponse(u, tok.AccessToken, tok.RefreshToken), nil
}

func (s *Server) sessionFor(u actors.User, fid, refresh string) (sessionResponse, error) {
	access, _, err := s.issuer.IssueAccess(u.ID, string(u.Role), fid, u.TokenVersion)
	if err != nil {
		return sessionResponse{}, err
	}
	return s.sessionResponse(u, access, refresh), nil
}

func (s *Server) sessionResponse(u actors.User, access, refresh string) sessionResponse {
	return sessionResponse{
		User: viewUser(u), AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int(s.cfg.JWTExpiresIn / time.Second), RefreshExpiresIn: int(s.cfg.JWTRefreshExpiresIn / time.Second),
	}
}

var (
	errBadCredentials  = errf(http.StatusUnauthorized, CodeUnauthorized, "invalid email or password")
	errAccountDisabled = errf(http.StatusUnauthorized, CodeAccountDisabled, "this account is disabled; ask an administrator to enable it")
)

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, r, e)
		return
	}
	ve := &validationError{}
	if req.Email == "" {
		ve.add("email", "REQUIRED", "is required")
	}
	if req.Password == "" {
		ve.add("password", "REQUIRED", "is required")
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	if e := s.throttleAccount(r, req.Email); e != nil {
		writeError(w, r, e)
		return
	}
	var u actors.User
	var err error
	if utf8.RuneCountInString(req.Password) <= auth.MaxPasswordLen {
		u, err = s.app.UserByEmail(r.Context(), req.Email)
	} else {
		err = actors.ErrNotFound
	}
	if err != nil && !errors.Is(err, actors.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	if err != nil {
		auth.BurnPasswordCheck(req.Password)
		s.audit(r, "auth.login", "user", actors.OutcomeFailure, "unknown email")
		writeError(w, r, errBadCredentials)
		return
	}
	match, err := auth.VerifyPassword(u.PasswordHash, req.Password)
	if err != nil || !match {
		s.auditAs(r, u.ID, "auth.login", "user:"+u.ID, actors.OutcomeFailure, "wrong password")
		writeError(w, r, errBadCredentials)
		return
	}
	if u.Disabled {
		// Told only to whoever knows the password.
		s.auditAs(r, u.ID, "auth.login", "user:"+u.ID, actors.OutcomeDenied, "account disabled")
		writeError(w, r, errAccountDisabled)
		return
	}
	sess, err := s.startSession(r.Context(), u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.auditAs(r, u.ID, "auth.login", "user:"+u.ID, actors.OutcomeSuccess, "")
	writeData(w, http.StatusOK, sess)
}

// throttleAccount spends one of the account's login attempts: the per-IP
// auth limit (RATE_LIMIT_AUTH_PER_MIN) applies to each account as well, so
// an attack spread over many addresses is slowed too, while the budget
// refills within a minute (no lasting lock-out of the real user). The
// account is the address as typed, normalised when it can be, whether or
// not it exists: an unknown address is throttled and answered alike. A
// failing limiter lets the attempt through, like the per-IP limit.
func (s *Server) throttleAccount(r *http.Request, email string) *apiError {
	account, err := app.NormalizeEmail(email)
	if err != nil {
		account = strings.ToLower(strings.TrimSpace(email))
	}
	sum := sha256.Sum256([]byte(account))
	ok, retry, err := s.kv.Allow(r.Context(), "login-account:"+hex.EncodeToString(sum[:16]), s.cfg.RateLimitAuthPerMin)
	if err != nil {
		s.metrics.limiterErrors.Inc()
		s.log.Warn("rate limiter unavailable; allowing login attempt", zap.String("request_id", requestIDFrom(r.Context())), zap.Error(err))
		return nil
	}
	if ok {
		return nil
	}
	s.metrics.rateLimited.WithLabelValues("login_account").Inc()
	e := errf(http.StatusTooManyRequests, CodeRateLimited, "too many login attempts for this account; retry later")
	e.RetryAfter = max(retry, time.Second)
	return e
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, r, e)
		return
	}
	if req.RefreshToken == "" {
		ve := &validationError{}
		ve.add("refreshToken", "REQUIRED", "is required")
		writeError(w, r, ve.err())
		return
	}
	invalid := errf(http.StatusUnauthorized, CodeUnauthorized, "refresh token is invalid")
	fid, err := auth.ParseRefreshToken(req.RefreshToken)
	if err != nil {
		writeError(w, r, invalid)
		return
	}
	ctx := r.Context()
	f, err := s.store.Family(ctx, fid)
	if errors.Is(err, actors.ErrNotFound) {
		writeError(w, r, invalid)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	revoked := errf(http.StatusUnauthorized, CodeTokenRevoked, "refresh token has been revoked; log in again")
	switch {
	case !f.RevokedAt.IsZero():
		writeError(w, r, revoked)
		return
	case !now.Before(f.ExpiresAt):
		writeError(w, r, errf(http.StatusUnauthorized, CodeTokenExpired, "refresh token has expired; log in again"))
		return
	}
	u, err := s.store.UserByID(ctx, f.UserID)
	if errors.Is(err, actors.ErrNotFound) {
		writeError(w, r, invalid)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if u.Disabled || f.TokenVersion < u.TokenVersion {
		// A password change, role change or disable since this login.
		if rerr := s.revokeFamily(ctx, fid, now); rerr != nil {
			s.fail(w, r, rerr)
			return
		}
		s.auditAs(r, u.ID, "auth.refresh", "refresh_family:"+fid, actors.OutcomeDenied, "token version or account disabled")
		writeError(w, r, revoked)
		return
	}
	oldHash := s.issuer.HashRefreshToken(req.RefreshToken)
	newToken := s.issuer.NewRefreshToken(fid)
	if oldHash == f.TokenHash {
		err = s.store.RotateFamily(ctx, fid, oldHash, s.issuer.HashRefreshToken(newToken), now.Add(s.cfg.JWTRefreshExpiresIn), now)
	} else {
		err = actors.ErrConflict
	}
	if errors.Is(err, actors.ErrConflict) {
		// A spent token came back, or two holders raced with one token: the
		// token has leaked, so the whole login is revoked.
		if rerr := s.revokeFamily(ctx, fid, now); rerr != nil {
			s.fail(w, r, rerr)
			return
		}
		s.disconnect(f.UserID, "session revoked")
		s.auditAs(r, f.UserID, "auth.refresh_reuse", "refresh_family:"+fid, actors.OutcomeDenied, "family revoked")
		writeError(w, r, revoked)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sess, err := s.sessionFor(u, fid, newToken)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.auditAs(r, u.ID, "auth.refresh", "refresh_family:"+fid, actors.OutcomeSuccess, "")
	writeData(w, http.StatusOK, sess)
}

// revokeFamily revokes a refresh family in the store and every access token
// issued from it (through the shared revocation list, keyed by family id,
// for as long as such a token can live).
func (s *Server) revokeFamily(ctx context.Context, fid string, now time.Time) error {
	if err := s.store.RevokeFamily(ctx, fid, now); err != nil && !errors.Is(err, actors.ErrNotFound) {
		return fmt.Errorf("revoke refresh family %s: %w", fid, err)
	}
	if err := s.kv.Revoke(ctx, app.FamilyRevocationKey(fid), now.Add(s.cfg.JWTExpiresIn+time.Minute)); err != nil {
		return fmt.Errorf("revoke access tokens of family %s: %w", fid, errors.Join(actors.ErrUnavailable, err))
	}
	return nil
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	p, _ := principalFrom(r.Context())
	var req logoutRequest
	if r.ContentLength != 0 {
		if e := decodeJSON(r, &req); e != nil {
			writeError(w, r, e)
			return
		}
	}
	ctx := r.Context()
	now := s.now().UTC().Truncate(time.Millisecond)
	if err := s.kv.Revoke(ctx, p.Claims.ID, p.Claims.ExpiresAt.Time); err != nil {
		s.fail(w, r, fmt.Errorf("revoke access token %s: %w", p.Claims.ID, errors.Join(actors.ErrUnavailable, err)))
		return
	}
	families := []string{}
	if p.Claims.FamilyID != "" {
		families = append(families, p.Claims.FamilyID)
	}
	if req.RefreshToken != "" {
		// Only a family of the caller's own can be revoked this way.
		if fid, err := auth.ParseRefreshToken(req.RefreshToken); err == nil && fid != p.Claims.FamilyID {
			if f, err := s.store.Family(ctx, fid); err == nil && f.UserID == p.User.ID {
				families = append(families, fid)
			}
		}
	}
	for _, fid := range families {
		if err := s.revokeFamily(ctx, fid, now); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.disconnect(p.User.ID, "logged out")
	s.audit(r, "auth.logout", "user:"+p.User.ID, actors.OutcomeSuccess, "")
	writeData(w, http.StatusOK, map[string]bool{"loggedOut": true})
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	p, _ := principalFrom(r.Context())
	v := viewUser(p.User)
	v.Permissions = p.User.Role.Permissions()
	writeData(w, http.StatusOK, meResponse{User: v})
}

func (s *Server) handleSetRole(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var req roleRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, r, e)
		return
	}
	role := actors.Role(req.Role)
	if !role.Valid() {
		ve := &validationError{}
		ve.add("role", "INVALID_ROLE", "must be admin, supervisor or agent")
		writeError(w, r, ve.err())
		return
	}
	ctx := r.Context()
	target, err := s.store.UserByID(ctx, id)
	if errors.Is(err, actors.ErrNotFound) {
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "user not found"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if target.Role == actors.RoleAdmin && role != actors.RoleAdmin {
		admins, err := s.store.ListUsers(ctx, actors.RoleAdmin)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if len(admins) <= 1 {
			s.audit(r, "users.role_change", "user:"+id, actors.OutcomeFailure, "last admin")
			writeError(w, r, errf(http.StatusConflict, CodeConflict, "the last admin cannot lose the admin role"))
			return
		}
	}
	u, err := s.store.SetUserRole(ctx, id, role, s.now().UTC().Truncate(time.Millisecond))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if u.TokenVersion > target.TokenVersion {
		// The role changed: every older token and login of the user ends.
		s.endSessions(ctx, u, "role changed; log in again")
	} else {
		s.users.invalidate(ctx, id)
	}
	s.audit(r, "users.role_change", "user:"+id, actors.OutcomeSuccess, string(target.Role)+"->"+string(role))
	writeData(w, http.StatusOK, userEnvelope{User: viewUser(u)})
}

// disconnect closes the user's agent sockets (1008 policy violation), so a
// revoked or changed session cannot keep receiving events.
func (s *Server) disconnect(userID, reason string) {
	if s.engine != nil && s.engine.Sockets != nil {
		s.engine.Sockets.DisconnectUser(userID, 1008, reason)
	}
}
