package cloudapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

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

// defaultProfileName is contacts[].profile.name when the request has none.
const defaultProfileName = "Sandbox Customer"

// maxControlBody bounds the control endpoints' request bodies (simulated
// media files travel in them, base64-encoded).
const maxControlBody = 4 << 20

// maxInboundBatch bounds the messages of one simulated webhook body.
const maxInboundBatch = 100

// handleInbound is POST /sandbox/whatsapp/inbound: it builds the webhook
// Meta would send for a customer's message (or, with "messages", several
// in one body) and posts it, signed, to the engine through the callback
// workers, with retries. Each message opens the customer service window
// of its customer and business number.
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
		writeValidation(rw, "", "request body must be a JSON object with from, phoneNumberId, text or type and its object, and optional name, context, referral: "+strings.TrimPrefix(err.Error(), "json: "))
		return
	}
	if dec.More() {
		writeValidation(rw, "", "request body must be a single JSON object")
		return
	}
	batch := []InboundRequest{in}
	if in.Messages != nil {
		rest := in
		rest.Messages = nil
		if !reflect.ValueOf(rest).IsZero() {
			writeValidation(rw, "messages", "a request with messages carries nothing else: every message is an item of messages")
			return
		}
		if len(in.Messages) == 0 || len(in.Messages) > maxInboundBatch {
			writeValidation(rw, "messages", fmt.Sprintf("messages must have 1 to %d messages", maxInboundBatch))
			return
		}
		batch = in.Messages
	}
	inputs := make([]*inboundInput, len(batch))
	for i := range batch {
		prefix := ""
		if in.Messages != nil {
			prefix = fmt.Sprintf("messages[%d].", i)
			if batch[i].Messages != nil {
				writeValidation(rw, prefix+"messages", "a message of a batch cannot hold messages")
				return
			}
		}
		v, field, msg := validateInbound(&batch[i])
		if v == nil {
			writeValidation(rw, prefix+field, msg)
			return
		}
		inputs[i] = v
	}
	if !w.disp.enabled() {
		writeJSON(rw, http.StatusServiceUnavailable, controlError{Status: "error", Code: "DEPENDENCY_UNAVAILABLE",
			Message: "the sandbox has no webhook URL to post the inbound message to"})
		return
	}

	now := w.opts.Now()
	ups := make([]update, len(inputs))
	wamids := make([]string, len(inputs))
	var mediaIDs []string
	store := func(m *storedMedia) string {
		m.id = newMediaID()
		w.media.put(m)
		mediaIDs = append(mediaIDs, m.id)
		return m.id
	}
	for i, v := range inputs {
		wamids[i] = newWamid(v.from)
		ups[i] = v.build(w.opts.BusinessAccountID, displayNumber(w.opts.DisplayPhoneNumbers, v.req.PhoneNumberID), wamids[i], now, store)
	}
	st := step{name: "inbound", build: func(_ time.Time) []update { return ups }}
	if err := w.disp.enqueue([]step{st}, 0, zap.String("wa_message_id", wamids[0]), zap.String("phone_number_id", inputs[0].req.PhoneNumberID),
		zap.Int("messages", len(ups))); err != nil {
		writeJSON(rw, http.StatusServiceUnavailable, controlError{Status: "error", Code: "DEPENDENCY_UNAVAILABLE",
			Message: "the sandbox's callback queue is full; retry later"})
		return
	}
	for _, v := range inputs {
		if v.opensWindow() {
			w.windows.wrote(v.req.PhoneNumberID, v.from, now)
		}
	}
	data := map[string]any{"waMessageId": wamids[0]}
	if in.Messages != nil {
		data = map[string]any{"waMessageIds": wamids}
	}
	if len(mediaIDs) > 0 {
		data["mediaIds"] = mediaIDs
	}
	writeJSON(rw, http.StatusAccepted, map[string]any{"status": "success", "data": data})
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
