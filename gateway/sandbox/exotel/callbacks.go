package exotel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// place records the call and starts its life: ringing, maybe answered,
// then over, with the callbacks it asked for. It returns false (nothing
// placed) when MaxLiveCalls calls are live or the sandbox has stopped.
func (s *Sandbox) place(p *PlacedCall, toDigits string) (*call, bool) {
	// Under mu, so that no goroutine is added once Stop began waiting.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, false
	}
	select {
	case s.live <- struct{}{}:
	default:
		return nil, false
	}
	now := s.opts.Now()
	p.Sid, p.PlacedAt = newCallSid(), now
	c := &call{placed: *p, account: s.opts.AccountSID, toDigits: toDigits, dateCreated: now, status: statusInProgress, updated: now}
	s.rec.addCall(c)
	*p = c.placed
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.live }()
		s.live1(c)
	}()
	return c, true
}

// jitter is d plus up to a fifth of it.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/5+1)
}

// wait sleeps d or until the sandbox stops; false when it stopped.
func (s *Sandbox) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// live1 runs one call to its end.
func (s *Sandbox) live1(c *call) {
	p := c.placed
	ring := jitter(s.opts.RingDelay)
	if !s.wait(ring) {
		return
	}
	ringSecs := max(1, int(ring.Round(time.Second)/time.Second))
	if !p.Outcome.answered() {
		c.end(s.opts.Now(), p.Outcome.finalStatus(), ringSecs, 0, "")
		s.post(c, EventTerminal)
		return
	}
	c.answer(s.opts.Now(), ringSecs)
	s.post(c, EventAnswered)
	if !s.wait(jitter(s.opts.TalkDelay)) {
		return
	}
	rec := ""
	if p.Record {
		rec = fmt.Sprintf("http://recordings.sandbox.exotel.invalid/%s/%s.mp3", c.account, p.Sid)
	}
	c.end(s.opts.Now(), statusCompleted, ringSecs, s.opts.TalkSeconds, rec)
	if p.Outcome == OutcomeLostTerminal {
		s.log.Debug("terminal callback withheld", zap.String("call_sid", p.Sid))
		return
	}
	s.post(c, EventTerminal)
}

// post sends the callback of event if the call asked for it. The terminal
// callback goes to every StatusCallback (Exotel's StatusCallback is "once
// the call completes"); the answered one only when subscribed. With
// StatusCallbackEvents, callbacks carry the extended fields; without, the
// four default ones.
func (s *Sandbox) post(c *call, event string) {
	p := c.placed
	if p.StatusCallback == "" {
		return
	}
	if event == EventAnswered && !slices.Contains(p.Events, EventAnswered) {
		return
	}
	fields := c.callbackFields(event, len(p.Events) > 0)
	body, ctype, err := encodeCallback(fields, p.ContentType)
	if err != nil {
		s.log.Error("encode callback", zap.String("call_sid", p.Sid), zap.Error(err))
		return
	}
	cb := Callback{CallSid: p.Sid, Status: fields.Status, URL: p.StatusCallback, ContentType: p.ContentType, Body: body}
	if len(p.Events) > 0 {
		cb.EventType = event
	}
	backoff := s.opts.RetryBackoff
	for cb.Attempts < s.opts.CallbackAttempts {
		if cb.Attempts > 0 && !s.wait(backoff) {
			break
		}
		backoff *= 2
		cb.Attempts++
		cb.HTTPStatus = s.postOnce(p.StatusCallback, ctype, body)
		if cb.HTTPStatus >= 200 && cb.HTTPStatus < 300 {
			cb.Delivered = true
			break
		}
	}
	cb.At = s.opts.Now()
	s.rec.addCallback(cb)
	if !cb.Delivered {
		s.log.Warn("callback not delivered", zap.String("call_sid", p.Sid), zap.String("event", event),
			zap.Int("attempt", cb.Attempts), zap.Int("http_status", cb.HTTPStatus))
	}
}

// postOnce posts body and returns the answer's status (0: none).
func (s *Sandbox) postOnce(url, ctype string, body []byte) int {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "Exotel-Sandbox")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	return resp.StatusCode
}

// callbackLeg is one leg of a callback's Legs.
type callbackLeg struct {
	OnCallDuration int    `json:"OnCallDuration"`
	Status         string `json:"Status"`
	AnsweredBy     string `json:"AnsweredBy"`
}

// callbackFields are a status callback's fields; the extended ones only
// when StatusCallbackEvents were asked.
type callbackFields struct {
	CallSid              string        `json:"CallSid"`
	EventType            string        `json:"EventType,omitempty"`
	DateCreated          string        `json:"DateCreated,omitempty"`
	DateUpdated          string        `json:"DateUpdated"`
	To                   string        `json:"To,omitempty"`
	From                 string        `json:"From,omitempty"`
	PhoneNumberSid       string        `json:"PhoneNumberSid,omitempty"`
	StartTime            string        `json:"StartTime,omitempty"`
	EndTime              *string       `json:"EndTime,omitempty"`
	Status               string        `json:"Status"`
	ConversationDuration *int          `json:"ConversationDuration,omitempty"`
	Direction            string        `json:"Direction,omitempty"`
	CustomField          *string       `json:"CustomField,omitempty"`
	RecordingURL         *string       `json:"RecordingUrl"`
	Legs                 []callbackLeg `json:"Legs,omitempty"`
	extended             bool
}

func (c *call) callbackFields(event string, extended bool) callbackFields {
	s := c.snap()
	f := callbackFields{CallSid: c.placed.Sid, DateUpdated: exoTime(s.updated), Status: s.status, extended: extended}
	if s.recording != "" {
		f.RecordingURL = strPtr(s.recording)
	}
	if !extended {
		return f
	}
	f.EventType, f.DateCreated, f.StartTime = event, exoTime(c.dateCreated), exoTime(c.dateCreated)
	f.To, f.From, f.PhoneNumberSid, f.Direction = c.placed.To, c.placed.From, c.placed.CallerID, "outbound-api"
	f.CustomField = strPtr(c.placed.CustomField)
	talk := s.talkSecs
	f.ConversationDuration = &talk
	f.EndTime = strPtr("")
	if !s.endedAt.IsZero() {
		f.EndTime = strPtr(exoTime(s.endedAt))
	}
	l1, l2 := legStatuses(s.status)
	if event == EventAnswered {
		l1, l2 = statusInProgress, statusInProgress
	}
	leg2By := "NA"
	if s.answered {
		leg2By = "HUMAN"
	}
	f.Legs = []callbackLeg{
		{OnCallDuration: s.ringSecs + s.talkSecs, Status: l1, AnsweredBy: "HUMAN"},
		{OnCallDuration: s.talkSecs, Status: l2, AnsweredBy: leg2By},
	}
	return f
}

// encodeCallback renders fields as JSON or as multipart form data (Legs as
// Legs[i][Field]) and returns the body and its Content-Type.
func encodeCallback(f callbackFields, contentType string) ([]byte, string, error) {
	if contentType == ContentTypeJSON {
		b, err := json.Marshal(f)
		return b, ContentTypeJSON, err
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	put := func(k, v string) {
		if err := mw.WriteField(k, v); err != nil {
			panic(err) // writes to a bytes.Buffer do not fail
		}
	}
	put("CallSid", f.CallSid)
	put("DateUpdated", f.DateUpdated)
	put("Status", f.Status)
	put("RecordingUrl", deref(f.RecordingURL))
	if f.extended {
		put("EventType", f.EventType)
		put("DateCreated", f.DateCreated)
		put("To", f.To)
		put("From", f.From)
		put("PhoneNumberSid", f.PhoneNumberSid)
		put("StartTime", f.StartTime)
		put("EndTime", deref(f.EndTime))
		put("ConversationDuration", strconv.Itoa(*f.ConversationDuration))
		put("Direction", f.Direction)
		put("CustomField", deref(f.CustomField))
		for i, l := range f.Legs {
			put(fmt.Sprintf("Legs[%d][OnCallDuration]", i), strconv.Itoa(l.OnCallDuration))
			put(fmt.Sprintf("Legs[%d][Status]", i), l.Status)
			put(fmt.Sprintf("Legs[%d][AnsweredBy]", i), l.AnsweredBy)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
