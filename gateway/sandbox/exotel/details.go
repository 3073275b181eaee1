package exotel

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

// handleDetails is GET /v1/Accounts/{sid}/Calls/{CallSid}.json: the call
// as it stands (in-progress until it is over, then its final status,
// whether or not its terminal callback was posted); ?details=true adds the
// legs once it is over.
func (s *Sandbox) handleDetails(w http.ResponseWriter, r *http.Request) {
	file := chi.URLParam(r, "callFile")
	sid, ok := strings.CutSuffix(file, ".json")
	if !ok {
		writeRestError(w, http.StatusNotFound, CodeNotFound,
			"The sandbox answers only JSON: append .json to "+clip(r.URL.Path))
		return
	}
	c := s.rec.find(sid)
	if c == nil {
		writeRestError(w, http.StatusNotFound, CodeNotFound, "Call "+clip(sid)+" was not found")
		return
	}
	details := false
	if d := r.URL.Query().Get("details"); d != "" {
		b, err := strconv.ParseBool(d)
		if err != nil {
			writeRestError(w, http.StatusBadRequest, CodeInvalidParameter, "details must be true or false")
			return
		}
		details = b
	}
	writeJSON(w, http.StatusOK, map[string]wireCall{"Call": c.wire(details)})
}

// maxBulkFilter bounds the comma-separated values of a bulk filter (Exotel:
// 100 sids, 5 numbers).
const (
	maxBulkSids    = 100
	maxBulkNumbers = 5
	maxPageSize    = 100
	defPageSize    = 50
)

// handleBulkDetails is GET /v1/Accounts/{sid}/Calls.json with the filters
// Sid, To, From and Status (comma-separated) and PageSize, newest first.
// Exotel's bulk endpoint has no CustomField filter: a client that lost a
// connect answer finds its call by To (and DateCreated) and matches the
// CustomField of what it gets back. DateCreated ranges and cursor paging
// are not emulated (the first page only).
func (s *Sandbox) handleBulkDetails(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	split := func(name string, limit int) (map[string]bool, bool) {
		raw := strings.TrimSpace(q.Get(name))
		if raw == "" {
			return nil, true
		}
		set := map[string]bool{}
		for v := range strings.SplitSeq(raw, ",") {
			v = strings.TrimSpace(v)
			if name == "To" || name == "From" {
				d, ok := phoneDigits(v)
				if !ok {
					return nil, false
				}
				v = d
			}
			set[v] = true
		}
		return set, len(set) <= limit
	}
	sids, ok1 := split("Sid", maxBulkSids)
	tos, ok2 := split("To", maxBulkNumbers)
	froms, ok3 := split("From", maxBulkNumbers)
	statuses, ok4 := split("Status", 4)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		writeRestError(w, http.StatusBadRequest, CodeInvalidParameter,
			"Filters take at most 100 comma-separated Sid values, 5 phone numbers for To and From, and the statuses completed, failed, busy, no-answer")
		return
	}
	size := defPageSize
	if raw := q.Get("PageSize"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageSize {
			writeRestError(w, http.StatusBadRequest, CodeInvalidParameter, "PageSize must be from 1 to 100")
			return
		}
		size = n
	}
	matched := s.rec.each(func(c *call) bool {
		fromD, _ := phoneDigits(c.placed.From)
		return (sids == nil || sids[c.placed.Sid]) && (tos == nil || tos[c.toDigits]) && (froms == nil || froms[fromD]) &&
			(statuses == nil || statuses[c.snap().status])
	})
	calls := []wireCall{}
	for i := len(matched) - 1; i >= 0 && len(calls) < size; i-- {
		calls = append(calls, matched[i].wire(false))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"Metadata": map[string]any{"Total": len(matched), "PageSize": size},
		"Calls":    calls,
	})
}
