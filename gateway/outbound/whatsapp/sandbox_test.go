package whatsapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/sandbox/cloudapi"
)

// TestClientAgainstSandbox checks Client and Classify against the engine's
// Cloud API emulator and its failure injection (by recipient suffix), so
// the two agree on paths, answers and error objects.
func TestClientAgainstSandbox(t *testing.T) {
	sb := cloudapi.New(cloudapi.Options{TimeoutHold: 5 * time.Second})
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	const phoneID = "1122334455667"

	text := func(to string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"messaging_product":"whatsapp","recipient_type":"individual","to":%q,"type":"text","text":{"body":"hi"}}`, to))
	}
	client := NewClient(ClientOptions{BaseURL: srv.URL, Version: "v21.0", AccessToken: "test-token",
		HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})

	// step is one Send and the decision expected for it (zero Action: the
	// send is accepted).
	type step struct {
		action        Action
		code          int
		httpStatus    int // the answer's HTTP status, when checked: Meta's, which Classify does not key on
		windowClosed  bool
		recipientOnly bool
	}
	cases := []struct {
		name  string
		to    string
		token string
		body  json.RawMessage // default text(to)
		steps []step
	}{
		{name: "accepted", to: "15550000042", steps: []step{{}}},
		// 131026 and 131047 are accepted and fail later by status webhook,
		// as Meta reports them.
		{name: "undeliverable is accepted", to: "15550000001", steps: []step{{}, {}}},
		{name: "throughput twice (HTTP 400) then accepted", to: "15550000002",
			steps: []step{{action: Retry, code: 130429, httpStatus: 400}, {action: Retry, code: 130429, httpStatus: 400}, {}}},
		{name: "no answer then accepted", to: "15550000003", steps: []step{{action: Retry, code: NoCode}, {}}},
		{name: "re-engagement is accepted", to: "15550000005", steps: []step{{}}},
		{name: "pair rate once", to: "15550000006", steps: []step{{action: Retry, code: 131056, httpStatus: 400, recipientOnly: true}, {}}},
		{name: "api unknown (HTTP 400) then service (HTTP 503) then accepted", to: "15550000007",
			steps: []step{{action: Retry, code: 1, httpStatus: 400}, {action: Retry, code: 2, httpStatus: 503}, {}}},
		{name: "expired token", to: "15550000042", token: "expired", steps: []step{{action: PauseNumber, code: 190}}},
		{name: "invalid parameter", to: "15550000042", body: json.RawMessage(`{"messaging_product":"whatsapp","to":"15550000042","type":"text","text":{}}`),
			steps: []step{{action: Fail, code: 100}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := client
			if tc.token != "" {
				c = NewClient(ClientOptions{BaseURL: srv.URL, AccessToken: tc.token})
			}
			body := tc.body
			if body == nil {
				body = text(tc.to)
			}
			for i, want := range tc.steps {
				wamid, err := c.Send(t.Context(), phoneID, body)
				if want.action == 0 {
					require.NoError(t, err, "step %d", i)
					assert.NotEmpty(t, wamid)
					continue
				}
				require.Error(t, err, "step %d", i)
				d := Classify(err)
				assert.Equal(t, want.action, d.Action, "step %d: %v", i, err)
				assert.Equal(t, want.code, d.Code, "step %d", i)
				assert.Equal(t, want.windowClosed, d.WindowClosed, "step %d", i)
				assert.Equal(t, want.recipientOnly, d.RecipientOnly, "step %d", i)
				if want.code == NoCode {
					assert.True(t, errors.Is(err, ErrTransport), "step %d: no answer is a transport error", i)
				}
				if want.httpStatus != 0 {
					ae, ok := errors.AsType[*APIError](err)
					require.True(t, ok, "step %d: %v", i, err)
					assert.Equal(t, want.httpStatus, ae.HTTPStatus, "step %d", i)
				}
			}
		})
	}

	var tos []string
	for _, m := range sb.Sent() {
		tos = append(tos, m.To)
	}
	assert.ElementsMatch(t, []string{"15550000042", "15550000001", "15550000001", "15550000002", "15550000003", "15550000005", "15550000006", "15550000007"}, tos,
		"exactly the accepted sends reached the sandbox's sent log")
}
