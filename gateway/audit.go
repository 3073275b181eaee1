package gateway

import (
	"net/http"
	"time"

	"github.com/wacc/engine/actors"
)

// audit hands one record to the audit log. actor is the caller when
// authenticated; detail is a short non-sensitive note.
func (s *Server) audit(r *http.Request, action, resource, outcome, detail string) {
	s.auditAs(r, "", action, resource, outcome, detail)
}

// auditAs is audit with an explicit actor id, for requests (login,
// register) that are not authenticated yet.
func (s *Server) auditAs(r *http.Request, actorID, action, resource, outcome, detail string) {
	if actorID == "" {
		if p, ok := principalFrom(r.Context()); ok {
			actorID = p.User.ID
		}
	}
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	s.auditor.Record(actors.AuditRecord{
		ID:        actors.NewID(),
		ActorID:   actorID,
		Action:    action,
		Resource:  resource,
		Outcome:   outcome,
		IP:        clientIPFrom(r.Context()),
		UserAgent: ua,
		RequestID: requestIDFrom(r.Context()),
		Detail:    detail,
		At:        s.now().UTC(),
	})
}

// Places of refused authentications (the Resource of their records).
const (
	placeAPI     = "api"
	placeSocket  = "ws"
	placeWebhook = "webhook"
	// placeCallWebhook is Exotel's status callback.
	placeCallWebhook = "call_webhook"
)

// Reasons of refused authentications.
const (
	reasonTokenInvalid     = "token_invalid"
	reasonTokenExpired     = "token_expired"
	reasonTokenRevoked     = "token_revoked"
	reasonSignatureMissing = "signature_missing"
	reasonSignatureInvalid = "signature_invalid"
	reasonSecretMissing    = "secret_missing"
	reasonSecretInvalid    = "secret_invalid"
)

// refusedToken audits a token that verifyToken refused (err is one of its
// errToken* answers); any other error (a dependency down) is no refusal.
func (s *Server) refusedToken(r *http.Request, place string, err error) {
	var reason string
	switch err {
	case errTokenExpired:
		reason = reasonTokenExpired
	case errTokenRevoked:
		reason = reasonTokenRevoked
	case errTokenInvalid:
		reason = reasonTokenInvalid
	default:
		return
	}
	s.refused(r, place, reason)
}

// refused hands a refused authentication to the aggregator, which writes
// the audit records (auth.refused, denied).
func (s *Server) refused(r *http.Request, place, reason string) {
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	s.refusals.Refused(actors.AuditRecord{
		Resource:  place,
		IP:        clientIPFrom(r.Context()),
		UserAgent: ua,
		RequestID: requestIDFrom(r.Context()),
		At:        s.now().UTC(),
	}, reason)
}

type auditView struct {
	ID        string    `json:"id"`
	ActorID   string    `json:"actorId"`
	Action    string    `json:"action"`
	Resource  string    `json:"resource"`
	Outcome   string    `json:"outcome"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"userAgent"`
	RequestID string    `json:"requestId"`
	Detail    string    `json:"detail,omitempty"`
	At        time.Time `json:"at"`
}

func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request) {
	q, ae := readQuery(r, "actor", "action", "from", "to", "page", "limit")
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	ve := &validationError{}
	page, limit := q.paging(ve)
	f := actors.AuditFilter{ActorID: q.get("actor"), Action: q.get("action"), Page: page, Limit: limit}
	f.From = q.time(ve, "from")
	f.To = q.time(ve, "to")
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		ve.add("to", "INVALID_RANGE", "must be after from")
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	recs, total, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]auditView, 0, len(recs))
	for _, a := range recs {
		items = append(items, auditView{ID: a.ID, ActorID: a.ActorID, Action: a.Action, Resource: a.Resource, Outcome: a.Outcome,
			IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID, Detail: a.Detail, At: a.At.UTC()})
	}
	writeData(w, http.StatusOK, listPage[auditView]{Items: items, Total: total, Page: page, Limit: limit})
}
