package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordedRequest is what the fake Cloud API saw.
type recordedRequest struct {
	Method        string
	Path          string
	Authorization string
	ContentType   string
	Body          []byte
}

// fakeCloudAPI is an httptest server that records every request and answers
// with the status and body set for the next request.
type fakeCloudAPI struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []recordedRequest
	status   int
	body     string
	// hold, when set, makes the handler block until the request ends.
	hold bool
}

func newFakeCloudAPI(t *testing.T) *fakeCloudAPI {
	t.Helper()
	f := &fakeCloudAPI{status: http.StatusOK, body: `{"messaging_product":"whatsapp","contacts":[{"input":"15551234567","wa_id":"15551234567"}],"messages":[{"id":"wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI2"}]}`}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, recordedRequest{
			Method:        r.Method,
			Path:          r.URL.EscapedPath(),
			Authorization: r.Header.Get("Authorization"),
			ContentType:   r.Header.Get("Content-Type"),
			Body:          body,
		})
		status, answer, hold := f.status, f.body, f.hold
		f.mu.Unlock()
		if hold {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCloudAPI) answer(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body = status, body
}

func (f *fakeCloudAPI) holdRequests() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = true
}

func (f *fakeCloudAPI) recorded() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.requests...)
}

func (f *fakeCloudAPI) client(opts ClientOptions) *Client {
	opts.BaseURL = f.srv.URL
	if opts.AccessToken == "" {
		opts.AccessToken = "test-token"
	}
	return NewClient(opts)
}

const textBody = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"15551234567","type":"text","text":{"body":"hello there, order 42"}}`

func TestClientSendSuccess(t *testing.T) {
	f := newFakeCloudAPI(t)
	c := f.client(ClientOptions{BaseURL: f.srv.URL + "/", Version: "v21.0", AccessToken: "EAAG-secret"})

	wamid, err := c.Send(t.Context(), "106540352242922", json.RawMessage(textBody))
	require.NoError(t, err)
	assert.Equal(t, "wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI2", wamid)

	reqs := f.recorded()
	require.Len(t, reqs, 1, "one Send is one request")
	assert.Equal(t, http.MethodPost, reqs[0].Method)
	assert.Equal(t, "/v21.0/106540352242922/messages", reqs[0].Path)
	assert.Equal(t, "Bearer EAAG-secret", reqs[0].Authorization)
	assert.Equal(t, "application/json", reqs[0].ContentType)
	assert.Equal(t, textBody, string(reqs[0].Body), "the body is passed through byte for byte")
}

func TestClientDefaults(t *testing.T) {
	c := NewClient(ClientOptions{AccessToken: "x"})
	assert.Equal(t, "https://graph.facebook.com/v21.0", c.base)
	require.NotNil(t, c.httpc)
	assert.Equal(t, 15*time.Second, c.httpc.Timeout)

	own := &http.Client{Timeout: time.Second}
	c = NewClient(ClientOptions{BaseURL: "http://sandbox:8090//", Version: "/v19.0/", HTTPClient: own})
	assert.Equal(t, "http://sandbox:8090/v19.0", c.base)
	assert.Same(t, own, c.httpc)
}

func TestClientSendEscapesPhoneNumberID(t *testing.T) {
	f := newFakeCloudAPI(t)
	_, err := f.client(ClientOptions{}).Send(t.Context(), "12/../34", json.RawMessage(textBody))
	require.NoError(t, err)
	reqs := f.recorded()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v21.0/12%2F..%2F34/messages", reqs[0].Path, "the id stays one path segment")
}

func TestClientSendRejectsEmptyPhoneNumberID(t *testing.T) {
	f := newFakeCloudAPI(t)
	_, err := f.client(ClientOptions{}).Send(t.Context(), "", json.RawMessage(textBody))
	require.Error(t, err)
	assert.Empty(t, f.recorded(), "nothing is sent")
	assert.Equal(t, Fail, Classify(err).Action)
}

func TestClientSendSuccessWithoutMessageID(t *testing.T) {
	cases := []struct {
		name string
		body string
	}{
		{name: "no messages", body: `{"messaging_product":"whatsapp","contacts":[]}`},
		{name: "empty messages", body: `{"messages":[]}`},
		{name: "empty id", body: `{"messages":[{"id":""}]}`},
		{name: "not json", body: `<html>ok</html>`},
		{name: "empty body", body: ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCloudAPI(t)
			f.answer(http.StatusOK, tc.body)
			wamid, err := f.client(ClientOptions{}).Send(t.Context(), "106540352242922", json.RawMessage(textBody))
			require.ErrorIs(t, err, ErrNoMessageID)
			assert.Empty(t, wamid)
			assert.Equal(t, Fail, Classify(err).Action, "Meta accepted it: a retry could send twice")
		})
	}
}

func TestClientSendAPIErrors(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		want       APIError
		wantAction Action
	}{
		{
			name:   "full meta error object",
			status: http.StatusBadRequest,
			body: `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,
				"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
				"error_subcode":2494010,"error_user_title":"Re-engagement","fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}`,
			want: APIError{
				HTTPStatus: 400, Code: 131047, Subcode: 2494010, Type: "OAuthException",
				Title: "Re-engagement", Message: "(#131047) Re-engagement message",
				Details:   "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
				FBTraceID: "Az8or2yhqkZfEZ-_4Qn_Bam",
			},
			wantAction: Fail,
		},
		{
			name:       "expired token on 401",
			status:     http.StatusUnauthorized,
			body:       `{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}`,
			want:       APIError{HTTPStatus: 401, Code: 190, Subcode: 463, Type: "OAuthException", Message: "Error validating access token: Session has expired", FBTraceID: "AbC"},
			wantAction: PauseNumber,
		},
		{
			name:       "code 0 is a real code",
			status:     http.StatusUnauthorized,
			body:       `{"error":{"message":"(#0) Invalid OAuth access token","type":"OAuthException","code":0}}`,
			want:       APIError{HTTPStatus: 401, Code: 0, Type: "OAuthException", Message: "(#0) Invalid OAuth access token"},
			wantAction: PauseNumber,
		},
		{
			name:       "throughput on 429",
			status:     http.StatusTooManyRequests,
			body:       `{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},"fbtrace_id":"T1"}}`,
			want:       APIError{HTTPStatus: 429, Code: 130429, Type: "OAuthException", Message: "(#130429) Rate limit hit", Details: "Cloud API message throughput has been reached.", FBTraceID: "T1"},
			wantAction: Retry,
		},
		{
			name:       "error_data as a json string and code as a string",
			status:     http.StatusBadRequest,
			body:       `{"error":{"message":"Invalid parameter","code":"100","error_subcode":"33","error_data":"{\"details\":\"Parameter to is missing\"}"}}`,
			want:       APIError{HTTPStatus: 400, Code: 100, Subcode: 33, Message: "Invalid parameter", Details: "Parameter to is missing"},
			wantAction: Fail,
		},
		{
			name:       "user message only",
			status:     http.StatusBadRequest,
			body:       `{"error":{"code":132001,"error_user_msg":"Template name does not exist in the translation"}}`,
			want:       APIError{HTTPStatus: 400, Code: 132001, Message: "Template name does not exist in the translation"},
			wantAction: Fail,
		},
		{
			name:       "5xx with meta code",
			status:     http.StatusServiceUnavailable,
			body:       `{"error":{"message":"Service temporarily unavailable","code":131016}}`,
			want:       APIError{HTTPStatus: 503, Code: 131016, Message: "Service temporarily unavailable"},
			wantAction: Retry,
		},
		{
			name:       "5xx html from a proxy",
			status:     http.StatusBadGateway,
			body:       `<html><body>502 Bad Gateway</body></html>`,
			want:       APIError{HTTPStatus: 502, Code: NoCode},
			wantAction: Retry,
		},
		{
			name:       "500 empty body",
			status:     http.StatusInternalServerError,
			body:       ``,
			want:       APIError{HTTPStatus: 500, Code: NoCode},
			wantAction: Retry,
		},
		{
			name:       "error object without code",
			status:     http.StatusBadRequest,
			body:       `{"error":{"message":"something odd"}}`,
			want:       APIError{HTTPStatus: 400, Code: NoCode, Message: "something odd"},
			wantAction: Fail,
		},
		{
			name:       "404 without error object",
			status:     http.StatusNotFound,
			body:       `{"unexpected":true}`,
			want:       APIError{HTTPStatus: 404, Code: NoCode},
			wantAction: Fail,
		},
		{
			name:       "unknown code",
			status:     http.StatusBadRequest,
			body:       `{"error":{"message":"new thing","code":999001}}`,
			want:       APIError{HTTPStatus: 400, Code: 999001, Message: "new thing"},
			wantAction: Fail,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCloudAPI(t)
			f.answer(tc.status, tc.body)
			wamid, err := f.client(ClientOptions{}).Send(t.Context(), "106540352242922", json.RawMessage(textBody))
			require.Error(t, err)
			assert.Empty(t, wamid)
			ae, ok := errors.AsType[*APIError](err)
			require.True(t, ok, "want *APIError, got %T: %v", err, err)
			assert.Equal(t, tc.want, *ae)
			assert.Equal(t, tc.wantAction, Classify(err).Action)
			assert.Contains(t, err.Error(), "106540352242922", "the error names the business number")
			assert.NotContains(t, err.Error(), "hello there", "never the request body")
			assert.NotContains(t, err.Error(), "15551234567", "never the recipient's number")
		})
	}
}

func TestClientSendTimeoutIsRetryable(t *testing.T) {
	t.Run("http client timeout", func(t *testing.T) {
		f := newFakeCloudAPI(t)
		f.holdRequests()
		c := f.client(ClientOptions{HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
		start := time.Now()
		_, err := c.Send(t.Context(), "106540352242922", json.RawMessage(textBody))
		require.ErrorIs(t, err, ErrTransport)
		assert.Less(t, time.Since(start), 5*time.Second)
		d := Classify(err)
		assert.Equal(t, Retry, d.Action)
		assert.Equal(t, "timeout", d.Reason)
		assert.Equal(t, NoCode, d.Code)
		assert.NotContains(t, err.Error(), "hello there")
	})
	t.Run("caller deadline", func(t *testing.T) {
		f := newFakeCloudAPI(t)
		f.holdRequests()
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := f.client(ClientOptions{}).Send(ctx, "106540352242922", json.RawMessage(textBody))
		require.ErrorIs(t, err, ErrTransport)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, Retry, Classify(err).Action)
		assert.Equal(t, "timeout", Classify(err).Reason)
	})
	t.Run("caller cancel", func(t *testing.T) {
		f := newFakeCloudAPI(t)
		f.holdRequests()
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			// assert, not require: this is not the test's goroutine.
			assert.Eventually(t, func() bool { return len(f.recorded()) == 1 }, 5*time.Second, time.Millisecond)
			cancel()
		}()
		_, err := f.client(ClientOptions{}).Send(ctx, "106540352242922", json.RawMessage(textBody))
		require.ErrorIs(t, err, ErrTransport)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, Retry, Classify(err).Action)
	})
}

func TestClientSendConnectionRefusedIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more

	c := NewClient(ClientOptions{BaseURL: url, AccessToken: "x"})
	_, err := c.Send(t.Context(), "106540352242922", json.RawMessage(textBody))
	require.ErrorIs(t, err, ErrTransport)
	d := Classify(err)
	assert.Equal(t, Retry, d.Action)
	assert.Equal(t, "transport error", d.Reason)
}
