package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

func TestClassifyMetaCodes(t *testing.T) {
	// Every code of our rules, each answered with HTTP 400 (the usual status)
	// and again with 500 and 429 to show the code wins over the status.
	cases := []struct {
		code          int
		action        Action
		delay         time.Duration
		windowClosed  bool
		recipientOnly bool
	}{
		// retry with backoff
		{code: 130429, action: Retry, delay: time.Second},
		{code: 131056, action: Retry, delay: 6 * time.Second, recipientOnly: true},
		{code: 4, action: Retry, delay: 30 * time.Second},
		{code: 80007, action: Retry, delay: 30 * time.Second},
		{code: 1, action: Retry},
		{code: 2, action: Retry},
		{code: 131000, action: Retry},
		{code: 131016, action: Retry},
		// fail, no retry
		{code: 131047, action: Fail, windowClosed: true},
		{code: 131026, action: Fail},
		{code: 100, action: Fail},
		{code: 132000, action: Fail},
		{code: 132001, action: Fail},
		{code: 132005, action: Fail},
		{code: 132007, action: Fail},
		{code: 132012, action: Fail},
		{code: 132015, action: Fail},
		{code: 132016, action: Fail},
		{code: 131052, action: Fail},
		{code: 131053, action: Fail},
		{code: 131051, action: Fail},
		{code: 130472, action: Fail},
		// pause the business number
		{code: 0, action: PauseNumber, delay: 5 * time.Minute},
		{code: 190, action: PauseNumber, delay: 5 * time.Minute},
		{code: 368, action: PauseNumber, delay: 30 * time.Minute},
		{code: 131031, action: PauseNumber, delay: 30 * time.Minute},
		{code: 131042, action: PauseNumber, delay: 30 * time.Minute},
		// pause the recipient
		{code: 131048, action: PauseRecipient, delay: 4 * time.Hour, recipientOnly: true},
		{code: 131049, action: PauseRecipient, delay: 4 * time.Hour, recipientOnly: true},
	}
	require.Len(t, cases, len(actors.WhatsAppErrorCodes()), "every code in the table is tested")
	for _, tc := range cases {
		for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusInternalServerError,
			http.StatusServiceUnavailable, http.StatusTooManyRequests} {
			t.Run(fmt.Sprintf("%d/http%d", tc.code, status), func(t *testing.T) {
				err := fmt.Errorf("send message from 1065: %w", &APIError{HTTPStatus: status, Code: tc.code, Message: "whatever"})
				d := Classify(err)
				assert.Equal(t, tc.action, d.Action)
				assert.Equal(t, tc.delay, d.Delay)
				assert.Equal(t, tc.code, d.Code)
				assert.Equal(t, tc.windowClosed, d.WindowClosed)
				assert.Equal(t, tc.recipientOnly, d.RecipientOnly)
				assert.Regexp(t, fmt.Sprintf(`^%d [a-z]`, tc.code), d.Reason, "reason starts with the code")
			})
		}
	}
}

func TestClassifyOther(t *testing.T) {
	netTimeout := &timeoutError{err: errors.New("i/o timeout")}
	cases := []struct {
		name   string
		err    error
		want   Decision
		reason string // checked instead of want.Reason when set
	}{
		{name: "nil", err: nil, want: Decision{}},
		{name: "unknown code on 400", err: &APIError{HTTPStatus: 400, Code: 999001},
			want: Decision{Action: Fail, Code: 999001, Reason: "unknown code 999001"}},
		{name: "unknown code on 403", err: &APIError{HTTPStatus: 403, Code: 10},
			want: Decision{Action: Fail, Code: 10, Reason: "unknown code 10"}},
		// The code decides, never the status: an unknown code fails
		// under a 5xx or a 429 as under a 400.
		{name: "unknown code on 503", err: &APIError{HTTPStatus: 503, Code: 999001},
			want: Decision{Action: Fail, Code: 999001, Reason: "unknown code 999001"}},
		{name: "unknown code on 429", err: &APIError{HTTPStatus: 429, Code: 999001},
			want: Decision{Action: Fail, Code: 999001, Reason: "unknown code 999001"}},
		{name: "no code on 502", err: &APIError{HTTPStatus: 502, Code: NoCode},
			want: Decision{Action: Retry, Code: NoCode, Reason: "http 502"}},
		{name: "no code on 500", err: &APIError{HTTPStatus: 500, Code: NoCode},
			want: Decision{Action: Retry, Code: NoCode, Reason: "http 500"}},
		{name: "no code on 404", err: &APIError{HTTPStatus: 404, Code: NoCode},
			want: Decision{Action: Fail, Code: NoCode, Reason: "http 404"}},
		{name: "transport", err: fmt.Errorf("send message from 1: %w: %w", ErrTransport, errors.New("connection reset by peer")),
			want: Decision{Action: Retry, Code: NoCode, Reason: "transport error"}},
		{name: "transport timeout", err: fmt.Errorf("send message from 1: %w: %w", ErrTransport, netTimeout),
			want: Decision{Action: Retry, Code: NoCode, Reason: "timeout"}},
		{name: "bare net timeout", err: netTimeout,
			want: Decision{Action: Retry, Code: NoCode, Reason: "timeout"}},
		{name: "deadline", err: fmt.Errorf("wait: %w", context.DeadlineExceeded),
			want: Decision{Action: Retry, Code: NoCode, Reason: "timeout"}},
		{name: "canceled", err: context.Canceled,
			want: Decision{Action: Retry, Code: NoCode, Reason: "canceled"}},
		{name: "no message id", err: fmt.Errorf("send message from 1: %w", ErrNoMessageID),
			want: Decision{Action: Fail, Code: NoCode, Reason: "response without message id"}},
		{name: "number paused", err: &PausedError{PhoneNumberID: "1", Remaining: 3 * time.Minute},
			want: Decision{Action: Retry, Delay: 3 * time.Minute, Code: NoCode, Reason: "number paused"}},
		{name: "recipient paused", err: &PausedError{PhoneNumberID: "1", Recipient: true, Remaining: time.Hour},
			want: Decision{Action: Retry, Delay: time.Hour, Code: NoCode, Reason: "recipient paused", RecipientOnly: true}},
		{name: "budget down", err: fmt.Errorf("shape send from 1: %w: %w", ErrBudgetUnavailable, errors.New("dial tcp: refused")),
			want: Decision{Action: Retry, Code: NoCode, Reason: "rate budget unavailable"}},
		{name: "anything else", err: errors.New("boom"),
			want: Decision{Action: Fail, Code: NoCode, Reason: "unclassified error"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Classify(tc.err))
		})
	}
}

func TestActionString(t *testing.T) {
	assert.Equal(t, "retry", Retry.String())
	assert.Equal(t, "fail", Fail.String())
	assert.Equal(t, "pause_number", PauseNumber.String())
	assert.Equal(t, "pause_recipient", PauseRecipient.String())
	assert.Equal(t, "none", Action(0).String())
}
