package cloudapi

import (
	"strings"
	"time"
)

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

// conversation is the pricing conversation a status belongs to.
type conversation struct {
	id       string
	category string // service, utility, marketing, authentication
	expires  time.Time
}

// statusStep is one status callback of a message: its name and, for
// "failed", the error Meta reports.
type statusStep struct {
	status string
	err    *wireError
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
	// inWindow: the customer wrote within the service window, which makes
	// a utility template free under per-message pricing.
	inWindow bool
}

// update builds the status webhook update for st at now. A failed status
// carries its error and no conversation or pricing; a read status carries
// neither either (Meta prices a message once, at sent and delivered).
func (s *statusSpec) update(st statusStep, now time.Time) update {
	ws := wireStatus{
		ID:                    s.wamid,
		Status:                st.status,
		Timestamp:             unixString(now),
		RecipientID:           s.waID,
		BizOpaqueCallbackData: s.bizOpaque,
	}
	switch {
	case st.err != nil:
		ws.Errors = []wireError{*st.err}
	case st.status == "sent" || st.status == "delivered":
		c := &wireConversation{ID: s.conv.id}
		c.Origin.Type = s.conv.category
		if st.status == "sent" {
			c.ExpirationTimestamp = unixString(s.conv.expires)
		}
		ws.Conversation = c
		ws.Pricing = s.pricing()
	}
	return update{wabaID: s.wabaID, field: fieldMessages, phoneNumberID: s.phoneNumberID, display: s.display, status: &ws}
}

// pricing follows Meta's two models. Conversation-based (CBP): every
// conversation billable, by its category. Per-message (PMP, Meta's model
// since July 2025): free-form replies are free ("free_customer_service"),
// so are utility templates sent while the customer service window is
// open; every other template is "regular" and billable.
func (s *statusSpec) pricing() *wirePricing {
	p := &wirePricing{Billable: true, PricingModel: s.pricingModel, Category: s.conv.category}
	if s.pricingModel != PricingPMP {
		return p
	}
	switch {
	case s.conv.category == "service", s.conv.category == "utility" && s.inWindow:
		p.Billable, p.Type = false, "free_customer_service"
	default:
		p.Type = "regular"
	}
	return p
}

// Errors the sandbox reports in failed status callbacks, with Meta's
// titles and details.
var (
	errReEngagement = newWireError(CodeReEngagement, "Re-engagement message",
		"Message failed to send because more than 24 hours have passed since the customer last replied to this number.")
	errUndeliverable = newWireError(CodeUndeliverable, "Message undeliverable",
		"Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted the latest Terms of Service; the recipient uses an old WhatsApp version.")
	errUnsupportedType = newWireError(CodeUnsupportedType, "Unsupported message type",
		"Message type is not currently supported.")
	errMediaUpload = newWireError(CodeMediaUpload, "Media upload error",
		"Unable to use the media of the message: the media id is unknown, expired, uploaded on another business phone number, or of a type this message type does not take.")
)

// pricingCategory is the lower-case pricing category of a template
// category (MARKETING -> marketing).
func pricingCategory(templateCategory string) string {
	if templateCategory == "" {
		return "utility"
	}
	return strings.ToLower(templateCategory)
}
