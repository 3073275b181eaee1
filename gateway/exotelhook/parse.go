package exotelhook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wacc/engine/actors"
)

// Exotel's times are "YYYY-MM-DD HH:mm:ss" in India Standard Time.
const timeLayout = "2006-01-02 15:04:05"

var ist = time.FixedZone("IST", 5*3600+1800)

// Callback is one status callback as the engine uses it.
type Callback struct {
	CallSid     string
	EventType   string
	Status      string
	CustomField string
	DateUpdated time.Time
	// DurationSec is ConversationDuration (talk time), 0 when absent.
	DurationSec  int
	RecordingURL string
}

// ErrInvalid wraps every reason a callback is refused.
var ErrInvalid = errors.New("invalid Exotel callback")

// Parse reads a callback body of the given Content-Type.
func Parse(contentType string, body []byte) (Callback, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	var get func(string) string
	switch mt {
	case "application/json":
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			return Callback{}, fmt.Errorf("%w: body is not a JSON object", ErrInvalid)
		}
		get = func(k string) string { return jsonField(m[k]) }
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return Callback{}, fmt.Errorf("%w: form body does not parse", ErrInvalid)
		}
		get = v.Get
	case "multipart/form-data":
		v, err := readMultipart(body, params["boundary"])
		if err != nil {
			return Callback{}, err
		}
		get = v.Get
	default:
		return Callback{}, fmt.Errorf("%w: Content-Type must be application/json, application/x-www-form-urlencoded or multipart/form-data", ErrInvalid)
	}
	return fromFields(get)
}

func jsonField(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	}
	return ""
}

func readMultipart(body []byte, boundary string) (url.Values, error) {
	if boundary == "" {
		return nil, fmt.Errorf("%w: multipart body without a boundary", ErrInvalid)
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	v := url.Values{}
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			return v, nil
		}
		if err != nil || i > 200 {
			return nil, fmt.Errorf("%w: multipart body does not parse", ErrInvalid)
		}
		b, err := io.ReadAll(io.LimitReader(p, 4096))
		if err != nil {
			return nil, fmt.Errorf("%w: multipart body does not parse", ErrInvalid)
		}
		v.Add(p.FormName(), string(b))
	}
}

// statuses maps Exotel's call statuses onto ours.
var statuses = map[string]string{
	"queued": actors.CallQueued, "ringing": actors.CallRinging, "in-progress": actors.CallInProgress,
	"completed": actors.CallCompleted, "failed": actors.CallFailed, "busy": actors.CallBusy,
	"no-answer": actors.CallNoAnswer, "canceled": actors.CallCanceled, "cancelled": actors.CallCanceled,
}

// MapStatus returns our status for Exotel's; ok is false for one Exotel
// does not document.
func MapStatus(exotel string) (string, bool) {
	s, ok := statuses[strings.ToLower(strings.TrimSpace(exotel))]
	return s, ok
}

// ParseTime reads one of Exotel's times (IST); zero for "" or garbage.
func ParseTime(v string) time.Time {
	t, err := time.ParseInLocation(timeLayout, strings.TrimSpace(v), ist)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func fromFields(get func(string) string) (Callback, error) {
	c := Callback{CallSid: strings.TrimSpace(get("CallSid")), EventType: strings.TrimSpace(get("EventType")),
		CustomField: strings.TrimSpace(get("CustomField")), RecordingURL: strings.TrimSpace(get("RecordingUrl"))}
	if c.CallSid == "" || len(c.CallSid) > 128 {
		return Callback{}, fmt.Errorf("%w: CallSid is missing", ErrInvalid)
	}
	if len(c.CustomField) > 128 || len(c.RecordingURL) > 2048 || len(c.EventType) > 32 {
		return Callback{}, fmt.Errorf("%w: a field is too long", ErrInvalid)
	}
	st, ok := MapStatus(get("Status"))
	if !ok {
		return Callback{}, fmt.Errorf("%w: Status %q is not one of Exotel's", ErrInvalid, truncate(get("Status")))
	}
	c.Status = st
	if c.EventType != "" && c.EventType != "answered" && c.EventType != "terminal" {
		return Callback{}, fmt.Errorf("%w: EventType %q is not answered or terminal", ErrInvalid, truncate(c.EventType))
	}
	c.DateUpdated = ParseTime(get("DateUpdated"))
	if v := strings.TrimSpace(get("ConversationDuration")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 86400 {
			return Callback{}, fmt.Errorf("%w: ConversationDuration is not a number of seconds", ErrInvalid)
		}
		c.DurationSec = n
	}
	if c.RecordingURL != "" {
		u, err := url.Parse(c.RecordingURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Callback{}, fmt.Errorf("%w: RecordingUrl is not an http(s) URL", ErrInvalid)
		}
	}
	return c, nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}

// EventID is the callback's content-derived id: the same callback sent
// twice has the same id.
func (c Callback) EventID() string {
	h := sha256.Sum256([]byte(c.CallSid + "\x00" + c.EventType + "\x00" + c.Status + "\x00" + c.DateUpdated.Format(time.RFC3339)))
	return hex.EncodeToString(h[:16])
}

// Event is the callback as the engine stores it, for call callID.
func (c Callback) Event(callID string, body []byte, receivedAt time.Time) actors.CallEvent {
	return actors.CallEvent{ID: c.EventID(), CallID: callID, CallSid: c.CallSid, EventType: c.EventType, Status: c.Status,
		DurationSec: c.DurationSec, RecordingURL: c.RecordingURL, DateUpdated: c.DateUpdated, Body: body, ReceivedAt: receivedAt}
}
