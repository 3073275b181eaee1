package gateway

import (
	"context"
	"encoding/json"
	"errors"
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

// Audit actions of account changes (besides users.role_change and
// users.phone_change).
const (
	auditDisable        = "users.disable"
	auditEnable         = "users.enable"
	auditPasswordChange = "auth.password_change"
)

// userAdminPatchRequest is the body of PATCH /api/users/{id} (users:manage):
// the phone, disabled, or both; never the role (its own route), the email
// or the id.
type userAdminPatchRequest struct {
	// Phone is the user's own phone, E.164 (a number without + is read in
	// DEFAULT_PHONE_REGION), or null to clear it. Stored as E.164.
	Phone json.RawMessage `json:"phone,omitempty"`
	// Disabled true disables the account: it cannot log in or refresh,
	// and every token and socket it has ends at once. false enables it.
	Disabled json.RawMessage `json:"disabled,omitempty" schematype:"boolean"`
}

// passwordChangeRequest is the body of POST /api/auth/password.
type passwordChangeRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// handleUpdateUser is PATCH /api/users/{id} (users:manage): the phone,
// disabled, or both. Every field is checked before anything is stored.
func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	var req userAdminPatchRequest
	if e := decodeJSON(r, &req); e != nil {
		s.audit(r, auditPhoneChange, "user:"+id, actors.OutcomeFailure, e.Code)
		writeError(w, r, e)
		return
	}
	ve := &validationError{}
	if len(req.Phone) == 0 && len(req.Disabled) == 0 {
		ve.add("phone", "REQUIRED", "is required: a phone number in international format such as +919876543210, or null to clear it (or give disabled)")
		s.audit(r, auditPhoneChange, "user:"+id, actors.OutcomeFailure, "REQUIRED")
		writeError(w, r, ve.err())
		return
	}
	var phone string
	if len(req.Phone) > 0 {
		var e *apiError
		if phone, e = s.parseUserPhone(req.Phone); e != nil {
			s.audit(r, auditPhoneChange, "user:"+id, actors.OutcomeFailure, e.Fields[0].Code)
			writeError(w, r, e)
			return
		}
	}
	var disabled *bool
	if len(req.Disabled) > 0 {
		var b bool
		if string(req.Disabled) == "null" || json.Unmarshal(req.Disabled, &b) != nil {
			ve.add("disabled", "INVALID_TYPE", "must be true or false")
			s.audit(r, auditDisable, "user:"+id, actors.OutcomeFailure, "INVALID_TYPE")
			writeError(w, r, ve.err())
			return
		}
		disabled = &b
	}
	p, _ := principalFrom(r.Context())
	if disabled != nil && *disabled && id == p.User.ID {
		s.audit(r, auditDisable, "user:"+id, actors.OutcomeFailure, "own account")
		writeError(w, r, errf(http.StatusConflict, CodeConflict, "you cannot disable your own account"))
		return
	}
	ctx := r.Context()
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, actors.ErrNotFound) {
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "user not found"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(req.Phone) > 0 {
		var ok bool
		if u, ok = s.storePhone(w, r, id, phone); !ok {
			return
		}
	}
	if disabled != nil {
		var ok bool
		if u, ok = s.setDisabled(w, r, u, *disabled); !ok {
			return
		}
	}
	writeData(w, http.StatusOK, userEnvelope{User: viewUser(u)})
}

// handleListUsers is GET /api/users (users:manage): one page of users,
// oldest first, searched by a substring of the name or email. The items are
// the user view (never the password hash), disabled ones included.
func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) {
	q, ae := readQuery(r, "page", "limit", "search")
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	ve := &validationError{}
	page, limit := q.paging(ve)
	f := actors.UserFilter{Search: strings.TrimSpace(q.get("search")), Page: page, Limit: limit}
	if utf8.RuneCountInString(f.Search) > 100 {
		ve.add("search", "INVALID_LENGTH", "must be at most 100 characters")
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	us, total, err := s.store.ListUsersPage(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]userView, 0, len(us))
	for _, u := range us {
		items = append(items, viewUser(u))
	}
	writeData(w, http.StatusOK, listPage[userView]{Items: items, Total: total, Page: page, Limit: limit})
}

// setDisabled disables or enables u. Disabling bumps the user's token
// version and ends every session it has (endSessions). It answers the
// request itself when it fails (ok false).
func (s *Server) setDisabled(w http.ResponseWriter, r *http.Request, u actors.User, disabled bool) (actors.User, bool) {
	ctx := r.Context()
	action := auditEnable
	if disabled {
		action = auditDisable
	}
	updated, err := s.store.SetUserDisabled(ctx, u.ID, disabled, s.now().UTC().Truncate(time.Millisecond))
	if errors.Is(err, actors.ErrNotFound) {
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "user not found"))
		return actors.User{}, false
	}
	if err != nil {
		s.fail(w, r, err)
		return actors.User{}, false
	}
	if disabled {
		s.endSessions(ctx, updated, "account disabled")
	} else {
		s.users.invalidate(ctx, u.ID)
	}
	detail := "was enabled"
	if u.Disabled {
		detail = "was disabled"
	}
	s.audit(r, action, "user:"+u.ID, actors.OutcomeSuccess, detail)
	return updated, true
}

// handleChangePassword is POST /api/auth/password: the caller changes its
// own password, giving the current one. Every older token and login of the
// user ends (token version) and its sockets close; the answer is a fresh
// session (login's shape), so the client that changed it stays signed in.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	p, _ := principalFrom(r.Context())
	resource := "user:" + p.User.ID
	var req passwordChangeRequest
	if e := decodeJSON(r, &req); e != nil {
		s.audit(r, auditPasswordChange, resource, actors.OutcomeFailure, e.Code)
		writeError(w, r, e)
		return
	}
	ve := &validationError{}
	if req.CurrentPassword == "" {
		ve.add("currentPassword", "REQUIRED", "is required")
	}
	checkPassword(ve, "newPassword", req.NewPassword)
	if req.NewPassword != "" && req.NewPassword == req.CurrentPassword {
		ve.add("newPassword", "SAME_AS_CURRENT", "must differ from the current password")
	}
	if e := ve.err(); e != nil {
		s.audit(r, auditPasswordChange, resource, actors.OutcomeFailure, e.Fields[0].Code)
		writeError(w, r, e)
		return
	}
	// A stolen access token must not buy unlimited guesses at the password.
	if e := s.throttleAccount(r, p.User.Email); e != nil {
		writeError(w, r, e)
		return
	}
	ctx := r.Context()
	u, err := s.store.UserByID(ctx, p.User.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(req.CurrentPassword) > 4*auth.MaxPasswordLen {
		req.CurrentPassword = req.CurrentPassword[:4*auth.MaxPasswordLen]
	}
	if match, err := auth.VerifyPassword(u.PasswordHash, req.CurrentPassword); err != nil || !match {
		s.audit(r, auditPasswordChange, resource, actors.OutcomeFailure, "wrong current password")
		ve.add("currentPassword", "INCORRECT", "is not the current password")
		writeError(w, r, ve.err())
		return
	}
	u, err = s.store.SetUserPassword(ctx, u.ID, auth.HashPassword(req.NewPassword), s.now().UTC().Truncate(time.Millisecond))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.endSessions(ctx, u, "password changed; log in again")
	sess, err := s.startSession(ctx, u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, auditPasswordChange, resource, actors.OutcomeSuccess, "")
	writeData(w, http.StatusOK, sess)
}

// endSessions ends every session of u after its token version was bumped
// (u is the stored user, bumped): the revocation list refuses the tokens of
// the previous version on every node at once (fail closed like every
// revocation check), the read cache forgets the user (so the store's
// version and disabled flag are read next), the user's refresh families are
// revoked (the refresh handler also refuses any family of an older
// version), and the user's sockets close with 1008. The store's version is
// the authority: a failure of the revocation list or of the family
// revocation is logged and does not undo the change.
func (s *Server) endSessions(ctx context.Context, u actors.User, reason string) {
	now := s.now().UTC().Truncate(time.Millisecond)
	if u.TokenVersion > 0 {
		key := app.VersionRevocationKey(u.ID, u.TokenVersion-1)
		if err := s.kv.Revoke(ctx, key, now.Add(s.cfg.JWTExpiresIn+time.Minute)); err != nil {
			s.log.Error("revocation list unavailable; older tokens are refused once the user's cache entry is gone",
				zap.String("user_id", u.ID), zap.Error(err))
		}
	}
	s.users.invalidate(ctx, u.ID)
	if _, err := s.store.RevokeUserFamilies(ctx, u.ID, now); err != nil {
		s.log.Warn("revoke refresh families; older families are refused by their token version",
			zap.String("user_id", u.ID), zap.Error(err))
	}
	s.disconnect(u.ID, reason)
}
