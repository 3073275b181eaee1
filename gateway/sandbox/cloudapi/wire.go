package cloudapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/wacc/engine/gateway/webhook"
)

// The webhook body shape Meta posts, in Meta's key order:
// object / entry[] {id, [time], changes[] {value, field}}. A messages
// change's value is {messaging_product, metadata, contacts, messages |
// statuses}; a template change's value is the event object itself.
type wireWebhook struct {
	Object string      `json:"object"`
	Entry  []wireEntry `json:"entry"`
}

type wireEntry struct {
	ID      string       `json:"id"`
	Time    int64        `json:"time,omitempty"`
	Changes []wireChange `json:"changes"`
}

type wireChange struct {
	Value any    `json:"value"`
	Field string `json:"field"`
}

type wireValue struct {
	MessagingProduct string        `json:"messaging_product"`
	Metadata         wireMetadata  `json:"metadata"`
	Contacts         []wireContact `json:"contacts,omitempty"`
	Messages         []wireInbound `json:"messages,omitempty"`
	Statuses         []wireStatus  `json:"statuses,omitempty"`
}

type wireMetadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type wireContact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID string `json:"wa_id"`
}

type wireError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
	Href string `json:"href,omitempty"`
}

func newWireError(code int, title, details string) wireError {
	e := wireError{Code: code, Title: title, Message: title, Href: ErrorHref}
	e.ErrorData.Details = details
	return e
}

// fieldMessages is the change field of messages and statuses; the
// template fields are in templatehooks.go.
const fieldMessages = "messages"

// update is one thing a webhook body reports: a status or an inbound
// message of a business number (field "messages"), or an account-level
// event such as a template's new status (value as is). Several updates
// due at the same moment may share one body, as Meta batches them.
type update struct {
	wabaID string
	field  string

	// field "messages"
	phoneNumberID string
	display       string
	contact       *wireContact // the sender of message, if it has one
	message       *wireInbound
	status        *wireStatus

	// any other field
	value any
	at    time.Time // entry.time
}

// composeWebhook builds one webhook body from updates, in Meta's shape and
// escaping. Messages and statuses of one business number share one entry
// (one change, contacts deduplicated); each business number has its own
// entry, and so has each account-level event. The result depends only on
// the updates, so a retried update is posted with the same bytes.
func composeWebhook(updates []update) []byte {
	body := wireWebhook{Object: webhook.ObjectWhatsApp}
	values := map[string]*wireValue{} // waba|phone_number_id -> its value in body
	for i := range updates {
		u := &updates[i]
		if u.field != fieldMessages {
			body.Entry = append(body.Entry, wireEntry{ID: u.wabaID, Time: u.at.Unix(),
				Changes: []wireChange{{Value: u.value, Field: u.field}}})
			continue
		}
		key := u.wabaID + "|" + u.phoneNumberID
		v, ok := values[key]
		if !ok {
			v = &wireValue{MessagingProduct: "whatsapp", Metadata: wireMetadata{DisplayPhoneNumber: u.display, PhoneNumberID: u.phoneNumberID}}
			values[key] = v
			body.Entry = append(body.Entry, wireEntry{ID: u.wabaID, Changes: []wireChange{{Value: v, Field: fieldMessages}}})
		}
		if u.contact != nil && !hasContact(v.Contacts, u.contact.WaID) {
			v.Contacts = append(v.Contacts, *u.contact)
		}
		if u.message != nil {
			v.Messages = append(v.Messages, *u.message)
		}
		if u.status != nil {
			v.Statuses = append(v.Statuses, *u.status)
		}
	}
	b, err := marshalMeta(body)
	if err != nil {
		panic("sandbox: marshal webhook: " + err.Error()) // plain structs and validated raw JSON: cannot fail
	}
	return b
}

func hasContact(cs []wireContact, waID string) bool {
	for _, c := range cs {
		if c.WaID == waID {
			return true
		}
	}
	return false
}

func unixString(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// displayNumber is the metadata.display_phone_number for a business number:
// the configured one, else a made-up 1555 number from the id's last digits.
func displayNumber(configured map[string]string, phoneNumberID string) string {
	if d, ok := configured[phoneNumberID]; ok {
		return d
	}
	var digits strings.Builder
	for i := 0; i < len(phoneNumberID); i++ {
		if c := phoneNumberID[i]; c >= '0' && c <= '9' {
			digits.WriteByte(c)
		}
	}
	d := "0000000" + digits.String()
	return "1555" + d[len(d)-7:]
}
