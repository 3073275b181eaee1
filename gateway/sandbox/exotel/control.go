package exotel

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// The test controls speak the engine's contract envelope:
// {"status":"success","data":...} and
// {"status":"error","code":"VALIDATION_ERROR","message":"..."}. They need
// no credentials (the sandbox listens on loopback).
//
//	GET    /sandbox/exotel/calls[?to=<number>]  placed calls, oldest first
//	GET    /sandbox/exotel/callbacks            callbacks posted, oldest first
//	POST   /sandbox/exotel/faults               {"fault":"server_error|unavailable|rate_limit|timeout|none","count":N}
//	GET    /sandbox/exotel/faults               the armed fault and how many connects it still hits
//	DELETE /sandbox/exotel/calls                Reset
func (s *Sandbox) mountControls(r chi.Router) {
	r.Route("/sandbox/exotel", func(r chi.Router) {
		r.Get("/calls", func(w http.ResponseWriter, r *http.Request) {
			calls := s.Calls()
			if to := r.URL.Query().Get("to"); to != "" {
				if _, ok := phoneDigits(to); !ok {
					writeControlError(w, "to must be a phone number")
					return
				}
				calls = s.CallsTo(to)
			}
			writeJSON(w, http.StatusOK, envelope(map[string]any{"items": calls}))
		})
		r.Delete("/calls", func(w http.ResponseWriter, _ *http.Request) {
			s.Reset()
			w.WriteHeader(http.StatusNoContent)
		})
		r.Get("/callbacks", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, envelope(map[string]any{"items": s.Callbacks()}))
		})
		r.Get("/faults", func(w http.ResponseWriter, _ *http.Request) {
			f, n := s.faults.armed()
			writeJSON(w, http.StatusOK, envelope(map[string]any{"fault": f, "count": n}))
		})
		r.Post("/faults", func(w http.ResponseWriter, r *http.Request) {
			var in struct {
				Fault string `json:"fault"`
				Count int    `json:"count"`
			}
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil {
				writeControlError(w, `body must be {"fault":"server_error|unavailable|rate_limit|timeout|none","count":N}`)
				return
			}
			f, err := ParseFault(in.Fault)
			if err != nil {
				writeControlError(w, err.Error())
				return
			}
			if in.Count < 0 || in.Count > 1000 || (f != FaultNone && in.Count == 0) {
				writeControlError(w, "count must be from 1 to 1000")
				return
			}
			s.ArmFault(f, in.Count)
			af, n := s.faults.armed()
			writeJSON(w, http.StatusOK, envelope(map[string]any{"fault": af, "count": n}))
		})
	})
}

func envelope(data any) map[string]any { return map[string]any{"status": "success", "data": data} }

func writeControlError(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"status": "error", "code": "VALIDATION_ERROR", "message": msg})
}
