package cloudapi

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

// Meta's Cloud API error codes the sandbox answers with. The titles are the
// ones Meta puts into error.message as "(#CODE) Title"; the HTTP status of
// each answer is the one Meta's error-code table lists (see doc.go).
const (
	CodeAPIUnknown         = 1      // API Unknown: invalid request or possible server error (HTTP 400)
	CodeAPIService         = 2      // API Service: temporary downtime or overload (HTTP 503)
	CodeInvalidParameter   = 100    // Invalid parameter (HTTP 400)
	CodeAccessToken        = 190    // Access token has expired / invalid (HTTP 401)
	CodeRateLimit          = 130429 // Rate limit hit, Cloud API throughput (HTTP 400)
	CodeSomethingWrong     = 131000 // Something went wrong (HTTP 500)
	CodeUndeliverable      = 131026 // Message undeliverable (status webhook)
	CodeReEngagement       = 131047 // Re-engagement message, outside the 24h window (status webhook)
	CodeUnsupportedType    = 131051 // Unsupported message type (status webhook)
	CodeMediaUpload        = 131053 // Media upload error: the media id or link could not be used (status webhook)
	CodePairRateLimit      = 131056 // (Business Account, Consumer Account) pair rate limit hit (HTTP 400)
	CodeTemplateParamCount = 132000 // Template Param Count Mismatch (HTTP 400)
	CodeTemplateNotFound   = 132001 // Template does not exist (HTTP 404)
	CodeTemplateFormat     = 132012 // Template Parameter Format Mismatch (HTTP 400)
	CodeTemplatePaused     = 132015 // Template is Paused (HTTP 400)
	CodeTemplateDisabled   = 132016 // Template is Disabled (HTTP 400)
	SubcodeSessionExpired  = 463    // error_subcode of an expired access token
)

// ErrorHref is the documentation link Meta puts into webhook errors[].
const ErrorHref = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

// apiError is one Graph API error answer: the HTTP status and the body's
// error object.
type apiError struct {
	status  int
	code    int
	subcode int // 0: not sent
	title   string
	details string
}

// graphErrorBody is Meta's error envelope:
//
//	{"error":{"message":"(#CODE) Title","type":"OAuthException","code":CODE,
//	  "error_subcode":N,"error_data":{"messaging_product":"whatsapp","details":"..."},
//	  "fbtrace_id":"..."}}
type graphErrorBody struct {
	Error graphError `json:"error"`
}

type graphError struct {
	Message   string         `json:"message"`
	Type      string         `json:"type"`
	Code      int            `json:"code"`
	Subcode   int            `json:"error_subcode,omitempty"`
	ErrorData graphErrorData `json:"error_data"`
	FBTraceID string         `json:"fbtrace_id"`
}

type graphErrorData struct {
	MessagingProduct string `json:"messaging_product"`
	Details          string `json:"details"`
}

func invalidParam(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: CodeInvalidParameter, title: "Invalid parameter", details: fmt.Sprintf(format, args...)}
}

func (e *apiError) body() graphErrorBody {
	return graphErrorBody{Error: graphError{
		Message:   fmt.Sprintf("(#%d) %s", e.code, e.title),
		Type:      "OAuthException",
		Code:      e.code,
		Subcode:   e.subcode,
		ErrorData: graphErrorData{MessagingProduct: "whatsapp", Details: e.details},
		FBTraceID: fbTraceID(),
	}}
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	if e.code == CodeAccessToken {
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+e.title+`"`)
	}
	writeGraph(w, e.status, e.body())
}

// writeGraph writes a Graph API answer, escaped as Graph escapes its JSON
// (ASCII only, "/" as "\/").
func writeGraph(w http.ResponseWriter, status int, v any) {
	b, err := marshalMeta(v)
	if err != nil {
		// Every value written here is a plain struct or map; a failure is a bug.
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeJSON writes a test-control answer in plain UTF-8 JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value written here is a plain struct or map; a failure is a bug.
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// fbTraceID is a random trace id shaped like Meta's (23 URL-safe base64
// characters).
func fbTraceID() string {
	var b [17]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
