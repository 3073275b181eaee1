package cloudapi

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/wacc/engine/gateway/webhook"
)

// The webhook body shape Meta posts, in Meta's key order:
// object / entry[] {id, changes[] {value {messaging_product, metadata,
// contacts, messages | statuses}, field}}.
type wireWebhook struct {
	Object string      `json:"object"`
	Entry  []wireEntry `json:"entry"`
}

type wireEntry struct {
	ID      string       `json:"id"`
	Changes []wireChange `json:"changes"`
}

type wireChange struct {
	Value wireValue `json:"value"`
	Field string    `json:"field"`
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

type wireInbound struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Text      struct {
		Body string `json:"body"`
	} `json:"text"`
	Type string `json:"type"`
}

type wireStatus struct {
	ID                    string            `json:"id"`
	Status                string            `json:"status"`
	Timestamp             string            `json:"timestamp"`
	RecipientID           string            `json:"recipient_id"`
	BizOpaqueCallbackData string            `json:"biz_opaque_callback_data,omitempty"`
	Conversation          *wireConversation `json:"conversation,omitempty"`
	Pricing               *wirePricing      `json:"pricing,omitempty"`
	Errors                []wireError       `json:"errors,omitempty"`
}

type wireConversation struct {
	ID                  string `json:"id"`
	ExpirationTimestamp string `json:"expiration_timestamp,omitempty"`
	Origin              struct {
		Type string `json:"type"`
	} `json:"origin"`
}

type wirePricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Type         string `json:"type,omitempty"`
	Category     string `json:"category"`
}

type wireError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
	Href string `json:"href"`
}

// conversation is the pricing conversation a status belongs to.
type conversation struct {
	id       string
	category string // service, utility, ...
	expires  time.Time
}

// statusSpec is everything a message's status callbacks need.
type statusSpec struct {
	wamid         string
	waID          string
	phoneNumberID string
	display       string
	wabaID        string
	bizOpaque     string
	conv          conversation
	pricingModel  string
}

// body builds one status webhook for status at now.
func (s *statusSpec) body(status string, now time.Time) []byte {
	st := wireStatus{
		ID:                    s.wamid,
		Status:                status,
		Timestamp:             unixString(now),
		RecipientID:           s.waID,
		BizOpaqueCallbackData: s.bizOpaque,
	}
	if status == "failed" {
		e := wireError{Code: CodeUnsupportedType, Title: "Unsupported message type", Message: "Unsupported message type", Href: ErrorHref}
		e.ErrorData.Details = "Message type is not currently supported."
		st.Errors = []wireError{e}
	} else {
		c := &wireConversation{ID: s.conv.id}
		c.Origin.Type = s.conv.category
		if status == "sent" {
			c.ExpirationTimestamp = unixString(s.conv.expires)
		}
		st.Conversation = c
		st.Pricing = s.pricing()
	}
	return marshalWebhook(s.wabaID, wireValue{
		MessagingProduct: "whatsapp",
		Metadata:         wireMetadata{DisplayPhoneNumber: s.display, PhoneNumberID: s.phoneNumberID},
		Statuses:         []wireStatus{st},
	})
}

// pricing follows Meta's two models: conversation-based (every conversation
// billable) and per-message (service replies free, templates regular).
func (s *statusSpec) pricing() *wirePricing {
	p := &wirePricing{Billable: true, PricingModel: s.pricingModel, Category: s.conv.category}
	if s.pricingModel == PricingPMP {
		if s.conv.category == "service" {
			p.Billable, p.Type = false, "free_customer_service"
		} else {
			p.Type = "regular"
		}
	}
	return p
}

// inboundBody builds the webhook of a customer's text message.
func inboundBody(wabaID, phoneNumberID, display, from, name, wamid, text string, now time.Time) []byte {
	c := wireContact{WaID: from}
	c.Profile.Name = name
	m := wireInbound{From: from, ID: wamid, Timestamp: unixString(now), Type: "text"}
	m.Text.Body = text
	return marshalWebhook(wabaID, wireValue{
		MessagingProduct: "whatsapp",
		Metadata:         wireMetadata{DisplayPhoneNumber: display, PhoneNumberID: phoneNumberID},
		Contacts:         []wireContact{c},
		Messages:         []wireInbound{m},
	})
}

func marshalWebhook(wabaID string, v wireValue) []byte {
	body, err := json.Marshal(wireWebhook{
		Object: webhook.ObjectWhatsApp,
		Entry:  []wireEntry{{ID: wabaID, Changes: []wireChange{{Value: v, Field: "messages"}}}},
	})
	if err != nil {
		panic("sandbox: marshal webhook: " + err.Error()) // plain structs of strings: cannot fail
	}
	return body
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
