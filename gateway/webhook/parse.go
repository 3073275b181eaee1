package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wacc/engine/actors"
)

// ErrMalformed is wrapped by every error Parse returns: the body is not a
// JSON object whose "object" is "whatsapp_business_account". The handler
// answers such bodies with 400; everything else Parse accepts.
var ErrMalformed = errors.New("malformed webhook body")

// ObjectWhatsApp is the only "object" value Parse accepts.
const ObjectWhatsApp = "whatsapp_business_account"

// fieldMessages is the change field that carries messages, statuses and
// value-level errors; every other field goes to WebhookBatch.Other.
const fieldMessages = "messages"

// The wire types mirror just the parts of Meta's payload the engine routes
// on; everything else stays in the json.RawMessage fields. Decoding into
// fixed structs (not map[string]any) keeps one webhook at a few allocations
// per message.

type wireBody struct {
	Object string      `json:"object"`
	Entry  []wireEntry `json:"entry"`
}

type wireEntry struct {
	Changes []wireChange `json:"changes"`
}

type wireChange struct {
	Field string    `json:"field"`
	Value wireValue `json:"value"`
}

type wireValue struct {
	Metadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []wireContact     `json:"contacts"`
	Messages []json.RawMessage `json:"messages"`
	Statuses []json.RawMessage `json:"statuses"`
	Errors   []wireError       `json:"errors"`
}

type wireContact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID         string `json:"wa_id"`
	UserID       string `json:"user_id"`
	ParentUserID string `json:"parent_user_id"`
}

type wireError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	Href      string `json:"href"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

type wireContext struct {
	From                string `json:"from"`
	ID                  string `json:"id"`
	Forwarded           bool   `json:"forwarded"`
	FrequentlyForwarded bool   `json:"frequently_forwarded"`
	present             bool   // the message's context is a JSON object
}

func (c *wireContext) UnmarshalJSON(data []byte) error {
	if !isObject(data) {
		return nil // null or not an object: no context
	}
	type fields wireContext // without this method
	_ = json.Unmarshal(data, (*fields)(c))
	c.present = true
	return nil
}

// wireMessage is one messages[] object. The content of every type the
// engine knows is captured by a named field so that Content needs no second
// decode; newer types fall back to a key lookup (contentOf).
type wireMessage struct {
	From             string          `json:"from"`
	FromUserID       string          `json:"from_user_id"`
	FromParentUserID string          `json:"from_parent_user_id"`
	ID               string          `json:"id"`
	Timestamp        unixSeconds     `json:"timestamp"`
	Type             string          `json:"type"`
	Context          wireContext     `json:"context"`
	Referral         json.RawMessage `json:"referral"`
	Errors           []wireError     `json:"errors"`

	Text        json.RawMessage `json:"text"`
	Image       json.RawMessage `json:"image"`
	Video       json.RawMessage `json:"video"`
	Audio       json.RawMessage `json:"audio"`
	Document    json.RawMessage `json:"document"`
	Sticker     json.RawMessage `json:"sticker"`
	Location    json.RawMessage `json:"location"`
	Contacts    json.RawMessage `json:"contacts"`
	Interactive json.RawMessage `json:"interactive"`
	Button      json.RawMessage `json:"button"`
	Reaction    json.RawMessage `json:"reaction"`
	Order       json.RawMessage `json:"order"`
	System      json.RawMessage `json:"system"`
	Revoke      json.RawMessage `json:"revoke"`
	Edit        json.RawMessage `json:"edit"`
	Unsupported json.RawMessage `json:"unsupported"`
}

type wireStatus struct {
	ID                    string       `json:"id"`
	Status                string       `json:"status"`
	Timestamp             unixSeconds  `json:"timestamp"`
	RecipientID           string       `json:"recipient_id"`
	BizOpaqueCallbackData string       `json:"biz_opaque_callback_data"`
	Errors                []wireError  `json:"errors"`
	Pricing               *wirePricing `json:"pricing"`
}

// wirePricing is a status's pricing object. Per-message pricing (PMP, for
// every business since 2025-07-01) sends billable, pricing_model "PMP",
// category and type; the older conversation-based bodies (CBP) have no
// type, and their conversation object is not needed to count messages.
type wirePricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Category     string `json:"category"`
	Type         string `json:"type"`
}

// maxUnixSeconds is the last second of year 9999: later values are treated
// as invalid so every Timestamp stays representable in RFC 3339.
const maxUnixSeconds = 253402300799

// unixSeconds decodes Meta's timestamp: a string of unix seconds ("1697043223")
// or, tolerated, a JSON number. Anything else leaves it zero, never failing.
type unixSeconds int64

func (u *unixSeconds) UnmarshalJSON(data []byte) error {
	if n := len(data); n >= 2 && data[0] == '"' && data[n-1] == '"' {
		data = data[1 : n-1]
	}
	sec, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil || sec <= 0 || sec > maxUnixSeconds {
		*u = 0
		return nil
	}
	*u = unixSeconds(sec)
	return nil
}

func (u unixSeconds) time() time.Time {
	if u == 0 {
		return time.Time{}
	}
	return time.Unix(int64(u), 0).UTC()
}

// Parse decodes one webhook body into a batch. It fails, wrapping
// ErrMalformed, only when body is not a JSON object with object
// "whatsapp_business_account"; see the package documentation for what is
// tolerated and how each field is filled.
func Parse(body []byte) (actors.WebhookBatch, error) {
	var wb wireBody
	if err := json.Unmarshal(body, &wb); err != nil {
		// A type mismatch somewhere inside is tolerated: encoding/json
		// finishes the rest of the document and reports it afterwards.
		if _, mismatch := errors.AsType[*json.UnmarshalTypeError](err); !mismatch {
			return actors.WebhookBatch{}, fmt.Errorf("decode webhook body: %w: %w", ErrMalformed, err)
		}
	}
	if wb.Object != ObjectWhatsApp {
		return actors.WebhookBatch{}, fmt.Errorf("decode webhook body: object %q: %w", clip(wb.Object, 64), ErrMalformed)
	}

	var nMessages, nStatuses, nErrors int
	hasOther := false
	for i := range wb.Entry {
		for j := range wb.Entry[i].Changes {
			ch := &wb.Entry[i].Changes[j]
			if ch.Field != fieldMessages {
				hasOther = true
				continue
			}
			nMessages += len(ch.Value.Messages)
			nStatuses += len(ch.Value.Statuses)
			nErrors += len(ch.Value.Errors)
		}
	}

	var batch actors.WebhookBatch
	if nMessages > 0 {
		batch.Messages = make([]actors.InboundMessage, 0, nMessages)
	}
	if nStatuses > 0 {
		batch.Statuses = make([]actors.StatusUpdate, 0, nStatuses)
	}
	if nErrors > 0 {
		batch.Errors = make([]actors.WebhookError, 0, nErrors)
	}
	for i := range wb.Entry {
		for j := range wb.Entry[i].Changes {
			ch := &wb.Entry[i].Changes[j]
			if ch.Field != fieldMessages {
				continue
			}
			v := &ch.Value
			for _, raw := range v.Messages {
				if !isObject(raw) {
					continue
				}
				batch.Messages = append(batch.Messages, parseMessage(raw, v))
			}
			for _, raw := range v.Statuses {
				if !isObject(raw) {
					continue
				}
				batch.Statuses = append(batch.Statuses, parseStatus(raw, v.Metadata.PhoneNumberID))
			}
			for k := range v.Errors {
				batch.Errors = append(batch.Errors, actors.WebhookError{
					PhoneNumberID: v.Metadata.PhoneNumberID,
					WhatsAppError: v.Errors[k].value(),
				})
			}
		}
	}
	if hasOther {
		batch.Other = otherChanges(body, wb.Entry)
		batch.Templates = templateEvents(body)
	}
	return batch, nil
}

// otherChanges returns the raw JSON of every change whose field is not
// "messages", in body order. It decodes the body a second time, keeping
// changes raw; that only happens for the rare bodies that carry such
// changes, so the hot path decodes once. Both decodes see the same document
// with the same rules, so the indices line up; a mismatch is skipped rather
// than trusted.
func otherChanges(body []byte, entries []wireEntry) []json.RawMessage {
	var rb struct {
		Entry []struct {
			Changes []json.RawMessage `json:"changes"`
		} `json:"entry"`
	}
	_ = json.Unmarshal(body, &rb) // the body is known valid; mismatches leave zero values
	var other []json.RawMessage
	for i := range entries {
		if i >= len(rb.Entry) {
			break
		}
		raws := rb.Entry[i].Changes
		for j := range entries[i].Changes {
			if j >= len(raws) {
				break
			}
			if entries[i].Changes[j].Field != fieldMessages {
				other = append(other, raws[j])
			}
		}
	}
	return other
}

func parseMessage(raw json.RawMessage, v *wireValue) actors.InboundMessage {
	var wm wireMessage
	_ = json.Unmarshal(raw, &wm) // raw is a valid object; mismatched fields stay zero

	msg := actors.InboundMessage{
		PhoneNumberID: v.Metadata.PhoneNumberID,
		DisplayPhone:  v.Metadata.DisplayPhoneNumber,
		WaMessageID:   wm.ID,
		Type:          wm.Type,
		Timestamp:     wm.Timestamp.time(),
		Referral:      nonNull(wm.Referral),
		Raw:           raw,
	}
	msg.WaID, msg.ProfileName, msg.UserID, msg.ParentUserID = sender(&wm, v.Contacts)
	msg.Content = contentOf(&wm, raw)
	msg.Text = clip(render(wm.Type, msg.Content, 0), MaxTextBytes)
	if wm.Context.present {
		msg.Context = &actors.MessageContext{
			From:                wm.Context.From,
			ID:                  wm.Context.ID,
			Forwarded:           wm.Context.Forwarded,
			FrequentlyForwarded: wm.Context.FrequentlyForwarded,
		}
	}
	msg.Errors = errorValues(wm.Errors)
	return msg
}

func parseStatus(raw json.RawMessage, phoneNumberID string) actors.StatusUpdate {
	var ws wireStatus
	_ = json.Unmarshal(raw, &ws) // raw is a valid object; mismatched fields stay zero
	var pricing *actors.Pricing
	if p := ws.Pricing; p != nil && (p.PricingModel != "" || p.Category != "" || p.Type != "" || p.Billable) {
		pricing = &actors.Pricing{Billable: p.Billable, Model: clip(p.PricingModel, 32), Category: clip(p.Category, 64), Type: clip(p.Type, 64)}
	}
	return actors.StatusUpdate{
		Pricing:               pricing,
		PhoneNumberID:         phoneNumberID,
		WaMessageID:           ws.ID,
		RecipientID:           ws.RecipientID,
		Status:                ws.Status,
		Timestamp:             ws.Timestamp.time(),
		Errors:                errorValues(ws.Errors),
		BizOpaqueCallbackData: ws.BizOpaqueCallbackData,
		Raw:                   raw,
	}
}

// sender resolves who sent wm; the rules are in the package documentation.
func sender(wm *wireMessage, contacts []wireContact) (waID, profileName, userID, parentUserID string) {
	if isDigits(wm.From) {
		waID = wm.From
	}
	if c := matchContact(waID, wm, contacts); c != nil {
		if waID == "" && isDigits(c.WaID) {
			waID = c.WaID
		}
		profileName = c.Profile.Name
		userID = c.UserID
		parentUserID = c.ParentUserID
	}
	if wm.FromUserID != "" {
		userID = wm.FromUserID
	}
	if wm.FromParentUserID != "" {
		parentUserID = wm.FromParentUserID
	}
	return waID, profileName, userID, parentUserID
}

func matchContact(waID string, wm *wireMessage, contacts []wireContact) *wireContact {
	if waID != "" {
		for i := range contacts {
			if contacts[i].WaID == waID {
				return &contacts[i]
			}
		}
	}
	if wm.FromUserID != "" {
		for i := range contacts {
			if contacts[i].UserID == wm.FromUserID {
				return &contacts[i]
			}
		}
	}
	if waID == "" && wm.From != "" {
		// A business-scoped user id where a phone number used to be.
		for i := range contacts {
			if contacts[i].UserID == wm.From {
				return &contacts[i]
			}
		}
	}
	if len(contacts) != 1 {
		return nil
	}
	c := &contacts[0]
	if waID != "" && c.WaID != "" && c.WaID != waID {
		return nil // the only contact is someone else
	}
	if wm.FromUserID != "" && c.UserID != "" && c.UserID != wm.FromUserID {
		return nil
	}
	return c
}

// contentOf returns the raw value under the key named by the message type.
func contentOf(wm *wireMessage, raw json.RawMessage) json.RawMessage {
	var c json.RawMessage
	switch wm.Type {
	case "":
		return nil
	case "text":
		c = wm.Text
	case "image":
		c = wm.Image
	case "video":
		c = wm.Video
	case "audio":
		c = wm.Audio
	case "document":
		c = wm.Document
	case "sticker":
		c = wm.Sticker
	case "location":
		c = wm.Location
	case "contacts":
		c = wm.Contacts
	case "interactive":
		c = wm.Interactive
	case "button":
		c = wm.Button
	case "reaction":
		c = wm.Reaction
	case "order":
		c = wm.Order
	case "system":
		c = wm.System
	case "revoke":
		c = wm.Revoke
	case "edit":
		c = wm.Edit
	case "unsupported":
		c = wm.Unsupported
	default:
		// A type newer than this code: look the key up by its exact name.
		// Rare, so the map decode does not matter.
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(raw, &fields)
		c = fields[wm.Type]
	}
	return nonNull(c)
}

func (e *wireError) value() actors.WhatsAppError {
	return actors.WhatsAppError{
		Code:    e.Code,
		Title:   e.Title,
		Message: e.Message,
		Details: e.ErrorData.Details,
		Href:    e.Href,
	}
}

func errorValues(ws []wireError) []actors.WhatsAppError {
	if len(ws) == 0 {
		return nil
	}
	out := make([]actors.WhatsAppError, len(ws))
	for i := range ws {
		out[i] = ws[i].value()
	}
	return out
}

func nonNull(r json.RawMessage) json.RawMessage {
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return r
}

func isObject(r json.RawMessage) bool {
	return len(r) > 0 && r[0] == '{'
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
