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
// ones Meta puts into error.message as "(#CODE) Title".
const (
	CodeAPIUnknown        = 1      // API Unknown: invalid request or possible server error
	CodeAPIService        = 2      // API Service: temporary downtime or overload
	CodeInvalidParameter  = 100    // Invalid parameter
	CodeAccessToken       = 190    // Access token has expired / invalid
	CodeRateLimit         = 130429 // Rate limit hit (Cloud API throughput)
	CodeUndeliverable     = 131026 // Message undeliverable
	CodeReEngagement      = 131047 // Re-engagement message (outside the 24h window)
	CodeUnsupportedType   = 131051 // Unsupported message type
	CodePairRateLimit     = 131056 // (Business Account, Consumer Account) pair rate limit hit
	SubcodeSessionExpired = 463    // error_subcode of an expired access token
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
	writeJSON(w, e.status, e.body())
}

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
