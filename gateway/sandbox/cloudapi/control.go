package cloudapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

// The test controls speak the engine's contract envelope:
// {"status":"success","data":...} and
// {"status":"error","code":"UPPER_SNAKE","message":"...","errors":[...]}.

type controlError struct {
	Status  string       `json:"status"`
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Errors  []fieldError `json:"errors,omitempty"`
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

func writeValidation(w http.ResponseWriter, field, msg string) {
	e := controlError{Status: "error", Code: "VALIDATION_ERROR", Message: msg}
	if field != "" {
		e.Errors = []fieldError{{Field: field, Message: msg, Code: "invalid"}}
	}
	writeJSON(w, http.StatusBadRequest, e)
}

// InboundRequest is the body of POST /sandbox/whatsapp/inbound: a customer
// (From, a wa_id) sends Text to the business number PhoneNumberID.
type InboundRequest struct {
	From          string `json:"from"`
	Text          string `json:"text"`
	PhoneNumberID string `json:"phoneNumberId"`
	// Name is the customer's profile name; default "Sandbox Customer".
	Name string `json:"name,omitempty"`
}

// defaultProfileName is contacts[].profile.name when the request has none.
const defaultProfileName = "Sandbox Customer"

// maxControlBody bounds the control endpoints' request bodies.
const maxControlBody = 64 << 10

// handleInbound is POST /sandbox/whatsapp/inbound: it builds the webhook
// Meta would send for a customer's text message and posts it, signed, to
// the engine (through the callback workers, with retries).
func (w *whatsApp) handleInbound(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxControlBody))
	if err != nil {
		writeValidation(rw, "", "request body is too large or unreadable")
		return
	}
	var in InboundRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeValidation(rw, "", "request body must be a JSON object with from, text, phoneNumberId and optional name: "+strings.TrimPrefix(err.Error(), "json: "))
		return
	}
	if dec.More() {
		writeValidation(rw, "", "request body must be a single JSON object")
		return
	}
	from, ok := phoneDigits(in.From)
	if !ok {
		writeValidation(rw, "from", "from must be a wa_id of 7 to 15 digits")
		return
	}
	if strings.TrimSpace(in.Text) == "" || utf8.RuneCountInString(in.Text) > maxTextBody {
		writeValidation(rw, "text", "text must be 1 to 4096 characters")
		return
	}
	if in.PhoneNumberID == "" || strings.ContainsAny(in.PhoneNumberID, " /\t\n") || len(in.PhoneNumberID) > 64 {
		writeValidation(rw, "phoneNumberId", "phoneNumberId is required")
		return
	}
	if len(in.Name) > 256 {
		writeValidation(rw, "name", "name must be at most 256 bytes")
		return
	}
	if !w.disp.enabled() {
		writeJSON(rw, http.StatusServiceUnavailable, controlError{Status: "error", Code: "DEPENDENCY_UNAVAILABLE",
			Message: "the sandbox has no webhook URL to post the inbound message to"})
		return
	}
	name := in.Name
	if name == "" {
		name = defaultProfileName
	}
	wamid := newWamid(from)
	payload := inboundBody(w.opts.BusinessAccountID, in.PhoneNumberID, displayNumber(w.opts.DisplayPhoneNumbers, in.PhoneNumberID),
		from, name, wamid, in.Text, w.opts.Now())
	st := step{name: "inbound", build: func(_ time.Time) []byte { return payload }}
	if err := w.disp.enqueue([]step{st}, 0, zap.String("wa_message_id", wamid), zap.String("phone_number_id", in.PhoneNumberID)); err != nil {
		writeJSON(rw, http.StatusServiceUnavailable, controlError{Status: "error", Code: "DEPENDENCY_UNAVAILABLE",
			Message: "the sandbox's callback queue is full; retry later"})
		return
	}
	writeJSON(rw, http.StatusAccepted, map[string]any{"status": "success", "data": map[string]string{"waMessageId": wamid}})
}

// handleSentList is GET /sandbox/whatsapp/sent[?to=<number>][&after=<seq>].
func (w *whatsApp) handleSentList(rw http.ResponseWriter, r *http.Request) {
	var after uint64
	if a := r.URL.Query().Get("after"); a != "" {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			writeValidation(rw, "after", "after must be a sequence number (a non-negative integer)")
			return
		}
		after = n
	}
	var waID string
	if to := r.URL.Query().Get("to"); to != "" {
		d, ok := phoneDigits(strings.TrimSpace(to))
		if !ok {
			writeValidation(rw, "to", "to must be a phone number of 7 to 15 digits, optionally with a leading '+'")
			return
		}
		waID = d
	}
	writeJSON(rw, http.StatusOK, map[string][]SentMessage{"items": w.rec.list(waID, after)})
}

// handleSentReset is DELETE /sandbox/whatsapp/sent: the same as Reset.
func (w *whatsApp) handleSentReset(rw http.ResponseWriter, _ *http.Request) {
	w.reset()
	rw.WriteHeader(http.StatusNoContent)
}
