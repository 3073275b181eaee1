package exotel

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

// maxConnectBody bounds a connect request's form.
const maxConnectBody = 64 << 10

// Callback content types Exotel posts in (StatusCallbackContentType).
const (
	ContentTypeJSON = "application/json"
	ContentTypeForm = "multipart/form-data" // Exotel's default
)

// Events a StatusCallback may subscribe to (StatusCallbackEvents[i]).
const (
	EventTerminal = "terminal"
	EventAnswered = "answered"
)

// fieldError is a refused connect field: the HTTP status and RestException.
type fieldError struct {
	status int
	code   string
	msg    string
}

func badField(msg string) *fieldError {
	return &fieldError{status: http.StatusBadRequest, code: CodeInvalidParameter, msg: msg}
}

func missing(name string) *fieldError {
	return &fieldError{status: http.StatusBadRequest, code: CodeMissingParameter, msg: "Missing parameter: " + name}
}

// phoneDigits returns the digits of a phone number written as Exotel
// takes it: E.164 with '+', or digits with a leading 0 (national) or none;
// 7 to 15 digits after the '+' or the trunk 0.
func phoneDigits(s string) (string, bool) {
	s = strings.TrimSpace(s)
	d := strings.TrimPrefix(s, "+")
	if d == "" || len(d) > 16 || strings.Trim(d, "0123456789") != "" {
		return "", false
	}
	n := len(strings.TrimPrefix(d, "0"))
	if n < 7 || n > 15 {
		return "", false
	}
	// Compare national and international forms by their last 10 digits
	// (India's numbers; the sandbox's ExoPhones and customers are Indian).
	if len(d) > 10 {
		d = d[len(d)-10:]
	}
	return d, true
}

var eventKey = regexp.MustCompile(`^StatusCallbackEvents\[(\d+)\]$`)

// parseConnect checks a connect request's form as Exotel does and returns
// the call to place.
func (s *Sandbox) parseConnect(r *http.Request) (*PlacedCall, string, *fieldError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data") {
		return nil, "", badField("The request body must be form data (application/x-www-form-urlencoded or multipart/form-data)")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxConnectBody)
	if mt == "multipart/form-data" {
		err = r.ParseMultipartForm(maxConnectBody)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		return nil, "", badField("The request body is not readable form data")
	}
	f := r.PostForm
	p := &PlacedCall{}
	get := func(name string) string { return strings.TrimSpace(f.Get(name)) }

	p.From, p.To, p.CallerID = get("From"), get("To"), get("CallerId")
	switch {
	case p.From == "":
		return nil, "", missing("From")
	case p.To == "":
		return nil, "", missing("To")
	case p.CallerID == "":
		return nil, "", missing("CallerId")
	}
	if _, ok := phoneDigits(p.From); !ok {
		return nil, "", badField("From is not a valid phone number: " + clip(p.From))
	}
	toDigits, ok := phoneDigits(p.To)
	if !ok {
		return nil, "", badField("To is not a valid phone number: " + clip(p.To))
	}
	cid, ok := phoneDigits(p.CallerID)
	if !ok {
		return nil, "", badField("CallerId is not a valid phone number: " + clip(p.CallerID))
	}
	if _, mine := s.phones[cid]; !mine {
		return nil, "", &fieldError{status: http.StatusForbidden, code: CodeForbidden,
			msg: "CallerId " + clip(p.CallerID) + " is not an ExoPhone of this account"}
	}
	if ct := get("CallType"); ct != "" && ct != "trans" {
		return nil, "", badField(`CallType must be "trans"; promotional calls are not supported`)
	}
	if p.TimeLimit, err = optionalInt(f, "TimeLimit", 1, MaxTimeLimit); err != nil {
		return nil, "", badField(err.Error())
	}
	if p.TimeOut, err = optionalInt(f, "TimeOut", 1, 3600); err != nil {
		return nil, "", badField(err.Error())
	}
	if rec := get("Record"); rec != "" {
		switch rec {
		case "true":
			p.Record = true
		case "false":
		default:
			return nil, "", badField(`Record must be "true" or "false"`)
		}
	}
	p.CustomField = f.Get("CustomField")
	if utf8.RuneCountInString(p.CustomField) > MaxCustomField {
		return nil, "", badField(fmt.Sprintf("CustomField is longer than %d characters", MaxCustomField))
	}
	if fe := s.parseCallback(f, p); fe != nil {
		return nil, "", fe
	}
	return p, toDigits, nil
}

// parseCallback checks StatusCallback, StatusCallbackEvents[i] and
// StatusCallbackContentType.
func (s *Sandbox) parseCallback(f url.Values, p *PlacedCall) *fieldError {
	p.StatusCallback = strings.TrimSpace(f.Get("StatusCallback"))
	if p.StatusCallback != "" {
		u, err := url.Parse(p.StatusCallback)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return badField("StatusCallback is not an absolute http(s) URL")
		}
	}
	events := map[int]string{}
	for key, vals := range f {
		if strings.HasPrefix(key, "StatusCallbackEvents") {
			m := eventKey.FindStringSubmatch(key)
			if m == nil {
				return badField("Unknown parameter " + clip(key) + ": events are StatusCallbackEvents[0], StatusCallbackEvents[1]")
			}
			i, _ := strconv.Atoi(m[1])
			if i > 1 || len(vals) != 1 {
				return badField("StatusCallbackEvents takes at most two events, one per index")
			}
			if v := vals[0]; v != EventTerminal && v != EventAnswered {
				return badField(`StatusCallbackEvents values are "terminal" and "answered", not ` + strconv.Quote(clip(v)))
			}
			events[i] = vals[0]
		}
	}
	for i := range len(events) {
		ev, ok := events[i]
		if !ok {
			return badField("StatusCallbackEvents indexes start at 0 and have no gaps")
		}
		if len(p.Events) == 1 && p.Events[0] == ev {
			return badField("StatusCallbackEvents names " + ev + " twice")
		}
		p.Events = append(p.Events, ev)
	}
	p.ContentType = ContentTypeForm
	if ct := strings.TrimSpace(f.Get("StatusCallbackContentType")); ct != "" {
		if ct != ContentTypeJSON && ct != ContentTypeForm {
			return badField("StatusCallbackContentType must be application/json or multipart/form-data")
		}
		p.ContentType = ct
	}
	if p.StatusCallback == "" && len(p.Events) > 0 {
		return badField("StatusCallbackEvents needs a StatusCallback")
	}
	return nil
}

func optionalInt(f url.Values, name string, lo, hi int) (int, error) {
	raw := strings.TrimSpace(f.Get(name))
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a whole number of seconds from %d to %d", name, lo, hi)
	}
	return n, nil
}

// handleConnect is POST /v1/Accounts/{sid}/Calls/connect.json.
func (s *Sandbox) handleConnect(w http.ResponseWriter, r *http.Request) {
	p, toDigits, fe := s.parseConnect(r)
	if fe != nil {
		writeRestError(w, fe.status, fe.code, fe.msg)
		return
	}
	switch s.faults.take() {
	case FaultServerError:
		writeRestError(w, http.StatusInternalServerError, CodeInternal, "Internal server error. Please try again.")
		return
	case FaultUnavailable:
		writeRestError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Service temporarily unavailable. Please try again later.")
		return
	case FaultRateLimit:
		writeRestError(w, http.StatusTooManyRequests, CodeTooManyRequests, "Too many requests. Voice APIs are limited to 200 calls per minute.")
		return
	case FaultTimeout:
		s.hold(r)
		return
	}
	p.Outcome = outcomeFor(toDigits)
	c, ok := s.place(p, toDigits)
	if !ok {
		writeRestError(w, http.StatusTooManyRequests, CodeTooManyRequests, "Too many calls in progress. Please try again later.")
		return
	}
	s.log.Debug("call placed", zap.String("call_sid", p.Sid), zap.String("outcome", string(p.Outcome)))
	if p.Outcome == OutcomeConnectTimeout {
		s.hold(r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]wireCall{"Call": c.wire(false)})
}

// hold keeps the request unanswered until TimeoutHold passes, the client
// gives up or the sandbox stops, then drops the connection.
func (s *Sandbox) hold(r *http.Request) {
	t := time.NewTimer(s.opts.TimeoutHold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
	panic(http.ErrAbortHandler)
}
