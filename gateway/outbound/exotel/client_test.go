package exotel_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/outbound/exotel"
	sandbox "github.com/wacc/engine/gateway/sandbox/exotel"
)

func TestConnectSendsExotelsFormAndReturnsTheSid(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, nil)

	placed, err := c.Connect(context.Background(), request("call-1", custOK))
	require.NoError(t, err)
	assert.Len(t, placed.Sid, 32)
	assert.Equal(t, "in-progress", placed.ExotelStatus)
	assert.Equal(t, actors.CallRinging, placed.Status, "an accepted connect is under way, not answered")

	got := e.rec.last(t)
	assert.Equal(t, http.MethodPost, got.method)
	assert.Equal(t, "/v1/Accounts/"+testSID+"/Calls/connect.json", got.path)
	assert.Equal(t, "application/x-www-form-urlencoded", got.contentType)
	assert.Equal(t, testKey, got.user)
	assert.Equal(t, testToken, got.pass)
	want := map[string]string{
		"From": agentNum, "To": custOK, "CallerId": exoPhone, "CallType": "trans", "TimeLimit": "3600", "TimeOut": "30",
		"Record": "true", "CustomField": "call-1", "StatusCallback": e.hook + "/api/calls/webhook?secret=s3cret",
		"StatusCallbackEvents[0]": "terminal", "StatusCallbackEvents[1]": "answered",
		"StatusCallbackContentType": "application/json",
	}
	for k, v := range want {
		assert.Equal(t, []string{v}, got.form[k], "form field %s", k)
	}
	assert.Len(t, got.form, len(want), "no other field: %v", got.form)

	calls := e.sb.Calls()
	require.Len(t, calls, 1)
	pc := calls[0]
	assert.Equal(t, placed.Sid, pc.Sid)
	assert.Equal(t, "call-1", pc.CustomField)
	assert.Equal(t, []string{sandbox.EventTerminal, sandbox.EventAnswered}, pc.Events)
	assert.Equal(t, sandbox.ContentTypeJSON, pc.ContentType)
	assert.True(t, pc.Record)
	assert.Equal(t, 3600, pc.TimeLimit)
	assert.Equal(t, 30, pc.TimeOut)
}

func TestConnectOptionalFields(t *testing.T) {
	e := newEnv(t, func(o *sandbox.Options) { o.ExoPhones = []string{exoPhone, "08047000001"} })
	c := e.client(t, func(o *exotel.Options) { o.StatusCallback = "" })
	req := exotel.ConnectRequest{CallID: "call-2", From: agentNum, To: custOK, CallerID: "08047000001"}
	_, err := c.Connect(context.Background(), req)
	require.NoError(t, err)
	got := e.rec.last(t).form
	assert.Equal(t, "false", got.Get("Record"))
	assert.Equal(t, "08047000001", got.Get("CallerId"), "the request's caller id wins")
	for _, k := range []string{"TimeLimit", "TimeOut", "StatusCallback", "StatusCallbackEvents[0]", "StatusCallbackContentType"} {
		assert.NotContains(t, got, k)
	}
}

func TestConnectRefusesWhatExotelWouldBeforeSending(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, nil)
	long := strings.Repeat("x", exotel.MaxCustomField+1)
	for name, req := range map[string]exotel.ConnectRequest{
		"time limit above 4h": {CallID: "c", From: agentNum, To: custOK, TimeLimit: exotel.MaxTimeLimit + 1},
		"negative time out":   {CallID: "c", From: agentNum, To: custOK, TimeOut: -1},
		"call id too long":    {CallID: long, From: agentNum, To: custOK},
		"no call id":          {From: agentNum, To: custOK},
		"no customer":         {CallID: "c", From: agentNum},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Connect(context.Background(), req)
			require.ErrorIs(t, err, exotel.ErrInvalid)
			d := exotel.Classify(err)
			assert.Equal(t, exotel.Fail, d.Action)
			assert.False(t, d.Auth)
		})
	}
	_, err := c.Connect(context.Background(), exotel.ConnectRequest{CallID: strings.Repeat("é", exotel.MaxCustomField), From: agentNum,
		To: custOK, TimeLimit: exotel.MaxTimeLimit})
	require.NoError(t, err, "128 characters (not bytes) and 14400 s are Exotel's limits, allowed")
	assert.Len(t, e.sb.Calls(), 1, "only the valid request reached Exotel")
}

func TestNewClientChecksOptions(t *testing.T) {
	good := exotel.Options{BaseURL: "https://api.in.exotel.com/", AccountSID: "acme", APIKey: "k", APIToken: "t", CallerID: exoPhone,
		StatusCallback: "https://engine.example/api/calls/webhook?secret=x"}
	_, err := exotel.NewClient(good)
	require.NoError(t, err)
	for name, change := range map[string]func(*exotel.Options){
		"no base URL":       func(o *exotel.Options) { o.BaseURL = "" },
		"relative base URL": func(o *exotel.Options) { o.BaseURL = "api.exotel.com" },
		"no sid":            func(o *exotel.Options) { o.AccountSID = "" },
		"sid with slash":    func(o *exotel.Options) { o.AccountSID = "a/b" },
		"no token":          func(o *exotel.Options) { o.APIToken = "" },
		"no caller id":      func(o *exotel.Options) { o.CallerID = "" },
		"bad callback":      func(o *exotel.Options) { o.StatusCallback = "ftp://x/?secret=hidden" },
		"negative timeout":  func(o *exotel.Options) { o.Timeout = -time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			o := good
			change(&o)
			_, err := exotel.NewClient(o)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "hidden", "the callback's secret is never in an error")
		})
	}
}

func TestConnectErrorsCarryExotelsRestException(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, func(o *exotel.Options) { o.APIToken = "wrong" })
	_, err := c.Connect(context.Background(), request("call-3", custOK))
	ae, ok := errors.AsType[*exotel.APIError](err)
	require.True(t, ok, "an *APIError: %v", err)
	assert.Equal(t, http.StatusUnauthorized, ae.HTTPStatus)
	assert.Equal(t, http.StatusUnauthorized, ae.Status)
	assert.Equal(t, sandbox.CodeUnauthorized, ae.Code)
	assert.Contains(t, ae.Message, "Authentication failed")
	assert.Contains(t, err.Error(), "call-3")
	assert.NotContains(t, err.Error(), custOK[3:], "no phone number in the error")
	assert.NotContains(t, err.Error(), "wrong", "no credentials in the error")
}
