package exotel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/outbound/exotel"
	sandbox "github.com/wacc/engine/gateway/sandbox/exotel"
)

// TestClassifyAgainstTheSandbox drives every answer the sandbox gives a
// connect and checks the decision and whether a call was placed.
func TestClassifyAgainstTheSandbox(t *testing.T) {
	cases := []struct {
		name    string
		sandbox func(*sandbox.Options)
		fault   sandbox.Fault
		client  func(*exotel.Options, *env)
		to      string
		status  int
		code    string
		action  exotel.Action
		auth    bool
		placed  int
		reason  string
	}{
		{name: "bad number 400", to: "+91abc", status: 400, code: sandbox.CodeInvalidParameter, action: exotel.Fail,
			reason: "http 400 INVALID_PARAMETER"},
		{name: "wrong token 401", client: func(o *exotel.Options, _ *env) { o.APIToken = "nope" }, to: custOK, status: 401,
			code: sandbox.CodeUnauthorized, action: exotel.Fail, auth: true},
		{name: "wrong account 401", client: func(o *exotel.Options, _ *env) { o.AccountSID = "other" }, to: custOK, status: 401,
			code: sandbox.CodeInvalidAccountSID, action: exotel.Fail, auth: true},
		{name: "caller id not ours 403", client: func(o *exotel.Options, _ *env) { o.CallerID = "08047999999" }, to: custOK,
			status: 403, code: sandbox.CodeForbidden, action: exotel.Fail, auth: true},
		{name: "wrong path 404", client: func(o *exotel.Options, e *env) { o.BaseURL = e.url + "/nothing" }, to: custOK,
			status: 404, code: "NOT_FOUND", action: exotel.Fail},
		{name: "rate limit 429", fault: sandbox.FaultRateLimit, to: custOK, status: 429, code: sandbox.CodeTooManyRequests,
			action: exotel.Retry},
		{name: "unavailable 503", fault: sandbox.FaultUnavailable, to: custOK, status: 503, code: "SERVICE_UNAVAILABLE",
			action: exotel.Retry},
		{name: "server error 500", fault: sandbox.FaultServerError, to: custOK, status: 500, code: sandbox.CodeInternal,
			action: exotel.Unknown},
		{name: "timeout fault, nothing placed but unknown to us", fault: sandbox.FaultTimeout,
			client: func(o *exotel.Options, _ *env) { o.Timeout = 200 * time.Millisecond }, to: custOK, action: exotel.Unknown,
			reason: "timeout after sending"},
		{name: "0009: placed, answer never comes", client: func(o *exotel.Options, _ *env) { o.Timeout = 200 * time.Millisecond },
			to: custTimeout, action: exotel.Unknown, placed: 1, reason: "timeout after sending"},
		{name: "connection dropped after sending", fault: sandbox.FaultTimeout,
			sandbox: func(o *sandbox.Options) { o.TimeoutHold = 50 * time.Millisecond }, to: custOK, action: exotel.Unknown,
			reason: "connection lost after sending"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.sandbox)
			c := e.client(t, func(o *exotel.Options) {
				if tc.client != nil {
					tc.client(o, e)
				}
			})
			if tc.fault != "" {
				e.sb.ArmFault(tc.fault, 1)
			}
			placed, err := c.Connect(context.Background(), request("call-x", tc.to))
			require.Error(t, err)
			assert.Empty(t, placed.Sid)
			d := exotel.Classify(err)
			assert.Equal(t, tc.action, d.Action, "decision for %v", err)
			assert.Equal(t, tc.auth, d.Auth)
			assert.Equal(t, tc.status, d.HTTPStatus)
			assert.Equal(t, tc.code, d.Code)
			if tc.reason != "" {
				assert.Equal(t, tc.reason, d.Reason)
			}
			if tc.status == 429 {
				assert.GreaterOrEqual(t, d.Delay, 2*time.Second)
			}
			if tc.status == 0 {
				assert.ErrorIs(t, err, exotel.ErrNoAnswer, "the request left: the call may be placed")
			}
			assert.Len(t, e.sb.Calls(), tc.placed, "calls placed")
		})
	}
}

func TestClassifyConnectionRefusedIsNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := exotel.NewClient(exotel.Options{BaseURL: "http://" + addr, AccountSID: testSID, APIKey: testKey, APIToken: testToken,
		CallerID: exoPhone})
	require.NoError(t, err)
	_, err = c.Connect(context.Background(), request("call-r", custOK))
	require.ErrorIs(t, err, exotel.ErrNotSent)
	d := exotel.Classify(err)
	assert.Equal(t, exotel.Retry, d.Action)
	assert.Equal(t, "not sent", d.Reason)
}

// TestClassifyGatewayErrors puts a real reverse proxy before a dead
// upstream: it answers 502 after our request reached it, so the outcome is
// unknown.
func TestClassifyGatewayErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead, _ := url.Parse("http://" + ln.Addr().String())
	require.NoError(t, ln.Close())
	rp := httputil.NewSingleHostReverseProxy(dead)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	proxy := httptest.NewServer(rp)
	t.Cleanup(proxy.Close)
	c, err := exotel.NewClient(exotel.Options{BaseURL: proxy.URL, AccountSID: testSID, APIKey: testKey, APIToken: testToken,
		CallerID: exoPhone})
	require.NoError(t, err)
	_, err = c.Connect(context.Background(), request("call-g", custOK))
	d := exotel.Classify(err)
	assert.Equal(t, http.StatusBadGateway, d.HTTPStatus)
	assert.Equal(t, exotel.Unknown, d.Action)
	assert.Equal(t, "http 502", d.Reason, "a body that is not Exotel's gives the status alone")
}

func TestClassifyTable(t *testing.T) {
	api := func(status int, retryAfter time.Duration) error {
		return fmt.Errorf("connect call c: %w", &exotel.APIError{HTTPStatus: status, RetryAfter: retryAfter})
	}
	cases := []struct {
		err    error
		action exotel.Action
		auth   bool
		delay  time.Duration
	}{
		{err: api(400, 0), action: exotel.Fail},
		{err: api(404, 0), action: exotel.Fail},
		{err: api(422, 0), action: exotel.Fail},
		{err: api(401, 0), action: exotel.Fail, auth: true},
		{err: api(403, 0), action: exotel.Fail, auth: true},
		{err: api(408, 0), action: exotel.Retry},
		{err: api(429, 0), action: exotel.Retry, delay: 2 * time.Second},
		{err: api(429, 30*time.Second), action: exotel.Retry, delay: 30 * time.Second},
		{err: api(503, 0), action: exotel.Retry, delay: time.Second},
		{err: api(500, 0), action: exotel.Unknown},
		{err: api(502, 0), action: exotel.Unknown},
		{err: api(504, 0), action: exotel.Unknown},
		{err: fmt.Errorf("x: %w", exotel.ErrNoSid), action: exotel.Unknown},
		{err: fmt.Errorf("x: %w", exotel.ErrNotSent), action: exotel.Retry},
		{err: fmt.Errorf("x: %w: %w", exotel.ErrNoAnswer, errors.New("EOF")), action: exotel.Unknown},
		{err: context.DeadlineExceeded, action: exotel.Unknown},
		{err: context.Canceled, action: exotel.Unknown},
		{err: errors.New("something else"), action: exotel.Unknown},
	}
	for _, tc := range cases {
		d := exotel.Classify(tc.err)
		assert.Equal(t, tc.action, d.Action, "%v", tc.err)
		assert.Equal(t, tc.auth, d.Auth, "%v", tc.err)
		assert.Equal(t, tc.delay, d.Delay, "%v", tc.err)
	}
	assert.Equal(t, exotel.Decision{}, exotel.Classify(nil))
}
