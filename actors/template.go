package actors

import (
	"encoding/json"
	"strings"
	"time"
)

// Template statuses, as Meta's message_templates endpoint reports them. Only
// an approved template can be sent.
const (
	TemplateApproved        = "APPROVED"
	TemplatePending         = "PENDING"
	TemplateRejected        = "REJECTED"
	TemplatePaused          = "PAUSED"
	TemplateDisabled        = "DISABLED"
	TemplateInAppeal        = "IN_APPEAL"
	TemplatePendingDeletion = "PENDING_DELETION"
	TemplateDeleted         = "DELETED"
	TemplateArchived        = "ARCHIVED"
	TemplateLimitExceeded   = "LIMIT_EXCEEDED"
)

// Template quality ratings (quality_score.score).
const (
	QualityGreen   = "GREEN"
	QualityYellow  = "YELLOW"
	QualityRed     = "RED"
	QualityUnknown = "UNKNOWN"
)

// Template categories.
const (
	CategoryMarketing      = "MARKETING"
	CategoryUtility        = "UTILITY"
	CategoryAuthentication = "AUTHENTICATION"
)

// Parameter formats: how a template's variables are written and filled.
// Positional variables are {{1}}, {{2}}, ... and are filled in order;
// named ones are {{first_name}} and are filled by parameter_name.
const (
	FormatPositional = "POSITIONAL"
	FormatNamed      = "NAMED"
)

// Component types of a template definition.
const (
	ComponentHeader           = "HEADER"
	ComponentBody             = "BODY"
	ComponentFooter           = "FOOTER"
	ComponentButtons          = "BUTTONS"
	ComponentCarousel         = "CAROUSEL"
	ComponentLimitedTimeOffer = "LIMITED_TIME_OFFER"
)

// Header formats.
const (
	HeaderText     = "TEXT"
	HeaderImage    = "IMAGE"
	HeaderVideo    = "VIDEO"
	HeaderDocument = "DOCUMENT"
	HeaderLocation = "LOCATION"
)

// Button types of a template definition. Types not listed here (newer
// ones) are kept as Meta sends them.
const (
	ButtonQuickReply  = "QUICK_REPLY"
	ButtonURL         = "URL"
	ButtonPhoneNumber = "PHONE_NUMBER"
	ButtonCopyCode    = "COPY_CODE"
	ButtonOTP         = "OTP"
	ButtonFlow        = "FLOW"
	ButtonCatalog     = "CATALOG"
	ButtonMPM         = "MPM"
	ButtonVoiceCall   = "VOICE_CALL"
)

// Template is one message template of a WhatsApp Business Account (WABA) in
// one language, as the engine keeps it: synced from Meta's
// message_templates endpoint, updated by template webhooks and by the
// failures of sends. (BusinessAccountID, Name, Language) is its key.
type Template struct {
	BusinessAccountID string
	// ID is Meta's template id.
	ID       string
	Name     string
	Language string
	Status   string
	Category string
	// Quality is the quality rating (GREEN, YELLOW, RED, UNKNOWN), "" when
	// Meta gave none.
	Quality string
	// ParameterFormat is FormatPositional (also when Meta sent none) or
	// FormatNamed.
	ParameterFormat string
	Components      []TemplateComponent
	// Reason says why the template is not usable, when it is not: Meta's
	// rejection or pause reason, or the send failure that marked it.
	Reason string
	// FailedCode is the Cloud API error (132xxx) of a send that marked the
	// template unusable; 0 when none. A sync or a status webhook clears it.
	FailedCode int
	// UpdatedAt is when the engine last wrote the template.
	UpdatedAt time.Time
}

// Usable reports whether the template may be sent: approved by Meta and not
// marked by a failed send since.
func (t Template) Usable() bool { return t.Status == TemplateApproved && t.FailedCode == 0 }

// Named reports whether the template's variables are named.
func (t Template) Named() bool { return strings.EqualFold(t.ParameterFormat, FormatNamed) }

// TemplateComponent is one component of a template definition, in Meta's
// format (its JSON field names are Meta's).
type TemplateComponent struct {
	// Type is HEADER, BODY, FOOTER, BUTTONS, CAROUSEL or
	// LIMITED_TIME_OFFER (or a newer one, kept as sent).
	Type string `json:"type"`
	// Format is a header's: TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION.
	Format string `json:"format,omitempty"`
	// Text is the header, body or footer text with its variables.
	Text string `json:"text,omitempty"`
	// Example is Meta's example object, kept as sent.
	Example json.RawMessage `json:"example,omitempty"`
	// Buttons are a BUTTONS component's.
	Buttons []TemplateButton `json:"buttons,omitempty"`
	// Cards are a CAROUSEL component's.
	Cards []TemplateCard `json:"cards,omitempty"`
	// LimitedTimeOffer is a LIMITED_TIME_OFFER component's.
	LimitedTimeOffer *TemplateOffer `json:"limited_time_offer,omitempty"`
	// AddSecurityRecommendation and CodeExpirationMinutes are an
	// authentication template's body and footer settings.
	AddSecurityRecommendation bool `json:"add_security_recommendation,omitempty"`
	CodeExpirationMinutes     int  `json:"code_expiration_minutes,omitempty"`
}

// TemplateButton is one button of a BUTTONS component.
type TemplateButton struct {
	// Type is QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW,
	// CATALOG, MPM, VOICE_CALL or a newer one.
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
	// URL is a URL button's address; a trailing {{1}} makes its suffix a
	// send-time parameter.
	URL         string `json:"url,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
	// OTPType is an OTP button's: COPY_CODE, ONE_TAP or ZERO_TAP.
	OTPType string `json:"otp_type,omitempty"`
	// Example is Meta's example (a list for URL buttons, a string for
	// copy-code buttons), kept as sent.
	Example json.RawMessage `json:"example,omitempty"`
}

// TemplateCard is one card of a carousel: its own header, body and buttons.
type TemplateCard struct {
	Components []TemplateComponent `json:"components"`
}

// TemplateOffer is a limited-time offer's definition.
type TemplateOffer struct {
	Text          string `json:"text,omitempty"`
	HasExpiration bool   `json:"has_expiration"`
}

// TemplateView is the API's template object.
type TemplateView struct {
	ID                string              `json:"id"`
	BusinessAccountID string              `json:"businessAccountId"`
	Name              string              `json:"name"`
	Language          string              `json:"language"`
	Status            string              `json:"status"`
	Category          string              `json:"category"`
	Quality           string              `json:"quality,omitempty"`
	ParameterFormat   string              `json:"parameterFormat"`
	Components        []TemplateComponent `json:"components"`
	// Usable says whether a send of it is accepted.
	Usable     bool      `json:"usable"`
	Reason     string    `json:"reason,omitempty"`
	FailedCode int       `json:"failedCode,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// View renders t as the API's template object.
func (t Template) View() TemplateView {
	comps := t.Components
	if comps == nil {
		comps = []TemplateComponent{}
	}
	format := t.ParameterFormat
	if format == "" {
		format = FormatPositional
	}
	return TemplateView{ID: t.ID, BusinessAccountID: t.BusinessAccountID, Name: t.Name, Language: t.Language, Status: t.Status,
		Category: t.Category, Quality: t.Quality, ParameterFormat: format, Components: comps, Usable: t.Usable(),
		Reason: t.Reason, FailedCode: t.FailedCode, UpdatedAt: t.UpdatedAt}
}
