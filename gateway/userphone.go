package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/wacc/engine/actors"
)

// userPatchRequest is the body of PATCH /api/auth/me: only the phone can be
// changed there (never the role, the email, the id or disabled; unknown
// fields are refused). PATCH /api/users/{id} takes userAdminPatchRequest.
type userPatchRequest struct {
	// Phone is the user's own phone, E.164 (a number without + is read in
	// DEFAULT_PHONE_REGION), or null to clear it. Stored as E.164.
	Phone json.RawMessage `json:"phone"`
}

// auditPhoneChange is the audit action of every change of a user's phone,
// by an admin or by the user.
const auditPhoneChange = "users.phone_change"

// handleUpdateMe is PATCH /api/auth/me: any signed-in user changes its own
// phone.
func (s *Server) handleUpdateMe(w http.ResponseWriter, r *http.Request) {
	p, _ := principalFrom(r.Context())
	u, ok := s.patchPhone(w, r, p.User.ID)
	if ok {
		v := viewUser(u)
		v.Permissions = u.Role.Permissions()
		writeData(w, http.StatusOK, meResponse{User: v})
	}
}

// patchPhone decodes and checks a userPatchRequest and stores the phone of
// user id. It answers the request itself when it fails (ok false); nothing
// is changed then.
func (s *Server) patchPhone(w http.ResponseWriter, r *http.Request, id string) (actors.User, bool) {
	resource := "user:" + id
	var req userPatchRequest
	if e := decodeJSON(r, &req); e != nil {
		s.audit(r, auditPhoneChange, resource, actors.OutcomeFailure, e.Code)
		writeError(w, r, e)
		return actors.User{}, false
	}
	phone, e := s.parseUserPhone(req.Phone)
	if e != nil {
		s.audit(r, auditPhoneChange, resource, actors.OutcomeFailure, e.Fields[0].Code)
		writeError(w, r, e)
		return actors.User{}, false
	}
	return s.storePhone(w, r, id, phone)
}

// storePhone stores the checked phone of user id and audits it. It answers
// the request itself when it fails (ok false).
func (s *Server) storePhone(w http.ResponseWriter, r *http.Request, id, phone string) (actors.User, bool) {
	resource := "user:" + id
	ctx := r.Context()
	u, err := s.store.SetUserPhone(ctx, id, phone, s.now().UTC().Truncate(time.Millisecond))
	if errors.Is(err, actors.ErrNotFound) {
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "user not found"))
		return actors.User{}, false
	}
	if err != nil {
		s.fail(w, r, err)
		return actors.User{}, false
	}
	s.users.invalidate(ctx, id)
	detail := "cleared"
	if phone != "" {
		detail = "set " + maskedPhone(phone)
	}
	s.audit(r, auditPhoneChange, resource, actors.OutcomeSuccess, detail)
	return u, true
}

// parseUserPhone reads the phone field: absent is REQUIRED (callers that
// take other fields check absence themselves), null clears ("" back), a string must be a valid number and comes
// back in E.164.
func (s *Server) parseUserPhone(raw json.RawMessage) (string, *apiError) {
	ve := &validationError{}
	if len(raw) == 0 {
		ve.add("phone", "REQUIRED", "is required: a phone number in international format such as +919876543210, or null to clear it")
		return "", ve.err()
	}
	if string(raw) == "null" {
		return "", nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		ve.add("phone", "INVALID_TYPE", "must be a string or null")
		return "", ve.err()
	}
	phone, ok := NormalizePhone(text, s.cfg.DefaultPhoneRegion)
	if !ok {
		msg := "must be a valid phone number in international format, such as +919876543210 (null clears it)"
		if s.cfg.DefaultPhoneRegion == "" {
			msg = "must be a valid phone number in international format, starting with + and the country code, such as +919876543210 (null clears it)"
		}
		ve.add("phone", "INVALID_PHONE", msg)
		return "", ve.err()
	}
	return phone, nil
}

// maskedPhone keeps the country code's first digits and the last two
// digits of an E.164 number, for the audit log.
func maskedPhone(e164 string) string {
	if len(e164) < 7 {
		return "+***"
	}
	masked := []byte(e164)
	for i := 3; i < len(masked)-2; i++ {
		masked[i] = '*'
	}
	return string(masked)
}
