package cloudapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits Meta enforces on the send-message payload.
const (
	maxTextBody        = 4096
	maxCaption         = 1024
	maxBizOpaque       = 512
	maxInteractiveBody = 1024
	maxFooter          = 60
	maxButtonTitle     = 20
	maxButtonID        = 256
	maxButtons         = 3
	maxListButton      = 20
	maxSections        = 10
	maxRows            = 10
	maxRowID           = 200
	maxRowTitle        = 24
	maxRowDescription  = 72
)

// messageTypes are the values of "type" the send endpoint accepts.
var messageTypes = []string{"text", "image", "audio", "video", "document", "sticker",
	"location", "contacts", "interactive", "template", "reaction"}

// sendRequest is the body of POST /{version}/{phone_number_id}/messages:
// either a message or, with "status":"read", a mark-as-read call. The
// typed objects stay raw so each is decoded strictly on its own and an
// error can name the parameter it is about.
type sendRequest struct {
	MessagingProduct      *string         `json:"messaging_product"`
	RecipientType         *string         `json:"recipient_type"`
	To                    *string         `json:"to"`
	Type                  *string         `json:"type"`
	Context               json.RawMessage `json:"context"`
	BizOpaqueCallbackData *string         `json:"biz_opaque_callback_data"`

	// Mark as read (and optionally show a typing indicator).
	Status          *string         `json:"status"`
	MessageID       *string         `json:"message_id"`
	TypingIndicator json.RawMessage `json:"typing_indicator"`

	Text        json.RawMessage `json:"text"`
	Image       json.RawMessage `json:"image"`
	Audio       json.RawMessage `json:"audio"`
	Video       json.RawMessage `json:"video"`
	Document    json.RawMessage `json:"document"`
	Sticker     json.RawMessage `json:"sticker"`
	Location    json.RawMessage `json:"location"`
	Contacts    json.RawMessage `json:"contacts"`
	Interactive json.RawMessage `json:"interactive"`
	Template    json.RawMessage `json:"template"`
	Reaction    json.RawMessage `json:"reaction"`
}

// objects returns the typed objects by their type name; an object sent as
// null counts as absent.
func (r *sendRequest) objects() map[string]json.RawMessage {
	m := map[string]json.RawMessage{
		"text": r.Text, "image": r.Image, "audio": r.Audio, "video": r.Video,
		"document": r.Document, "sticker": r.Sticker, "location": r.Location,
		"contacts": r.Contacts, "interactive": r.Interactive, "template": r.Template,
		"reaction": r.Reaction,
	}
	for k, v := range m {
		m[k] = unwrapJSONString(v)
	}
	return m
}

// unwrapJSONString returns the JSON a parameter carries: Graph accepts an
// object or array parameter also as a string holding its JSON encoding
// ("contacts":"[{...}]", as form-encoded clients send it). null is absent.
func unwrapJSONString(v json.RawMessage) json.RawMessage {
	if string(v) == "null" {
		return nil
	}
	if len(v) == 0 || v[0] != '"' {
		return v
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return v
	}
	inner := bytes.TrimSpace([]byte(s))
	if len(inner) > 0 && (inner[0] == '{' || inner[0] == '[') && json.Valid(inner) {
		return inner
	}
	return v
}

// validMessage is what the send handler needs from a validated message.
type validMessage struct {
	to        string // as sent, for contacts[].input
	waID      string // digits only
	typ       string
	bizOpaque string
	template  *sendTemplate // type template: checked against the registry by the handler
	mediaID   string        // a media message's id (not its link): checked against the uploads by the handler
}

// markRead is a validated mark-as-read call.
type markRead struct {
	messageID string
}

// parseSend decodes and validates a send body the way the Cloud API does.
// Exactly one of the results is non-nil. Unknown top-level parameters are
// ignored, as Graph ignores them; inside a typed object (text, template,
// ...) an unknown key is refused, as Meta refuses it.
func parseSend(body []byte) (*validMessage, *markRead, *apiError) {
	var req sendRequest
	if e := decodeLenient(body, &req); e != nil {
		return nil, nil, e
	}
	// A null object is the same as an absent one.
	for _, raw := range []*json.RawMessage{&req.Context, &req.TypingIndicator} {
		*raw = unwrapJSONString(*raw)
	}
	if req.MessagingProduct == nil || *req.MessagingProduct == "" {
		return nil, nil, invalidParam("The parameter messaging_product is required.")
	}
	if *req.MessagingProduct != "whatsapp" {
		return nil, nil, invalidParam("Param messaging_product must be 'whatsapp', got %q.", clip(*req.MessagingProduct))
	}
	if req.Status != nil {
		mr, e := validateMarkRead(&req)
		return nil, mr, e
	}
	if req.MessageID != nil || req.TypingIndicator != nil {
		return nil, nil, invalidParam("Params message_id and typing_indicator are only allowed with status 'read'.")
	}
	msg, e := validateMessage(&req)
	return msg, nil, e
}

func validateMarkRead(req *sendRequest) (*markRead, *apiError) {
	if *req.Status != "read" {
		return nil, invalidParam("Param status must be 'read', got %q.", clip(*req.Status))
	}
	if req.MessageID == nil || *req.MessageID == "" {
		return nil, invalidParam("The parameter message_id is required.")
	}
	for name, raw := range req.objects() {
		if raw != nil {
			return nil, invalidParam("Param %s is not allowed with status 'read'.", name)
		}
	}
	if req.To != nil || req.Type != nil || req.Context != nil || req.RecipientType != nil {
		return nil, invalidParam("Params to, type, recipient_type and context are not allowed with status 'read'.")
	}
	if req.TypingIndicator != nil {
		var ti struct {
			Type string `json:"type"`
		}
		if e := decodeStrict(req.TypingIndicator, &ti, "typing_indicator"); e != nil {
			return nil, e
		}
		if ti.Type != "text" {
			return nil, invalidParam("Param typing_indicator['type'] must be 'text'.")
		}
	}
	return &markRead{messageID: *req.MessageID}, nil
}

func validateMessage(req *sendRequest) (*validMessage, *apiError) {
	if req.To == nil || *req.To == "" {
		return nil, invalidParam("The parameter to is required.")
	}
	waID, ok := phoneDigits(*req.To)
	if !ok {
		return nil, invalidParam("Param to must be a phone number of 7 to 15 digits, optionally with a leading '+' and with spaces, hyphens or parentheses.")
	}
	if req.RecipientType != nil && *req.RecipientType != "individual" {
		return nil, invalidParam("Param recipient_type must be 'individual'.")
	}
	typ := "text" // Meta's default when type is omitted
	if req.Type != nil {
		typ = *req.Type
	}
	objects := req.objects()
	raw, known := objects[typ]
	if !known {
		return nil, invalidParam("Param type must be one of {%s}, got %q.", strings.Join(messageTypes, ", "), clip(typ))
	}
	for _, name := range messageTypes {
		if name != typ && objects[name] != nil {
			return nil, invalidParam("Param %s is not allowed when type is %s.", name, typ)
		}
	}
	if raw == nil {
		return nil, invalidParam("The parameter %s is required when type is %s.", typ, typ)
	}
	if req.Context != nil {
		var c struct {
			MessageID string `json:"message_id"`
		}
		if e := decodeStrict(req.Context, &c, "context"); e != nil {
			return nil, e
		}
		if c.MessageID == "" {
			return nil, invalidParam("Param context['message_id'] is required.")
		}
	}
	var bizOpaque string
	if req.BizOpaqueCallbackData != nil {
		bizOpaque = *req.BizOpaqueCallbackData
		if utf8.RuneCountInString(bizOpaque) > maxBizOpaque {
			return nil, invalidParam("Param biz_opaque_callback_data must be at most %d characters long.", maxBizOpaque)
		}
	}
	msg := &validMessage{to: *req.To, waID: waID, typ: typ, bizOpaque: bizOpaque}
	if typ == "template" {
		t, e := parseTemplate(raw)
		if e != nil {
			return nil, e
		}
		msg.template = t
		return msg, nil
	}
	if e := validateObject(typ, raw); e != nil {
		return nil, e
	}
	if isMediaType(typ) {
		var m struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &m) // validated above
		msg.mediaID = m.ID
	}
	return msg, nil
}

func validateObject(typ string, raw json.RawMessage) *apiError {
	switch typ {
	case "text":
		return validateText(raw)
	case "image", "video":
		return validateMedia(typ, raw, true, false)
	case "document":
		return validateMedia(typ, raw, true, true)
	case "audio":
		return validateAudio(raw)
	case "sticker":
		return validateMedia(typ, raw, false, false)
	case "location":
		return validateLocation(raw)
	case "contacts":
		return validateContacts(raw)
	case "interactive":
		return validateInteractive(raw)
	case "reaction":
		return validateReaction(raw)
	}
	return invalidParam("Param type %q is not supported.", typ)
}

func validateText(raw json.RawMessage) *apiError {
	var t struct {
		Body       *string `json:"body"`
		PreviewURL *bool   `json:"preview_url"`
	}
	if e := decodeStrict(raw, &t, "text"); e != nil {
		return e
	}
	if t.Body == nil || strings.TrimSpace(*t.Body) == "" {
		return invalidParam("Param text['body'] is required and must not be empty.")
	}
	if n := utf8.RuneCountInString(*t.Body); n > maxTextBody {
		return invalidParam("Param text['body'] must be at most %d characters long, got %d.", maxTextBody, n)
	}
	return nil
}

type mediaObject struct {
	ID       *string `json:"id"`
	Link     *string `json:"link"`
	Caption  *string `json:"caption"`
	Filename *string `json:"filename"`
}

// validateAudio accepts an audio object, which may ask to be shown as a
// voice message ("voice": true, an OGG/OPUS file).
func validateAudio(raw json.RawMessage) *apiError {
	var a struct {
		mediaObject
		Voice *bool `json:"voice"`
	}
	if e := decodeStrict(raw, &a, "audio"); e != nil {
		return e
	}
	b, _ := json.Marshal(a.mediaObject)
	return validateMedia("audio", b, false, false)
}

func validateMedia(typ string, raw json.RawMessage, caption, filename bool) *apiError {
	var m mediaObject
	if e := decodeStrict(raw, &m, typ); e != nil {
		return e
	}
	hasID := m.ID != nil && *m.ID != ""
	hasLink := m.Link != nil && *m.Link != ""
	switch {
	case hasID && hasLink:
		return invalidParam("Param %s must have exactly one of 'id' or 'link', not both.", typ)
	case !hasID && !hasLink:
		return invalidParam("Param %s requires one of 'id' or 'link'.", typ)
	case hasLink:
		u, err := url.Parse(*m.Link)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalidParam("Param %s['link'] must be an http or https URL.", typ)
		}
	}
	if m.Caption != nil {
		if !caption {
			return invalidParam("Param %s['caption'] is not allowed for %s messages.", typ, typ)
		}
		if utf8.RuneCountInString(*m.Caption) > maxCaption {
			return invalidParam("Param %s['caption'] must be at most %d characters long.", typ, maxCaption)
		}
	}
	if m.Filename != nil && !filename {
		return invalidParam("Param %s['filename'] is only allowed for document messages.", typ)
	}
	return nil
}

func validateLocation(raw json.RawMessage) *apiError {
	var l struct {
		Latitude  json.RawMessage `json:"latitude"`
		Longitude json.RawMessage `json:"longitude"`
		Name      *string         `json:"name"`
		Address   *string         `json:"address"`
	}
	if e := decodeStrict(raw, &l, "location"); e != nil {
		return e
	}
	if e := coordinate(l.Latitude, "latitude", 90); e != nil {
		return e
	}
	return coordinate(l.Longitude, "longitude", 180)
}

// coordinate accepts a JSON number or a numeric string (Meta's samples use
// both) within ±limit.
func coordinate(raw json.RawMessage, name string, limit float64) *apiError {
	if raw == nil || string(raw) == "null" {
		return invalidParam("Param location['%s'] is required.", name)
	}
	s := string(raw)
	if n := len(s); n >= 2 && s[0] == '"' && s[n-1] == '"' {
		s = s[1 : n-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < -limit || v > limit {
		return invalidParam("Param location['%s'] must be a number between -%g and %g.", name, limit, limit)
	}
	return nil
}

type contactCard struct {
	Addresses []struct {
		Street      string `json:"street"`
		City        string `json:"city"`
		State       string `json:"state"`
		Zip         string `json:"zip"`
		Country     string `json:"country"`
		CountryCode string `json:"country_code"`
		Type        string `json:"type"`
	} `json:"addresses"`
	Birthday string `json:"birthday"`
	Emails   []struct {
		Email string `json:"email"`
		Type  string `json:"type"`
	} `json:"emails"`
	Name *struct {
		FormattedName string `json:"formatted_name"`
		FirstName     string `json:"first_name"`
		LastName      string `json:"last_name"`
		MiddleName    string `json:"middle_name"`
		Suffix        string `json:"suffix"`
		Prefix        string `json:"prefix"`
	} `json:"name"`
	Org *struct {
		Company    string `json:"company"`
		Department string `json:"department"`
		Title      string `json:"title"`
	} `json:"org"`
	Phones []struct {
		Phone string `json:"phone"`
		Type  string `json:"type"`
		WaID  string `json:"wa_id"`
	} `json:"phones"`
	URLs []struct {
		URL  string `json:"url"`
		Type string `json:"type"`
	} `json:"urls"`
}

func validateContacts(raw json.RawMessage) *apiError {
	var cards []contactCard
	if e := decodeStrict(raw, &cards, "contacts"); e != nil {
		return e
	}
	if len(cards) == 0 {
		return invalidParam("Param contacts must be a non-empty array.")
	}
	for i := range cards {
		if cards[i].Name == nil || strings.TrimSpace(cards[i].Name.FormattedName) == "" {
			return invalidParam("Param contacts[%d]['name']['formatted_name'] is required.", i)
		}
	}
	return nil
}

func validateReaction(raw json.RawMessage) *apiError {
	var r struct {
		MessageID string  `json:"message_id"`
		Emoji     *string `json:"emoji"`
	}
	if e := decodeStrict(raw, &r, "reaction"); e != nil {
		return e
	}
	if r.MessageID == "" {
		return invalidParam("Param reaction['message_id'] is required.")
	}
	if r.Emoji == nil {
		// An empty string is valid: it removes the reaction.
		return invalidParam("Param reaction['emoji'] is required (an empty string removes the reaction).")
	}
	if utf8.RuneCountInString(*r.Emoji) > 16 {
		return invalidParam("Param reaction['emoji'] must be a single emoji.")
	}
	return nil
}

// decodeLenient decodes the request body into v like decodeStrict, except
// that unknown top-level keys are ignored.
func decodeLenient(raw []byte, v any) *apiError {
	return decodeJSON(raw, v, "", false)
}

// decodeStrict decodes one JSON value into v, refusing unknown fields,
// wrong types and trailing data; param names the object in the error.
func decodeStrict(raw []byte, v any, param string) *apiError {
	return decodeJSON(raw, v, param, true)
}

func decodeJSON(raw []byte, v any, param string, strict bool) *apiError {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return invalidParam("Param %s must be a single JSON value.", paramName(param, ""))
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return invalidParam("Param %s must be of type %s, got a JSON %s.", paramName(param, typeErr.Field), jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return invalidParam("The request body is not valid JSON.")
	}
	// encoding/json reports unknown fields only as text: `json: unknown field "x"`.
	if key, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if param == "" {
			return invalidParam("Unexpected key %s in the request body.", key)
		}
		return invalidParam("Unexpected key %s on param %s.", key, param)
	}
	return invalidParam("Param %s is not valid: %s.", paramName(param, ""), strings.TrimPrefix(err.Error(), "json: "))
}

// paramName renders a parameter path in Meta's style: text['body'].
func paramName(param, field string) string {
	if field == "" {
		if param == "" {
			return "body"
		}
		return param
	}
	parts := strings.Split(field, ".")
	if param == "" {
		param, parts = parts[0], parts[1:]
	}
	var b strings.Builder
	b.WriteString(param)
	for _, p := range parts {
		fmt.Fprintf(&b, "['%s']", p)
	}
	return b.String()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return "number"
}

// phoneDigits accepts a phone number as Meta's send endpoint does: an
// optional leading '+', then 7 to 15 digits, which spaces, hyphens and
// parentheses may separate ("+1 (631) 555-1234"). It returns the digits.
func phoneDigits(s string) (string, bool) {
	s = strings.TrimSpace(s)
	rest := strings.TrimPrefix(s, "+")
	var d strings.Builder
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c >= '0' && c <= '9':
			d.WriteByte(c)
		case c == ' ' || c == '-' || c == '(' || c == ')':
			if d.Len() == 0 && c != '(' {
				return "", false // separators come between digits
			}
		default:
			return "", false
		}
	}
	if d.Len() < 7 || d.Len() > 15 {
		return "", false
	}
	return d.String(), true
}

// clip keeps echoed client values short in error details.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
