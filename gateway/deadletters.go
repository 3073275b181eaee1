package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
)

// Requeuer moves a failed message back to queued for a re-drive.
type Requeuer interface {
	RequeueFailed(ctx context.Context, id string, at time.Time) (bool, error)
}

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
	ctx := r.Context()
	ids := req.MessageIDs
	if len(ids) == 0 {
		dls, err := s.engine.DeadLetters.ListDeadLetters(ctx, 1000)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, d := range dls {
			ids = append(ids, d.Job.MessageID)
		}
	}
	if len(ids) == 0 {
		writeData(w, http.StatusOK, map[string]int{"redriven": 0})
		return
	}
	// The messages go back to queued first, so the sender sends them
	// again; a message that is not failed (never was, or already
	// re-driven) is left as it is.
	now := s.now().UTC()
	for _, id := range ids {
		if ae, err := s.requeueCall(ctx, id); ae != nil || err != nil {
			if ae != nil {
				writeError(w, r, ae)
			} else {
				s.fail(w, r, err)
			}
			return
		}
		if _, err := s.engine.Requeue.RequeueFailed(ctx, id, now); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	n, err := s.engine.DeadLetters.Redrive(ctx, ids)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, "messages.redrive", "dead_letters", actors.OutcomeSuccess, strconv.Itoa(n))
	writeData(w, http.StatusOK, map[string]int{"redriven": n})
}

// requeueCall re-opens the call id names, when it names one, for its
// dead-lettered connect job's re-drive (call.Requeue); other ids are left
// to the message requeue. A call whose agent is busy again is a 409.
func (s *Server) requeueCall(ctx context.Context, id string) (*apiError, error) {
	if s.calls == nil {
		return nil, nil
	}
	if _, err := s.calls.Store.Call(ctx, id); errors.Is(err, actors.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	_, err := call.Ask(s.calls.Directory, id, call.Requeue{}, s.callTimeout())
	if errors.Is(err, call.ErrAgentBusy) {
		return errf(http.StatusConflict, CodeConflict, "call "+id+": its agent has another live call"), nil
	}
	return nil, err
}
