package exotel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/wacc/engine/actors"
)

// Defaults and limits of the client.
const (
	// DefaultBaseURL is Exotel's Singapore cluster; Mumbai accounts use
	// https://api.in.exotel.com.
	DefaultBaseURL = "https://api.exotel.com"
	// DefaultTimeout bounds one request with the default HTTP client.
	DefaultTimeout = 10 * time.Second
	// MaxTimeLimit is the longest call Exotel places: four hours, in seconds.
	MaxTimeLimit = 14400
	// MaxTimeOut is the longest ring time the client asks for, in seconds.
	MaxTimeOut = 3600
	// MaxCustomField is the longest CustomField (our call id) Exotel takes.
	MaxCustomField = 128
)

// maxResponseBytes bounds how much of an answer is read. Exotel's answers
// are a few kilobytes; a bulk page of 100 calls stays well below.
const maxResponseBytes = 4 << 20

// ist is India Standard Time, the zone of Exotel's timestamps.
var ist = time.FixedZone("IST", 5*3600+1800)

// Options configure a Client. BaseURL, AccountSID, APIKey, APIToken and
// CallerID are required.
type Options struct {
	// BaseURL is the regional API root: https://api.exotel.com (Singapore)
	// or https://api.in.exotel.com (Mumbai), or the sandbox's URL. A
	// trailing slash is ignored.
	BaseURL string
	// AccountSID is the {sid} of every path.
	AccountSID string
	// APIKey and APIToken are sent as HTTP basic auth.
	APIKey   string
	APIToken string
	// CallerID is the ExoPhone shown to both parties, unless a
	// ConnectRequest names another.
	CallerID string
	// StatusCallback is our webhook's absolute URL, with its secret (never
	// logged, never put in an error). Empty: Exotel posts no callbacks.
	StatusCallback string
	// HTTPClient sends the requests; nil means a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds one request of the default HTTP client
	// (DefaultTimeout when zero); ignored with HTTPClient. The call actor's
	// ConnectTimeout must be longer, so a connect it deems lost has ended.
	Timeout time.Duration
	// Location is the zone of Exotel's "YYYY-MM-DD HH:mm:ss" timestamps;
	// India Standard Time when nil.
	Location *time.Location
}

// Client is the engine's client of Exotel's Voice v1 API: it connects an
// agent to a customer and looks calls up. It never retries and never logs;
// it is safe for concurrent use. Build it with NewClient.
type Client struct {
	base     string // {BaseURL}/v1/Accounts/{sid}
	key      string
	token    string
	callerID string
	callback string
	httpc    *http.Client
	loc      *time.Location
}

// NewClient checks opts and returns a Client.
func NewClient(opts Options) (*Client, error) {
	var errs []error
	base := strings.TrimRight(strings.TrimSpace(opts.BaseURL), "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("base URL %q is not an absolute http(s) URL", opts.BaseURL))
	}
	if opts.AccountSID == "" || strings.ContainsAny(opts.AccountSID, "/?#% ") {
		errs = append(errs, errors.New("account sid is empty or not a path segment"))
	}
	if opts.APIKey == "" || opts.APIToken == "" {
		errs = append(errs, errors.New("API key and token are required"))
	}
	if opts.CallerID == "" {
		errs = append(errs, errors.New("caller id (an ExoPhone) is required"))
	}
	if opts.StatusCallback != "" {
		// The URL carries a secret: the error does not repeat it.
		if u, err := url.Parse(opts.StatusCallback); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("status callback is not an absolute http(s) URL"))
		}
	}
	if opts.Timeout < 0 {
		errs = append(errs, errors.New("negative timeout"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("exotel client options: %w", err)
	}
	httpc := opts.HTTPClient
	if httpc == nil {
		timeout := opts.Timeout
		if timeout == 0 {
			timeout = DefaultTimeout
		}
		httpc = &http.Client{Timeout: timeout}
	}
	loc := opts.Location
	if loc == nil {
		loc = ist
	}
	return &Client{base: base + "/v1/Accounts/" + url.PathEscape(opts.AccountSID), key: opts.APIKey, token: opts.APIToken,
		callerID: opts.CallerID, callback: opts.StatusCallback, httpc: httpc, loc: loc}, nil
}

// ConnectRequest is one call to place: From (the agent, rung first) to To
// (the customer).
type ConnectRequest struct {
	// CallID is our call id, sent as CustomField (at most 128 characters)
	// so the callbacks name it.
	CallID string
	From   string
	To     string
	// CallerID overrides Options.CallerID when set.
	CallerID string
	// TimeLimit caps the call (1..14400 seconds; 0: Exotel's default).
	TimeLimit int
	// TimeOut is how long each leg rings (1..3600 seconds; 0: Exotel's
	// default).
	TimeOut int
	Record  bool
}

// validate refuses a request Exotel would refuse, before sending it.
func (r ConnectRequest) validate() error {
	var errs []error
	if r.CallID == "" {
		errs = append(errs, errors.New("call id is empty"))
	}
	if n := utf8.RuneCountInString(r.CallID); n > MaxCustomField {
		errs = append(errs, fmt.Errorf("call id is %d characters, longer than Exotel's CustomField (%d)", n, MaxCustomField))
	}
	if r.From == "" || r.To == "" {
		errs = append(errs, errors.New("from and to numbers are required"))
	}
	if r.TimeLimit < 0 || r.TimeLimit > MaxTimeLimit {
		errs = append(errs, fmt.Errorf("time limit %ds not in 1..%d", r.TimeLimit, MaxTimeLimit))
	}
	if r.TimeOut < 0 || r.TimeOut > MaxTimeOut {
		errs = append(errs, fmt.Errorf("time out %ds not in 1..%d", r.TimeOut, MaxTimeOut))
	}
	return errors.Join(errs...)
}

// Placed is Exotel's answer to an accepted connect.
type Placed struct {
	// Sid is Exotel's CallSid.
	Sid string
	// Status is ours (actors.Call*): an accepted connect answers Exotel's
	// "in-progress" before anyone picked up, which is CallRinging here
	// (the engine's in-progress means answered, as the answered callback
	// reports it); "queued" stays CallQueued, a terminal status stays
	// itself, and a status Exotel does not document is CallQueued.
	Status string
	// ExotelStatus is the Status as Exotel answered it.
	ExotelStatus string
}

// Connect places the call: one POST of the form Exotel's "connect two
// numbers" takes to {BaseURL}/v1/Accounts/{sid}/Calls/connect.json, with
// HTTP basic auth. It never retries; net/http replays the request only
// when nothing of it was written.
//
// Errors (pass them to Classify): an invalid request wraps ErrInvalid
// (nothing sent); a non-2xx answer is an *APIError; no answer wraps
// ErrNotSent when the request never left (Exotel placed nothing) or
// ErrNoAnswer when it did (Exotel may have placed the call); a 2xx answer
// without a Call.Sid wraps ErrNoSid. Error texts name the call id, never
// the numbers or the callback URL.
func (c *Client) Connect(ctx context.Context, req ConnectRequest) (Placed, error) {
	if err := req.validate(); err != nil {
		return Placed{}, fmt.Errorf("connect call %s: %w: %w", req.CallID, ErrInvalid, err)
	}
	form := c.connectForm(req)
	raw, status, err := c.do(ctx, http.MethodPost, c.base+"/Calls/connect.json", strings.NewReader(form.Encode()))
	if err != nil {
		return Placed{}, fmt.Errorf("connect call %s: %w", req.CallID, err)
	}
	var ans struct {
		Call *wireCall `json:"Call"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return Placed{}, fmt.Errorf("connect call %s: http %d: %w: decode body: %w", req.CallID, status, ErrNoSid, err)
	}
	if ans.Call == nil || ans.Call.Sid == "" {
		return Placed{}, fmt.Errorf("connect call %s: http %d: %w", req.CallID, status, ErrNoSid)
	}
	p := Placed{Sid: ans.Call.Sid, ExotelStatus: ans.Call.Status, Status: actors.CallQueued}
	switch st, _ := mapStatus(ans.Call.Status); {
	case st == actors.CallInProgress || st == actors.CallRinging:
		p.Status = actors.CallRinging
	case st != "":
		p.Status = st
	}
	return p, nil
}

// connectForm is the form of a connect request.
func (c *Client) connectForm(req ConnectRequest) url.Values {
	callerID := req.CallerID
	if callerID == "" {
		callerID = c.callerID
	}
	f := url.Values{
		"From":        {req.From},
		"To":          {req.To},
		"CallerId":    {callerID},
		"CallType":    {"trans"},
		"Record":      {strconv.FormatBool(req.Record)},
		"CustomField": {req.CallID},
	}
	if req.TimeLimit > 0 {
		f.Set("TimeLimit", strconv.Itoa(req.TimeLimit))
	}
	if req.TimeOut > 0 {
		f.Set("TimeOut", strconv.Itoa(req.TimeOut))
	}
	if c.callback != "" {
		f.Set("StatusCallback", c.callback)
		f.Set("StatusCallbackEvents[0]", "terminal")
		f.Set("StatusCallbackEvents[1]", "answered")
		f.Set("StatusCallbackContentType", "application/json")
	}
	return f
}

// do sends one request and returns a 2xx answer's body. A non-2xx answer
// is an *APIError; no answer wraps ErrNotSent or ErrNoAnswer.
func (c *Client) do(ctx context.Context, method, endpoint string, body io.Reader) ([]byte, int, error) {
	// wrote records that the request left in full at least once: from
	// then on a failure may come after Exotel acted on it.
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			wrote.Store(true)
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, endpoint, body)
	if err != nil {
		return nil, 0, fmt.Errorf("build request: %w: %w", ErrNotSent, err)
	}
	req.SetBasicAuth(c.key, c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.httpc.Do(req)
	if err != nil {
		if wrote.Load() {
			return nil, 0, fmt.Errorf("%w: %w", ErrNoAnswer, unwrapURLError(err))
		}
		return nil, 0, fmt.Errorf("%w: %w", ErrNotSent, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, resp.StatusCode, decodeAPIError(resp.StatusCode, resp.Header.Get("Retry-After"), raw)
	}
	if readErr != nil {
		return nil, resp.StatusCode, fmt.Errorf("http %d: %w: read body: %w", resp.StatusCode, ErrNoAnswer, readErr)
	}
	return raw, resp.StatusCode, nil
}

// mapStatus maps Exotel's call status to ours; ok is false for a status
// Exotel does not document (queued, ringing, in-progress, completed,
// failed, busy, no-answer, canceled).
func mapStatus(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "cancelled":
		return actors.CallCanceled, true
	case "no_answer", "noanswer":
		return actors.CallNoAnswer, true
	}
	for _, known := range actors.CallStatuses {
		if s == known {
			return s, true
		}
	}
	return "", false
}

// parseTime reads Exotel's "YYYY-MM-DD HH:mm:ss" in loc; empty is zero.
func (c *Client) parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(time.DateTime, s, c.loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is not YYYY-MM-DD HH:mm:ss", s)
	}
	return t.UTC(), nil
}

// formatTime writes t as Exotel's "YYYY-MM-DD HH:mm:ss" in loc.
func (c *Client) formatTime(t time.Time) string { return t.In(c.loc).Format(time.DateTime) }
