package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults NewClient uses for empty ClientOptions fields.
const (
	DefaultBaseURL = "https://graph.facebook.com"
	DefaultVersion = "v21.0"
	DefaultTimeout = 15 * time.Second
	// DefaultMediaTimeout bounds one upload or download of a file with
	// the default HTTP client: a 100 MB document needs more than a message.
	DefaultMediaTimeout = 10 * time.Minute
)

// maxResponseBytes bounds how much of an answer Send reads. Meta's answers
// are a few hundred bytes; anything past this is ignored.
const maxResponseBytes = 1 << 20

// NoCode is APIError.Code and Decision.Code when the error carried no Meta
// error code: an answer without an "error" object (a proxy's 502 page, an
// empty body), or an error that never reached Meta.
const NoCode = -1

var (
	// ErrTransport wraps every failure to get an HTTP answer from the Cloud
	// API: DNS, connect, TLS, a reset connection, the client's timeout, the
	// caller's deadline or cancellation. The request may or may not have
	// reached Meta. Classify answers Retry.
	ErrTransport = errors.New("whatsapp transport error")
	// ErrNoMessageID means the Cloud API answered 2xx but the body held no
	// messages[0].id (or could not be read). Meta accepted the request, so
	// a retry could send the message twice: Classify answers Fail.
	ErrNoMessageID = errors.New("whatsapp response without message id")
)

// ClientOptions configures a Client. Zero fields take the defaults above.
type ClientOptions struct {
	// BaseURL is the Graph API root, e.g. https://graph.facebook.com or
	// the sandbox's URL. A trailing slash is ignored.
	BaseURL string
	// Version is the API version path segment, e.g. "v21.0".
	Version string
	// AccessToken is sent as "Authorization: Bearer <token>".
	AccessToken string
	// HTTPClient sends the requests; nil means a client with a 15 s
	// timeout (10 minutes for media uploads and downloads) that keeps up
	// to IdleConns connections open.
	HTTPClient *http.Client
	// IdleConns is how many idle connections to the Cloud API the default
	// client keeps for reuse (default 256); set it to the senders'
	// concurrency. Go's default keeps 2 per host, so concurrent senders
	// would open (and TLS-handshake) a new connection for most requests.
	IdleConns int
	// MediaHosts are the hosts (with their subdomains) besides BaseURL's
	// that Download sends the token to; nil means DefaultMediaHosts.
	MediaHosts []string
}

// newTransport returns a transport like http.DefaultTransport that keeps up
// to idle connections per host open for reuse.
func newTransport(idle int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = idle
	t.MaxIdleConnsPerHost = idle
	return t
}

// Client sends messages through the WhatsApp Cloud API. It is safe for
// concurrent use. Build it with NewClient.
type Client struct {
	base       string   // BaseURL + "/" + Version, no trailing slash
	baseURL    *url.URL // BaseURL, parsed (zero when it does not parse)
	mediaHosts []string // lower case
	auth       string   // "Bearer " + token
	httpc      *http.Client
	mediac     *http.Client // uploads and downloads of files
}

// NewClient returns a Client for opts.
func NewClient(opts ClientOptions) *Client {
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	version := strings.Trim(opts.Version, "/")
	if version == "" {
		version = DefaultVersion
	}
	httpc, mediac := opts.HTTPClient, opts.HTTPClient
	if httpc == nil {
		idle := opts.IdleConns
		if idle <= 0 {
			idle = 256
		}
		t := newTransport(idle)
		httpc = &http.Client{Timeout: DefaultTimeout, Transport: t}
		mediac = &http.Client{Timeout: DefaultMediaTimeout, Transport: t}
	}
	baseURL, err := url.Parse(base)
	if err != nil {
		baseURL = &url.URL{}
	}
	hosts := opts.MediaHosts
	if hosts == nil {
		hosts = DefaultMediaHosts
	}
	lower := make([]string, len(hosts))
	for i, h := range hosts {
		lower[i] = strings.ToLower(strings.TrimPrefix(h, "."))
	}
	return &Client{base: base + "/" + version, baseURL: baseURL, mediaHosts: lower, auth: "Bearer " + opts.AccessToken, httpc: httpc, mediac: mediac}
}

// Send POSTs body, a Cloud API message request as is, to
// {BaseURL}/{Version}/{phoneNumberID}/messages and returns the WhatsApp
// message id (wamid) Meta assigned. It makes one request and never retries.
//
// Errors: a non-2xx answer is an *APIError; no answer at all wraps
// ErrTransport; a 2xx answer without messages[0].id wraps ErrNoMessageID.
// Pass any of them to Classify. Error texts name the business number but
// never carry the request body.
func (c *Client) Send(ctx context.Context, phoneNumberID string, body json.RawMessage) (string, error) {
	if phoneNumberID == "" {
		return "", errors.New("send message: empty phone number id")
	}
	endpoint := c.base + "/" + url.PathEscape(phoneNumberID) + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("send message from %s: build request: %w", phoneNumberID, err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	resp, err := c.httpc.Do(req)
	if err != nil {
		// Drop url.Error's "Post <url>:" prefix: the error already names
		// the number, and the chain stays intact for errors.Is.
		return "", fmt.Errorf("send message from %s: %w: %w", phoneNumberID, ErrTransport, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))

	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		if readErr != nil {
			return "", fmt.Errorf("send message from %s: http %d: %w: read body: %w", phoneNumberID, resp.StatusCode, ErrNoMessageID, readErr)
		}
		id, err := messageID(raw)
		if err != nil {
			return "", fmt.Errorf("send message from %s: http %d: %w", phoneNumberID, resp.StatusCode, err)
		}
		return id, nil
	}
	if readErr != nil {
		return "", fmt.Errorf("send message from %s: http %d: %w: read body: %w", phoneNumberID, resp.StatusCode, ErrTransport, readErr)
	}
	return "", fmt.Errorf("send message from %s: %w", phoneNumberID, decodeAPIError(resp.StatusCode, raw))
}

// unwrapURLError drops *url.Error's "Post <url>:" prefix but keeps what it
// wraps, so errors.Is still finds context.DeadlineExceeded and net.Error
// still reports Timeout.
func unwrapURLError(err error) error {
	ue, ok := errors.AsType[*url.Error](err)
	if !ok {
		return err
	}
	if ue.Timeout() {
		return &timeoutError{err: ue.Err}
	}
	return ue.Err
}

// timeoutError marks a transport error that was a timeout, whatever the
// underlying type (http.Client's timeout is an unexported type).
type timeoutError struct{ err error }

func (e *timeoutError) Error() string { return "timeout: " + e.err.Error() }
func (e *timeoutError) Unwrap() error { return e.err }
func (e *timeoutError) Timeout() bool { return true }

// messageID returns messages[0].id of a success answer.
func messageID(raw []byte) (string, error) {
	var ok struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(raw, &ok); err != nil {
		return "", fmt.Errorf("%w: decode body: %w", ErrNoMessageID, err)
	}
	if len(ok.Messages) == 0 || ok.Messages[0].ID == "" {
		return "", ErrNoMessageID
	}
	return ok.Messages[0].ID, nil
}

// APIError is a non-2xx answer of the Cloud API, decoded from Meta's error
// object:
//
//	{"error":{"message":"...","type":"OAuthException","code":131047,
//	  "error_subcode":2494010,"error_user_title":"...","error_user_msg":"...",
//	  "error_data":{"messaging_product":"whatsapp","details":"..."},
//	  "fbtrace_id":"..."}}
//
// Fields Meta did not send are zero, except Code, which is NoCode.
type APIError struct {
	HTTPStatus int
	// Code is Meta's error code (error.code), the one Classify decides on.
	Code    int
	Subcode int
	// Type is error.type, e.g. "OAuthException".
	Type string
	// Title is error.error_user_title when sent.
	Title string
	// Message is error.message (or error.error_user_msg when message is
	// empty).
	Message string
	// Details is error.error_data.details.
	Details   string
	FBTraceID string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("whatsapp api: http ")
	b.WriteString(strconv.Itoa(e.HTTPStatus))
	if e.Code == NoCode {
		b.WriteString(": no error code")
	} else {
		b.WriteString(": code ")
		b.WriteString(strconv.Itoa(e.Code))
	}
	if e.Subcode != 0 {
		b.WriteString(" subcode ")
		b.WriteString(strconv.Itoa(e.Subcode))
	}
	if e.Type != "" {
		b.WriteString(" (" + e.Type + ")")
	}
	if e.Title != "" {
		b.WriteString(": " + e.Title)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Details != "" {
		b.WriteString(": " + e.Details)
	}
	if e.FBTraceID != "" {
		b.WriteString(" (fbtrace_id " + e.FBTraceID + ")")
	}
	return b.String()
}

// decodeAPIError turns a non-2xx answer into an *APIError. It never fails:
// a body that is not Meta's error object gives Code NoCode.
func decodeAPIError(status int, raw []byte) *APIError {
	e := &APIError{HTTPStatus: status, Code: NoCode}
	var env struct {
		Error *struct {
			Message     string          `json:"message"`
			Type        string          `json:"type"`
			Code        flexInt         `json:"code"`
			Subcode     flexInt         `json:"error_subcode"`
			UserTitle   string          `json:"error_user_title"`
			UserMessage string          `json:"error_user_msg"`
			ErrorData   json.RawMessage `json:"error_data"`
			FBTraceID   string          `json:"fbtrace_id"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Error == nil {
		return e
	}
	m := env.Error
	if m.Code.set {
		e.Code = m.Code.n
	}
	e.Subcode = m.Subcode.n
	e.Type = m.Type
	e.Title = m.UserTitle
	e.Message = m.Message
	if e.Message == "" {
		e.Message = m.UserMessage
	}
	e.Details = errorDetails(m.ErrorData)
	e.FBTraceID = m.FBTraceID
	return e
}

// errorDetails reads error_data.details. Graph sometimes sends error_data as
// a JSON-encoded string instead of an object; both are accepted.
func errorDetails(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	var data struct {
		Details string `json:"details"`
	}
	if json.Unmarshal(raw, &data) != nil {
		return ""
	}
	return data.Details
}

// flexInt decodes a JSON number or a string holding one; anything else
// leaves it unset.
type flexInt struct {
	n   int
	set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil // tolerated: the field stays unset
	}
	f.n, f.set = n, true
	return nil
}
