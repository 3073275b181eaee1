package exotel

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var exoTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)

func testConnectAnswersExotelsCallObject(t *testing.T) {
	h := newHarness(t, nil)
	c := h.placeOK(h.form("+919812340001"))
	assert.Regexp(t, `^[0-9a-f]{32}$`, c["Sid"])
	assert.Equal(t, "in-progress", c["Status"])
	assert.Equal(t, testSID, c["AccountSid"])
	assert.Equal(t, "+919812340001", c["To"])
	assert.Equal(t, agent, c["From"])
	assert.Equal(t, testPhone, c["PhoneNumberSid"])
	assert.Equal(t, "outbound-api", c["Direction"])
	assert.Equal(t, "/v1/Accounts/"+testSID+"/Calls/"+c["Sid"].(string)+".json", c["Uri"])
	assert.Regexp(t, exoTimeRE, c["DateCreated"])
	assert.Regexp(t, exoTimeRE, c["StartTime"])
	for _, k := range []string{"ParentCallSid", "EndTime", "Duration", "Price", "AnsweredBy", "ForwardedFrom", "CallerName", "RecordingUrl"} {
		v, present := c[k]
		assert.True(t, present, "%s is in the answer", k)
		assert.Nil(t, v, "%s is null while the call is in progress", k)
	}
	calls := h.sb.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, c["Sid"], calls[0].Sid)
	assert.Equal(t, "call-+919812340001", calls[0].CustomField)
	assert.Equal(t, []string{"terminal", "answered"}, calls[0].Events)
	assert.Equal(t, 3600, calls[0].TimeLimit)
	assert.True(t, calls[0].Record)
}

func testOutcomesBySuffix(t *testing.T) {
	cases := []struct {
		name        string
		to          string
		final       string
		answered    bool // an answered callback comes first
		talkSeconds int  // the terminal callback's ConversationDuration
		leg2        string
	}{
		{name: "completed with a talk duration", to: "+919812341234", final: "completed", answered: true, talkSeconds: 42, leg2: "completed"},
		{name: "0005 busy", to: "+919812340005", final: "busy", leg2: "busy"},
		{name: "0006 no-answer", to: "09812340006", final: "no-answer", leg2: "no-answer"},
		{name: "0007 failed", to: "9812340007", final: "failed", leg2: "failed"},
	}
	h := newHarness(t, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sid := h.placeOK(h.form(tc.to))["Sid"].(string)
			want := 1
			if tc.answered {
				want = 2
			}
			require.Eventually(t, func() bool { return len(h.rc.forCall(sid)) == want }, waitFor, tick)
			got := h.rc.forCall(sid)
			if tc.answered {
				a := got[0].fields
				assert.Equal(t, "answered", a["EventType"])
				assert.Equal(t, "in-progress", a["Status"])
				assert.Equal(t, "in-progress", a["Legs[1][Status]"])
			}
			term := got[len(got)-1]
			assert.Equal(t, ContentTypeJSON, term.mediaType)
			f := term.fields
			assert.Equal(t, "terminal", f["EventType"])
			assert.Equal(t, tc.final, f["Status"])
			assert.Equal(t, "call-"+tc.to, f["CustomField"])
			assert.Equal(t, tc.to, f["To"])
			assert.Equal(t, agent, f["From"])
			assert.Equal(t, testPhone, f["PhoneNumberSid"])
			assert.Equal(t, "outbound-api", f["Direction"])
			assert.Regexp(t, exoTimeRE, f["DateUpdated"])
			assert.Regexp(t, exoTimeRE, f["EndTime"])
			assert.Equal(t, float64(tc.talkSeconds), term.json["ConversationDuration"], "ConversationDuration is a JSON number")
			assert.Equal(t, tc.leg2, f["Legs[1][Status]"])
			if tc.answered {
				assert.Contains(t, f["RecordingUrl"], sid, "a recorded call has its recording")
			} else {
				assert.Empty(t, f["RecordingUrl"])
			}

			d := h.details(sid, true)
			assert.Equal(t, tc.final, d["Status"])
			assert.NotNil(t, d["EndTime"])
			det := d["Details"].(map[string]any)
			assert.Equal(t, float64(tc.talkSeconds), det["ConversationDuration"])
			assert.Equal(t, tc.leg2, det["Leg2Status"])
		})
	}
}

func testTerminalCallbackNeverComesButDetailsSettle(t *testing.T) {
	h := newHarness(t, nil)
	sid := h.placeOK(h.form("+919812340008"))["Sid"].(string)
	require.Eventually(t, func() bool { return h.details(sid, false)["Status"] == "completed" }, waitFor, tick,
		"the details endpoint answers the final state once the call would have ended")
	// The call's goroutine has ended: nothing more will be posted.
	require.Eventually(t, func() bool { return h.sb.LiveCalls() == 0 }, waitFor, tick)
	got := h.rc.forCall(sid)
	require.Len(t, got, 1, "only the answered callback came")
	assert.Equal(t, "answered", got[0].fields["EventType"])
	d := h.details(sid, true)
	assert.Equal(t, "43", d["Duration"], "the duration is the ring (1 s) and the talk (42 s)")
	assert.Equal(t, float64(42), d["Details"].(map[string]any)["ConversationDuration"])
}

func testConnectTimeoutStillPlacesTheCall(t *testing.T) {
	h := newHarness(t, nil)
	form := h.form("+919812340009")
	client := &http.Client{Timeout: 300 * time.Millisecond}
	for attempt := 1; attempt <= 2; attempt++ {
		_, _, err := h.do(client, http.MethodPost, "/v1/Accounts/"+testSID+"/Calls/connect.json", form)
		require.Error(t, err, "attempt %d times out", attempt)
		require.Eventually(t, func() bool { return len(h.sb.CallsTo("09812340009")) == attempt }, waitFor, tick,
			"each attempt placed a call although none was answered")
	}
	calls := h.sb.CallsTo("+919812340009")
	assert.NotEqual(t, calls[0].Sid, calls[1].Sid)
	for _, c := range calls {
		assert.Equal(t, OutcomeConnectTimeout, c.Outcome)
		require.Eventually(t, func() bool { return len(h.rc.forCall(c.Sid)) == 2 }, waitFor, tick, "the placed call runs and reports")
		assert.Equal(t, "completed", h.rc.forCall(c.Sid)[1].fields["Status"])
	}
	// A client that lost the answer finds its calls by To, with CustomField.
	st, body, err := h.do(nil, http.MethodGet, "/v1/Accounts/"+testSID+"/Calls.json?To=%2B919812340009", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, st)
	assert.Len(t, body["Calls"], 2)
}

func testFormCallbacks(t *testing.T) {
	h := newHarness(t, nil)
	form := h.form("+919812345678")
	form.Set("StatusCallbackContentType", ContentTypeForm)
	sid := h.placeOK(form)["Sid"].(string)
	require.Eventually(t, func() bool { return len(h.rc.forCall(sid)) == 2 }, waitFor, tick)
	f := h.rc.forCall(sid)[1]
	assert.Equal(t, ContentTypeForm, f.mediaType)
	assert.Equal(t, "terminal", f.fields["EventType"])
	assert.Equal(t, "completed", f.fields["Status"])
	assert.Equal(t, "42", f.fields["ConversationDuration"])
	assert.Equal(t, "call-+919812345678", f.fields["CustomField"])
	assert.Equal(t, "completed", f.fields["Legs[0][Status]"])
	assert.Equal(t, "HUMAN", f.fields["Legs[1][AnsweredBy]"])
	assert.Equal(t, "42", f.fields["Legs[1][OnCallDuration]"])
}

func testDefaultCallbackWithoutEvents(t *testing.T) {
	h := newHarness(t, nil)
	form := h.form("+919812345678")
	form.Del("StatusCallbackEvents[0]")
	form.Del("StatusCallbackEvents[1]")
	form.Del("StatusCallbackContentType")
	form.Del("Record")
	sid := h.placeOK(form)["Sid"].(string)
	require.Eventually(t, func() bool { return len(h.rc.forCall(sid)) == 1 }, waitFor, tick)
	require.Eventually(t, func() bool { return h.sb.LiveCalls() == 0 }, waitFor, tick)
	got := h.rc.forCall(sid)
	require.Len(t, got, 1, "only the terminal callback")
	assert.Equal(t, ContentTypeForm, got[0].mediaType, "multipart/form-data is the default")
	keys := make([]string, 0, len(got[0].fields))
	for k := range got[0].fields {
		keys = append(keys, k)
	}
	assert.ElementsMatch(t, []string{"CallSid", "DateUpdated", "Status", "RecordingUrl"}, keys)
	assert.Equal(t, "completed", got[0].fields["Status"])
}

func testCallbackRetriedTwice(t *testing.T) {
	cases := []struct {
		name      string
		failFirst int
		delivered bool
	}{
		{name: "third attempt delivers", failFirst: 2, delivered: true},
		{name: "three failures give up", failFirst: 3, delivered: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.rc.failFirst = tc.failFirst
			form := h.form("+919812340005") // busy: one terminal callback
			sid := h.placeOK(form)["Sid"].(string)
			require.Eventually(t, func() bool { return len(h.sb.Callbacks()) == 1 }, waitFor, tick)
			cb := h.sb.Callbacks()[0]
			assert.Equal(t, sid, cb.CallSid)
			assert.Equal(t, 3, cb.Attempts)
			assert.Equal(t, tc.delivered, cb.Delivered)
			assert.Equal(t, "busy", cb.Status)
			assert.Len(t, h.rc.forCall(sid), map[bool]int{true: 1, false: 0}[tc.delivered])
		})
	}
}

func testDetailsLookups(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.RingDelay = time.Hour })
	sid := h.placeOK(h.form("+919812345678"))["Sid"].(string)
	d := h.details(sid, true)
	assert.Equal(t, "in-progress", d["Status"])
	assert.Nil(t, d["EndTime"])
	assert.NotContains(t, d, "Details", "no legs before the call is over")

	cases := []struct {
		name   string
		path   string
		status int
	}{
		{name: "unknown sid", path: "/Calls/0123456789abcdef0123456789abcdef.json", status: http.StatusNotFound},
		{name: "XML form not served", path: "/Calls/" + sid, status: http.StatusNotFound},
		{name: "bad details flag", path: "/Calls/" + sid + ".json?details=maybe", status: http.StatusBadRequest},
		{name: "bulk with six numbers", path: "/Calls.json?To=1111111,2222222,3333333,4444444,5555555,6666666", status: http.StatusBadRequest},
		{name: "bulk page too large", path: "/Calls.json?PageSize=101", status: http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body, err := h.do(nil, http.MethodGet, "/v1/Accounts/"+testSID+tc.path, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.status, st)
			assert.Equal(t, float64(tc.status), restErr(t, body)["Status"])
		})
	}
	st, body, err := h.do(nil, http.MethodGet, "/v1/Accounts/"+testSID+"/Calls.json?Sid="+sid+"&Status=completed", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, st)
	assert.Empty(t, body["Calls"], "the call is not completed yet")
	st, body, err = h.do(nil, http.MethodGet, "/v1/Accounts/"+testSID+"/Calls.json?Sid="+sid, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, st)
	require.Len(t, body["Calls"], 1)
	assert.Equal(t, sid, body["Calls"].([]any)[0].(map[string]any)["Sid"])
}

func testAuthRefusals(t *testing.T) {
	h := newHarness(t, nil)
	form := h.form("+919812345678")
	cases := []struct {
		name  string
		creds []string
		path  string
		code  string
	}{
		{name: "no credentials", creds: []string{""}, code: CodeUnauthorized},
		{name: "wrong key", creds: []string{"other", testToken}, code: CodeUnauthorized},
		{name: "wrong token", creds: []string{testKey, "other"}, code: CodeUnauthorized},
		{name: "another account's sid", path: "/v1/Accounts/other/Calls/connect.json", code: CodeInvalidAccountSID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/v1/Accounts/" + testSID + "/Calls/connect.json"
			}
			st, body, err := h.do(nil, http.MethodPost, path, form, tc.creds...)
			require.NoError(t, err)
			assert.Equal(t, http.StatusUnauthorized, st)
			re := restErr(t, body)
			assert.Equal(t, float64(401), re["Status"])
			assert.Equal(t, tc.code, re["Code"])
			assert.NotEmpty(t, re["Message"])
			// The details endpoint is guarded the same way.
			st, _, err = h.do(nil, http.MethodGet, "/v1/Accounts/"+testSID+"/Calls.json", nil, tc.creds...)
			require.NoError(t, err)
			if tc.path == "" {
				assert.Equal(t, http.StatusUnauthorized, st)
			}
		})
	}
	assert.Empty(t, h.sb.Calls(), "nothing placed")
}

func testFieldChecks(t *testing.T) {
	long := make([]byte, MaxCustomField+1)
	for i := range long {
		long[i] = 'x'
	}
	cases := []struct {
		name   string
		change func(url.Values)
		status int
		code   string
		msg    string // the message must contain it
	}{
		{name: "From missing", change: func(f url.Values) { f.Del("From") }, status: 400, code: CodeMissingParameter, msg: "From"},
		{name: "To missing", change: func(f url.Values) { f.Del("To") }, status: 400, code: CodeMissingParameter, msg: "To"},
		{name: "CallerId missing", change: func(f url.Values) { f.Del("CallerId") }, status: 400, code: CodeMissingParameter, msg: "CallerId"},
		{name: "From not a number", change: func(f url.Values) { f.Set("From", "agent") }, status: 400, code: CodeInvalidParameter, msg: "From"},
		{name: "To too short", change: func(f url.Values) { f.Set("To", "12345") }, status: 400, code: CodeInvalidParameter, msg: "To"},
		{name: "CallerId not an ExoPhone", change: func(f url.Values) { f.Set("CallerId", "08099999999") }, status: 403, code: CodeForbidden, msg: "ExoPhone"},
		{name: "CallType promo", change: func(f url.Values) { f.Set("CallType", "promo") }, status: 400, code: CodeInvalidParameter, msg: "CallType"},
		{name: "TimeLimit over four hours", change: func(f url.Values) { f.Set("TimeLimit", "14401") }, status: 400, code: CodeInvalidParameter, msg: "TimeLimit"},
		{name: "TimeLimit not a number", change: func(f url.Values) { f.Set("TimeLimit", "1h") }, status: 400, code: CodeInvalidParameter, msg: "TimeLimit"},
		{name: "TimeOut zero", change: func(f url.Values) { f.Set("TimeOut", "0") }, status: 400, code: CodeInvalidParameter, msg: "TimeOut"},
		{name: "Record yes", change: func(f url.Values) { f.Set("Record", "yes") }, status: 400, code: CodeInvalidParameter, msg: "Record"},
		{name: "CustomField of 129 characters", change: func(f url.Values) { f.Set("CustomField", string(long)) }, status: 400, code: CodeInvalidParameter, msg: "CustomField"},
		{name: "StatusCallback not a URL", change: func(f url.Values) { f.Set("StatusCallback", "/api/calls/webhook") }, status: 400, code: CodeInvalidParameter, msg: "StatusCallback"},
		{name: "unknown event", change: func(f url.Values) { f.Set("StatusCallbackEvents[1]", "ringing") }, status: 400, code: CodeInvalidParameter, msg: "StatusCallbackEvents"},
		{name: "event index 2", change: func(f url.Values) { f.Set("StatusCallbackEvents[2]", "terminal") }, status: 400, code: CodeInvalidParameter, msg: "StatusCallbackEvents"},
		{name: "events without index", change: func(f url.Values) { f.Set("StatusCallbackEvents", "terminal") }, status: 400, code: CodeInvalidParameter, msg: "StatusCallbackEvents"},
		{name: "same event twice", change: func(f url.Values) { f.Set("StatusCallbackEvents[1]", "terminal") }, status: 400, code: CodeInvalidParameter, msg: "twice"},
		{name: "events with a gap", change: func(f url.Values) { f.Del("StatusCallbackEvents[0]") }, status: 400, code: CodeInvalidParameter, msg: "StatusCallbackEvents"},
		{name: "events without a callback URL", change: func(f url.Values) { f.Del("StatusCallback") }, status: 400, code: CodeInvalidParameter, msg: "StatusCallback"},
		{name: "content type xml", change: func(f url.Values) { f.Set("StatusCallbackContentType", "text/xml") }, status: 400, code: CodeInvalidParameter, msg: "StatusCallbackContentType"},
	}
	h := newHarness(t, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := h.form("+919812345678")
			tc.change(form)
			st, body := h.connect(form)
			assert.Equal(t, tc.status, st)
			re := restErr(t, body)
			assert.Equal(t, float64(tc.status), re["Status"])
			assert.Equal(t, tc.code, re["Code"])
			assert.Contains(t, re["Message"], tc.msg)
		})
	}
	t.Run("a JSON body is refused", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, h.url+"/v1/Accounts/"+testSID+"/Calls/connect.json",
			strBody(`{"From":"+919800000001","To":"+919812345678","CallerId":"08047000000"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(testKey, testToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("the CallerId in another format is the same ExoPhone", func(t *testing.T) {
		form := h.form("+919812345678")
		form.Set("CallerId", "+918047000000")
		h.placeOK(form)
	})
	assert.Len(t, h.sb.Calls(), 1, "only the valid request placed a call")
}

func TestAnsweredOnlySubscriptionStillGetsTerminal(t *testing.T) {
	h := newHarness(t, nil)
	form := h.form("+919812345678")
	form.Set("StatusCallbackEvents[0]", "answered")
	form.Del("StatusCallbackEvents[1]")
	sid := h.placeOK(form)["Sid"].(string)
	require.Eventually(t, func() bool { return len(h.rc.forCall(sid)) == 2 }, waitFor, tick)
	got := h.rc.forCall(sid)
	assert.Equal(t, "answered", got[0].fields["EventType"])
	assert.Equal(t, "terminal", got[1].fields["EventType"])
	assert.Equal(t, "completed", got[1].fields["Status"])
}

func TestConnectAsMultipartForm(t *testing.T) {
	h := newHarness(t, nil)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range h.formNoHook("+919812345678") {
		require.NoError(t, mw.WriteField(k, v[0]))
	}
	require.NoError(t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, h.url+"/v1/Accounts/"+testSID+"/Calls/connect.json", &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.SetBasicAuth(testKey, testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, h.sb.Calls(), 1)
	assert.Equal(t, "+919812345678", h.sb.Calls()[0].To)
}
