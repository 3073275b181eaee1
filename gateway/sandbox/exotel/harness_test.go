package exotel

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

const (
	testSID   = "acme1"
	testKey   = "key-123"
	testToken = "token-456"
	testPhone = "08047000000"
	agent     = "+919800000001"
	waitFor   = 5 * time.Second
	tick      = 5 * time.Millisecond
)

// received is one callback as the receiver got it: its media type and its
// fields flattened (JSON Legs and form Legs both as Legs[i][Field]), plus
// the JSON object when it came as JSON.
type received struct {
	mediaType string
	fields    map[string]string
	json      map[string]any
}

// receiver is the engine's webhook as a test sees it: it records every
// valid callback and answers 500 to the first failFirst posts.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	posts     int
	got       []received
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	if rc.posts <= rc.failFirst {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method != http.MethodPost || err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rv := received{mediaType: mt, fields: map[string]string{}}
	switch mt {
	case ContentTypeJSON:
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &rv.json); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for k, v := range rv.json {
			if legs, ok := v.([]any); ok {
				for i, l := range legs {
					for lk, lv := range l.(map[string]any) {
						rv.fields[fmt.Sprintf("%s[%d][%s]", k, i, lk)] = fmt.Sprint(lv)
					}
				}
				continue
			}
			if v == nil {
				rv.fields[k] = ""
				continue
			}
			rv.fields[k] = fmt.Sprint(v)
		}
	case ContentTypeForm:
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for k, v := range r.MultipartForm.Value {
			rv.fields[k] = v[0]
		}
	default:
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	rc.got = append(rc.got, rv)
	w.WriteHeader(http.StatusOK)
}

// forCall returns the callbacks of sid, in arrival order.
func (rc *receiver) forCall(sid string) []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []received
	for _, g := range rc.got {
		if g.fields["CallSid"] == sid {
			out = append(out, g)
		}
	}
	return out
}

type harness struct {
	t    *testing.T
	sb   *Sandbox
	url  string // the sandbox's base URL
	rc   *receiver
	hook string // the receiver's URL
}

// newHarness starts a sandbox (short delays) on a loopback server, running,
// and a callback receiver; change adjusts the Options.
func newHarness(t *testing.T, change func(*Options)) *harness {
	t.Helper()
	opts := Options{Log: zaptest.NewLogger(t), AccountSID: testSID, APIKey: testKey, APIToken: testToken,
		ExoPhones: []string{testPhone}, RingDelay: 10 * time.Millisecond, TalkDelay: 20 * time.Millisecond,
		TalkSeconds: 42, TimeoutHold: 10 * time.Second, RetryBackoff: 10 * time.Millisecond}
	if change != nil {
		change(&opts)
	}
	sb := New(opts)
	srv := httptest.NewServer(sb.Handler())
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		srv.Close()
		hook.Close()
	})
	return &harness{t: t, sb: sb, url: srv.URL, rc: rc, hook: hook.URL}
}

// form is a valid connect request to the customer to, with JSON
// callbacks for both events.
func (h *harness) form(to string) url.Values {
	return url.Values{
		"From": {agent}, "To": {to}, "CallerId": {testPhone}, "CallType": {"trans"},
		"TimeLimit": {"3600"}, "TimeOut": {"30"}, "Record": {"true"}, "CustomField": {"call-" + to},
		"StatusCallback": {h.hook + "/api/calls/webhook?secret=s"}, "StatusCallbackEvents[0]": {"terminal"},
		"StatusCallbackEvents[1]": {"answered"}, "StatusCallbackContentType": {ContentTypeJSON},
	}
}

// do sends a request with the sandbox's credentials (or key:token when
// given) and returns the status and the decoded JSON body.
func (h *harness) do(client *http.Client, method, path string, body url.Values, creds ...string) (int, map[string]any, error) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	require.NoError(h.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	key, token := testKey, testToken
	if len(creds) == 2 {
		key, token = creds[0], creds[1]
	}
	if len(creds) != 1 { // one empty argument: no credentials
		req.SetBasicAuth(key, token)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(h.t, json.Unmarshal(raw, &out), "body: %s", raw)
	}
	return resp.StatusCode, out, nil
}

func (h *harness) connect(form url.Values) (int, map[string]any) {
	h.t.Helper()
	st, body, err := h.do(nil, http.MethodPost, "/v1/Accounts/"+testSID+"/Calls/connect.json", form)
	require.NoError(h.t, err)
	return st, body
}

// placeOK connects and returns the answer's Call object.
func (h *harness) placeOK(form url.Values) map[string]any {
	h.t.Helper()
	st, body := h.connect(form)
	require.Equal(h.t, http.StatusOK, st, "connect: %v", body)
	c, ok := body["Call"].(map[string]any)
	require.True(h.t, ok, "a Call object: %v", body)
	return c
}

// details returns GET .../Calls/{sid}.json's Call object.
func (h *harness) details(sid string, withLegs bool) map[string]any {
	h.t.Helper()
	path := "/v1/Accounts/" + testSID + "/Calls/" + sid + ".json"
	if withLegs {
		path += "?details=true"
	}
	st, body, err := h.do(nil, http.MethodGet, path, nil)
	require.NoError(h.t, err)
	require.Equal(h.t, http.StatusOK, st, "details: %v", body)
	return body["Call"].(map[string]any)
}

// restErr returns the RestException of an error body.
func restErr(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	re, ok := body["RestException"].(map[string]any)
	require.True(t, ok, "a RestException body: %v", body)
	return re
}

// newLoopback serves h on 127.0.0.1 until the test ends.
func newLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// formNoHook is a valid connect request without a StatusCallback.
func (h *harness) formNoHook(to string) url.Values {
	return url.Values{"From": {agent}, "To": {to}, "CallerId": {testPhone}, "CallType": {"trans"}}
}
