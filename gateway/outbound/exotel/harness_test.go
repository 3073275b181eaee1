package exotel_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/gateway/outbound/exotel"
	sandbox "github.com/wacc/engine/gateway/sandbox/exotel"
)

const (
	testSID   = "acme1"
	testKey   = "key-123"
	testToken = "token-456"
	exoPhone  = "08047000000"
	agentNum  = "+919800000001"
	// customer numbers; the last four digits choose the sandbox's outcome.
	custOK      = "+919811110001"
	custBusy    = "+919811110005"
	custTimeout = "+919811110009"
	waitFor     = 5 * time.Second
	tick        = 5 * time.Millisecond
)

// seenRequest is one request the sandbox got, as it arrived.
type seenRequest struct {
	method      string
	path        string
	contentType string
	user, pass  string
	form        url.Values
	query       url.Values
}

// recorder sits in front of the sandbox and keeps what each request
// carried, so tests check the fields as sent (the sandbox checks them
// too, as Exotel does).
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []seenRequest
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	user, pass, _ := r.BasicAuth()
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, seenRequest{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
		user: user, pass: pass, form: form, query: r.URL.Query()})
	rc.mu.Unlock()
	rc.next.ServeHTTP(w, r)
}

func (rc *recorder) last(t *testing.T) seenRequest {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	require.NotEmpty(t, rc.reqs, "the sandbox got a request")
	return rc.reqs[len(rc.reqs)-1]
}

// env is a running sandbox on loopback, a recorder in front of it and a
// callback receiver (answering 200).
type env struct {
	sb   *sandbox.Sandbox
	url  string
	hook string
	rec  *recorder
}

func newEnv(t *testing.T, change func(*sandbox.Options)) *env {
	t.Helper()
	opts := sandbox.Options{Log: zaptest.NewLogger(t), AccountSID: testSID, APIKey: testKey, APIToken: testToken,
		ExoPhones: []string{exoPhone}, RingDelay: 10 * time.Millisecond, TalkDelay: 20 * time.Millisecond,
		TalkSeconds: 42, TimeoutHold: 10 * time.Second, RetryBackoff: 10 * time.Millisecond}
	if change != nil {
		change(&opts)
	}
	sb := sandbox.New(opts)
	rec := &recorder{next: sb.Handler()}
	srv := httptest.NewServer(rec)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		srv.Close()
		hook.Close()
	})
	return &env{sb: sb, url: srv.URL, hook: hook.URL, rec: rec}
}

// options are a client's options for the env; change adjusts them.
func (e *env) options(change func(*exotel.Options)) exotel.Options {
	o := exotel.Options{BaseURL: e.url, AccountSID: testSID, APIKey: testKey, APIToken: testToken, CallerID: exoPhone,
		StatusCallback: e.hook + "/api/calls/webhook?secret=s3cret", Timeout: 2 * time.Second}
	if change != nil {
		change(&o)
	}
	return o
}

func (e *env) client(t *testing.T, change func(*exotel.Options)) *exotel.Client {
	t.Helper()
	c, err := exotel.NewClient(e.options(change))
	require.NoError(t, err)
	return c
}

// request is a valid connect request of call id to the customer to.
func request(id, to string) exotel.ConnectRequest {
	return exotel.ConnectRequest{CallID: id, From: agentNum, To: to, TimeLimit: 3600, TimeOut: 30, Record: true}
}

// waitStatus waits until the sandbox's details endpoint reports status for
// sid (through the client).
func waitStatus(t *testing.T, c *exotel.Client, sid, status string) {
	t.Helper()
	require.Eventually(t, func() bool {
		d, err := c.Details(context.Background(), sid)
		return err == nil && d.Status == status
	}, waitFor, tick, "call %s reaches %s", sid, status)
}
