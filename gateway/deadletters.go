package gateway

import (
	"net/http"
	"strconv"

	"github.com/wacc/engine/actors"
)

type deadLettersPage struct {
	Items []actors.DeadLetter `json:"items"`
	Total int                 `json:"total"`
	Limit int                 `json:"limit"`
}

type redriveRequest struct {
	MessageIDs []string `json:"messageIds,omitempty"`
}

func (s *Server) handleListDeadLetters(w http.ResponseWriter, r *http.Request) {
	q, ae := readQuery(r, "limit")
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	limit := 50
	if v := q.get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			ve := &validationError{}
			ve.add("limit", "INVALID_NUMBER", "must be a whole number from 1 to 100")
			writeError(w, r, ve.err())
			return
		}
		limit = min(n, maxLimit)
	}
	items, err := s.engine.DeadLetters.ListDeadLetters(r.Context(), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if items == nil {
		items = []actors.DeadLetter{}
	}
	writeData(w, http.StatusOK, deadLettersPage{Items: items, Total: len(items), Limit: limit})
}

func (s *Server) handleRedrive(w http.ResponseWriter, r *http.Request) {
	var req redriveRequest
	if r.ContentLength != 0 {
		if e := decodeJSON(r, &req); e != nil {
			writeError(w, r, e)
			return
		}
	}
	if len(req.MessageIDs) > 1000 {
		ve := &validationError{}
		ve.add("messageIds", "TOO_MANY", "at most 1000 ids")
		writeError(w, r, ve.err())
		return
	}
	n, err := s.engine.DeadLetters.Redrive(r.Context(), req.MessageIDs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, "messages.redrive", "dead_letters", actors.OutcomeSuccess, strconv.Itoa(n))
	writeData(w, http.StatusOK, map[string]int{"redriven": n})
}
