package exotelhook

import (
	"bytes"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// A terminal callback as Exotel sends it with StatusCallbackContentType
// application/json and StatusCallbackEvents.
const jsonTerminal = `{"CallSid":"b6cfaf5f5ef6f0d1a42e1c2d4c3f3a1b","EventType":"terminal","DateCreated":"2026-12-05 10:00:00",
"DateUpdated":"2026-12-05 10:01:07","To":"+919876500001","From":"+919812300002","PhoneNumberSid":"08047112233",
"StartTime":"2026-12-05 10:00:00","EndTime":"2026-12-05 10:01:07","Status":"completed","ConversationDuration":42,
"Direction":"outbound-api","CustomField":"0193a1b2c3d4e5f60718293a4b5c6d7e","RecordingUrl":"https://recordings.exotel.com/a.mp3",
"Legs":[{"OnCallDuration":60,"Status":"completed","AnsweredBy":"HUMAN"},{"OnCallDuration":42,"Status":"completed","AnsweredBy":"HUMAN"}]}`

func TestParseJSON(t *testing.T) {
	cb, err := Parse("application/json", []byte(jsonTerminal))
	require.NoError(t, err)
	assert.Equal(t, "b6cfaf5f5ef6f0d1a42e1c2d4c3f3a1b", cb.CallSid)
	assert.Equal(t, "terminal", cb.EventType)
	assert.Equal(t, actors.CallCompleted, cb.Status)
	assert.Equal(t, 42, cb.DurationSec)
	assert.Equal(t, "0193a1b2c3d4e5f60718293a4b5c6d7e", cb.CustomField)
	assert.Equal(t, "https://recordings.exotel.com/a.mp3", cb.RecordingURL)
	// 10:01:07 IST is 04:31:07 UTC.
	assert.Equal(t, time.Date(2026, 12, 5, 4, 31, 7, 0, time.UTC), cb.DateUpdated)
}

func TestParseFormAndMultipartAgreeWithJSON(t *testing.T) {
	fields := map[string]string{"CallSid": "abc123", "EventType": "answered", "Status": "in-progress", "DateUpdated": "2026-12-05 23:59:59",
		"CustomField": "call-1", "ConversationDuration": "0", "RecordingUrl": "", "Legs[0][Status]": "in-progress"}
	form := url.Values{}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		form.Set(k, v)
		require.NoError(t, mw.WriteField(k, v))
	}
	require.NoError(t, mw.Close())
	a, err := Parse("application/x-www-form-urlencoded", []byte(form.Encode()))
	require.NoError(t, err)
	b, err := Parse(mw.FormDataContentType(), buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.Equal(t, actors.CallInProgress, a.Status)
	assert.Equal(t, "answered", a.EventType)
	assert.Equal(t, time.Date(2026, 12, 5, 18, 29, 59, 0, time.UTC), a.DateUpdated)
	assert.Equal(t, a.EventID(), b.EventID())
}

func TestParseRefuses(t *testing.T) {
	cases := map[string]struct{ ctype, body string }{
		"no content type":    {"", jsonTerminal},
		"text/plain":         {"text/plain", jsonTerminal},
		"not json":           {"application/json", "{"},
		"json array":         {"application/json", "[]"},
		"no CallSid":         {"application/json", `{"Status":"completed"}`},
		"unknown status":     {"application/json", `{"CallSid":"a","Status":"exploded"}`},
		"bad event type":     {"application/json", `{"CallSid":"a","Status":"completed","EventType":"hangup"}`},
		"negative duration":  {"application/json", `{"CallSid":"a","Status":"completed","ConversationDuration":-1}`},
		"duration not int":   {"application/json", `{"CallSid":"a","Status":"completed","ConversationDuration":"x"}`},
		"recording not http": {"application/json", `{"CallSid":"a","Status":"completed","RecordingUrl":"javascript:alert(1)"}`},
		"multipart no bound": {"multipart/form-data", "--x\r\n"},
		"long CustomField":   {"application/json", `{"CallSid":"a","Status":"completed","CustomField":"` + strings.Repeat("x", 129) + `"}`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(c.ctype, []byte(c.body))
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
}

func TestEventIDIdentifiesTheCallback(t *testing.T) {
	a, err := Parse("application/json", []byte(jsonTerminal))
	require.NoError(t, err)
	again, err := Parse("application/json", []byte(strings.Replace(jsonTerminal, `"Direction":"outbound-api",`, "", 1)))
	require.NoError(t, err)
	assert.Equal(t, a.EventID(), again.EventID(), "the same callback (same sid, event, status, time) has one id")
	answered := a
	answered.EventType, answered.Status = "answered", actors.CallInProgress
	assert.NotEqual(t, a.EventID(), answered.EventID())
	ev := a.Event("call-9", []byte(jsonTerminal), time.Unix(5, 0))
	assert.Equal(t, a.EventID(), ev.ID)
	assert.Equal(t, "call-9", ev.CallID)
	assert.Equal(t, 42, ev.DurationSec)
}

func FuzzParse(f *testing.F) {
	f.Add("application/json", []byte(jsonTerminal))
	f.Add("application/x-www-form-urlencoded", []byte("CallSid=a&Status=busy&DateUpdated=2026-12-05+10%3A00%3A00"))
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"CallSid\"\r\n\r\na\r\n--x--\r\n"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		cb, err := Parse(ctype, body)
		if err != nil {
			return
		}
		if cb.CallSid == "" || actors.CallStatusRank(cb.Status) < 0 || cb.DurationSec < 0 {
			t.Fatalf("accepted an invalid callback: %+v", cb)
		}
	})
}
