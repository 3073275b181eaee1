package exotel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
)

// The client answers the call actor's lookups.
var _ call.Lookup = (*Client)(nil)

// bulkPageSize is the page FindPlaced asks for (Exotel's largest).
const bulkPageSize = 100

// findWindow bounds how long after since FindPlaced looks: a call created
// later is not the one a connect started then.
const findWindow = 24 * time.Hour

// wireCall is the "Call" object of Exotel's connect and details answers
// (and each of a bulk answer's "Calls"); only what the engine reads.
type wireCall struct {
	Sid          string          `json:"Sid"`
	Status       string          `json:"Status"`
	DateCreated  string          `json:"DateCreated"`
	EndTime      *string         `json:"EndTime"`
	Duration     json.RawMessage `json:"Duration"`
	From         string          `json:"From"`
	To           string          `json:"To"`
	RecordingURL *string         `json:"RecordingUrl"`
	Details      *struct {
		ConversationDuration json.RawMessage `json:"ConversationDuration"`
	} `json:"Details"`
}

// Details returns what Exotel says of the call sid: GET
// {BaseURL}/v1/Accounts/{sid}/Calls/{CallSid}.json?details=true.
// DurationSec is Details.ConversationDuration (the talk time); when the
// answer has no Details, the Duration of a completed call (which includes
// the ringing). Errors: actors.ErrNotFound (wrapped) on 404;
// actors.ErrUnavailable (wrapped) when Exotel did not answer, answered 5xx
// or 429; the *APIError otherwise (401/403: see Classify's Auth).
func (c *Client) Details(ctx context.Context, sid string) (call.Details, error) {
	if sid == "" || strings.ContainsAny(sid, "/?#") {
		return call.Details{}, fmt.Errorf("call details %q: %w: not a call sid", sid, ErrInvalid)
	}
	raw, _, err := c.do(ctx, http.MethodGet, c.base+"/Calls/"+url.PathEscape(sid)+".json?details=true", nil)
	if err != nil {
		return call.Details{}, fmt.Errorf("call details %s: %w", sid, lookupError(err, true))
	}
	var ans struct {
		Call *wireCall `json:"Call"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || ans.Call == nil {
		return call.Details{}, fmt.Errorf("call details %s: %w: answer is not a Call object", sid, actors.ErrUnavailable)
	}
	d, err := c.details(*ans.Call)
	if err != nil {
		return call.Details{}, fmt.Errorf("call details %s: %w", sid, err)
	}
	return d, nil
}

// FindPlaced looks for the call placed from from to to created at or after
// since (Exotel's timestamps have whole seconds, so since is taken down to
// its second): GET {BaseURL}/v1/Accounts/{sid}/Calls.json filtered by
// From, To and DateCreated (since to since+24h), a page of 100, oldest
// first. Of the calls that match, the oldest is returned. found is false
// only on an answer that lists none; any failure is an error (wrapping
// actors.ErrUnavailable when Exotel did not answer, 5xx or 429), never
// "not found", since a caller would place the call again.
//
// Exotel documents that its bulk listing leaves out calls still going on:
// a call placed by a connect whose answer was lost may be listed only once
// it is over. The sender waits its settle window before it concludes no
// call was placed.
func (c *Client) FindPlaced(ctx context.Context, from, to string, since time.Time) (call.Details, bool, error) {
	if from == "" || to == "" {
		return call.Details{}, false, fmt.Errorf("find placed call: %w: from and to numbers are required", ErrInvalid)
	}
	since = since.Truncate(time.Second)
	q := url.Values{
		"From":        {from},
		"To":          {to},
		"DateCreated": {"gte:" + c.formatTime(since) + ";lte:" + c.formatTime(since.Add(findWindow))},
		"PageSize":    {strconv.Itoa(bulkPageSize)},
		"SortBy":      {"DateCreated:asc"},
	}
	raw, _, err := c.do(ctx, http.MethodGet, c.base+"/Calls.json?"+q.Encode(), nil)
	if err != nil {
		return call.Details{}, false, fmt.Errorf("find placed call: %w", lookupError(err, false))
	}
	var ans struct {
		Calls []wireCall `json:"Calls"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || ans.Calls == nil {
		return call.Details{}, false, fmt.Errorf("find placed call: %w: answer has no Calls list", actors.ErrUnavailable)
	}
	var best *wireCall
	var bestAt time.Time
	for i := range ans.Calls {
		w := &ans.Calls[i]
		created, err := c.parseTime(w.DateCreated)
		if err != nil || created.IsZero() {
			return call.Details{}, false, fmt.Errorf("find placed call: call %s: DateCreated: %w", w.Sid, errOr(err))
		}
		if w.Sid == "" || created.Before(since) || !sameNumber(w.From, from) || !sameNumber(w.To, to) {
			continue
		}
		if best == nil || created.Before(bestAt) {
			best, bestAt = w, created
		}
	}
	if best == nil {
		return call.Details{}, false, nil
	}
	d, err := c.details(*best)
	if err != nil {
		return call.Details{}, false, fmt.Errorf("find placed call: %w", err)
	}
	return d, true, nil
}

func errOr(err error) error {
	if err != nil {
		return err
	}
	return errors.New("missing")
}

// details maps a Call object to call.Details.
func (c *Client) details(w wireCall) (call.Details, error) {
	st, ok := mapStatus(w.Status)
	if !ok {
		return call.Details{}, fmt.Errorf("call %s has a status Exotel does not document: %q", w.Sid, w.Status)
	}
	d := call.Details{Sid: w.Sid, Status: st}
	if w.RecordingURL != nil {
		d.RecordingURL = *w.RecordingURL
	}
	if w.EndTime != nil {
		end, err := c.parseTime(*w.EndTime)
		if err != nil {
			return call.Details{}, fmt.Errorf("call %s: EndTime: %w", w.Sid, err)
		}
		d.EndedAt = end
	}
	switch {
	case w.Details != nil:
		d.DurationSec = flexSeconds(w.Details.ConversationDuration)
	case st == actors.CallCompleted:
		d.DurationSec = flexSeconds(w.Duration)
	}
	return d, nil
}

// flexSeconds reads a JSON number or a string holding one; 0 otherwise.
func flexSeconds(raw json.RawMessage) int {
	n, err := strconv.Atoi(strings.TrimSpace(rawText(raw)))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// sameNumber compares two phone numbers by their last ten digits (Exotel
// answers national "0..." forms for E.164 requests); an empty answer
// matches.
func sameNumber(answered, asked string) bool {
	if answered == "" {
		return true
	}
	a, b := lastDigits(answered), lastDigits(asked)
	return a != "" && a == b
}

func lastDigits(s string) string {
	var d []byte
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			d = append(d, s[i])
		}
	}
	if len(d) > 10 {
		d = d[len(d)-10:]
	}
	return string(d)
}

// lookupError marks a lookup's failure for the call actor: ErrNotFound on
// a 404 (when notFound applies), ErrUnavailable when Exotel did not answer
// or answered 5xx or 429; the error as it is otherwise.
func lookupError(err error, notFound bool) error {
	if ae, ok := errors.AsType[*APIError](err); ok && ae.HTTPStatus == http.StatusNotFound && notFound {
		return fmt.Errorf("%w: %w", actors.ErrNotFound, err)
	}
	if d := Classify(err); d.Action == Retry || d.Action == Unknown {
		return fmt.Errorf("%w: %w", actors.ErrUnavailable, err)
	}
	return err
}
