package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// The send endpoints validate a client's message, resolve the recipient,
// build the exact Cloud API request body, and hand it to the conversation
// actor, which decides (window, closed) and queues it.

type textObject struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"previewUrl,omitempty"`
}

type mediaObject struct {
	MediaID  string `json:"mediaId,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

type reactionObject struct {
	MessageID string `json:"messageId"`
	Emoji     string `json:"emoji"`
}

type contextObject struct {
	MessageID string `json:"messageId"`
}

type sendRequest struct {
	To            string          `json:"to"`
	Type          string          `json:"type"`
	PhoneNumberID string          `json:"phoneNumberId,omitempty"`
	Text          *textObject     `json:"text,omitempty"`
	Image         *mediaObject    `json:"image,omitempty"`
	Document      *mediaObject    `json:"document,omitempty"`
	Audio         *mediaObject    `json:"audio,omitempty"`
	Video         *mediaObject    `json:"video,omitempty"`
	Sticker       *mediaObject    `json:"sticker,omitempty"`
	Interactive   json.RawMessage `json:"interactive,omitempty"`
	Reaction      *reactionObject `json:"reaction,omitempty"`
	Context       *contextObject  `json:"context,omitempty"`
}

type templateObject struct {
	Name       string          `json:"name"`
	Language   json.RawMessage `json:"language"`
	Components json.RawMessage `json:"components,omitempty"`
}

type templateRequest struct {
	To            string          `json:"to"`
	PhoneNumberID string          `json:"phoneNumberId,omitempty"`
	Template      *templateObject `json:"template"`
}

type messageEnvelope struct {
	Message actors.MessageView `json:"message"`
}

var (
	templateName = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	languageCode = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z]{2,4})?$`)
)

// cloudMedia is a media object as the Cloud API takes it.
type cloudMedia struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// cloudBody builds the Cloud API body: messaging_product, recipient_type,
// to, type, the typed object and context.message_id.
func cloudBody(to, typ string, object any, contextID string) json.RawMessage {
	body := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": typ, typ: object}
	if contextID != "" {
		body["context"] = map[string]string{"message_id": contextID}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		panic("marshal cloud body: " + err.Error()) // only our own types reach here
	}
	return raw
}

func validMedia(ve *validationError, field string, m *mediaObject, captions, filename bool) cloudMedia {
	if (m.MediaID == "") == (m.Link == "") {
		ve.add(field, "MEDIA_SOURCE", "give exactly one of mediaId or link")
	}
	if m.Link != "" {
		if u, err := url.Parse(m.Link); err != nil || u.Scheme != "https" || u.Host == "" || len(m.Link) > 2048 {
			ve.add(field+".link", "INVALID_URL", "must be an https URL")
		}
	}
	if len(m.MediaID) > 128 {
		ve.add(field+".mediaId", "INVALID_LENGTH", "is too long")
	}
	if m.Caption != "" && !captions {
		ve.add(field+".caption", "NOT_ALLOWED", "this media type takes no caption")
	}
	if utf8.RuneCountInString(m.Caption) > 1024 {
		ve.add(field+".caption", "INVALID_LENGTH", "must be at most 1024 characters")
	}
	if m.Filename != "" && !filename {
		ve.add(field+".filename", "NOT_ALLOWED", "only documents take a filename")
	}
	if len(m.Filename) > 240 {
		ve.add(field+".filename", "INVALID_LENGTH", "must be at most 240 characters")
	}
	return cloudMedia{ID: m.MediaID, Link: m.Link, Caption: m.Caption, Filename: m.Filename}
}

// buildSend validates a free-form request and returns its type, the
// client-facing content, a text rendering and the Cloud API object.
func buildSend(req sendRequest) (content any, text string, object any, ae *apiError) {
	ve := &validationError{}
	given := 0
	for _, set := range []bool{req.Text != nil, req.Image != nil, req.Document != nil, req.Audio != nil, req.Video != nil,
		req.Sticker != nil, len(req.Interactive) > 0, req.Reaction != nil} {
		if set {
			given++
		}
	}
	if given > 1 {
		ve.add("type", "AMBIGUOUS", "give only the object named by type")
	}
	switch req.Type {
	case "text":
		if req.Text == nil {
			ve.add("text", "REQUIRED", "is required for type text")
			break
		}
		if n := utf8.RuneCountInString(req.Text.Body); n < 1 || n > 4096 || strings.TrimSpace(req.Text.Body) == "" {
			ve.add("text.body", "INVALID_LENGTH", "must be 1 to 4096 characters")
		}
		content, text = req.Text, req.Text.Body
		object = map[string]any{"body": req.Text.Body, "preview_url": req.Text.PreviewURL}
	case "image", "video", "document", "audio", "sticker":
		m := map[string]*mediaObject{"image": req.Image, "video": req.Video, "document": req.Document, "audio": req.Audio, "sticker": req.Sticker}[req.Type]
		if m == nil {
			ve.add(req.Type, "REQUIRED", "is required for type "+req.Type)
			break
		}
		captions := req.Type == "image" || req.Type == "video" || req.Type == "document"
		object = validMedia(ve, req.Type, m, captions, req.Type == "document")
		content, text = m, m.Caption
		if text == "" {
			text = "[" + req.Type + "]"
		}
	case "interactive":
		var probe struct {
			Type   string          `json:"type"`
			Body   json.RawMessage `json:"body"`
			Action json.RawMessage `json:"action"`
		}
		if len(req.Interactive) == 0 || json.Unmarshal(req.Interactive, &probe) != nil {
			ve.add("interactive", "REQUIRED", "must be an object for type interactive")
			break
		}
		if probe.Type != "button" && probe.Type != "list" && probe.Type != "cta_url" && probe.Type != "product" && probe.Type != "product_list" {
			ve.add("interactive.type", "INVALID_VALUE", "must be button, list, cta_url, product or product_list")
		}
		if len(probe.Action) == 0 {
			ve.add("interactive.action", "REQUIRED", "is required")
		}
		if len(req.Interactive) > 16<<10 {
			ve.add("interactive", "TOO_LARGE", "must be at most 16 KiB")
		}
		checkInteractive(ve, req.Interactive)
		content, text, object = req.Interactive, "[interactive]", req.Interactive
	case "reaction":
		if req.Reaction == nil || req.Reaction.MessageID == "" {
			ve.add("reaction.messageId", "REQUIRED", "is required")
			break
		}
		if !validReaction(req.Reaction.Emoji) {
			ve.add("reaction.emoji", "INVALID_VALUE", "must be one emoji, or empty to remove the reaction")
		}
		content, text = req.Reaction, req.Reaction.Emoji
		object = map[string]string{"message_id": req.Reaction.MessageID, "emoji": req.Reaction.Emoji}
	case "":
		ve.add("type", "REQUIRED", "is required")
	default:
		ve.add("type", "INVALID_VALUE", "must be text, image, document, audio, video, sticker, interactive or reaction")
	}
	if req.Context != nil && (req.Context.MessageID == "" || len(req.Context.MessageID) > 256) {
		ve.add("context.messageId", "REQUIRED", "is required inside context")
	}
	return content, text, object, ve.err()
}

// recipient resolves to (an E.164 number or a customer id) to a customer.
// create makes an unknown number a new customer (templates may start a
// conversation).
func (s *Server) recipient(ctx context.Context, to string, create bool) (actors.Customer, *apiError, error) {
	to = strings.TrimSpace(to)
	if to == "" {
		ve := &validationError{}
		ve.add("to", "REQUIRED", "is required: an E.164 number or a customer id")
		return actors.Customer{}, ve.err(), nil
	}
	if strings.HasPrefix(to, "+") {
		phone, ok := NormalizePhone(to, s.cfg.DefaultPhoneRegion)
		if !ok {
			ve := &validationError{}
			ve.add("to", "INVALID_PHONE", "must be an E.164 number such as +919876543210, or a customer id")
			return actors.Customer{}, ve.err(), nil
		}
		c, err := s.customerByPhone(ctx, phone)
		if err == nil {
			return c, nil, nil
		}
		if !errors.Is(err, actors.ErrNotFound) {
			return actors.Customer{}, nil, err
		}
		if !create {
			return actors.Customer{}, errf(http.StatusUnprocessableEntity, "OUTSIDE_SERVICE_WINDOW",
				"this customer has never written: only templates can start a conversation"), nil
		}
		now := s.now().UTC().Truncate(1e6)
		c = actors.Customer{ID: actors.NewID(), Name: phone, Phone: phone, WaID: strings.TrimPrefix(phone, "+"), Tags: []string{},
			Attributes: map[string]string{}, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := s.store.CreateCustomer(ctx, c); err != nil {
			if errors.Is(err, actors.ErrDuplicate) {
				c, err = s.customerByPhone(ctx, phone)
				return c, nil, err
			}
			return actors.Customer{}, nil, err
		}
		return c, nil, nil
	}
	c, err := s.customers.get(ctx, to)
	if errors.Is(err, actors.ErrNotFound) {
		return actors.Customer{}, errf(http.StatusNotFound, CodeNotFound, "no customer with that id"), nil
	}
	return c, nil, err
}

// phoneNumberID checks a send's phoneNumberId; "" is the default number,
// which the handler replaces with the customer's open conversation's
// number (replyNumber) once the customer is known.
func (s *Server) phoneNumberID(v string, ve *validationError) string {
	if v == "" {
		return s.cfg.WhatsAppPhoneNumberID
	}
	if len(v) > 64 || strings.ContainsAny(v, "/?#") {
		ve.add("phoneNumberId", "INVALID_VALUE", "is not a phone number id")
	}
	return v
}

func (s *Server) handleSendMessage(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, r, e)
		return
	}
	content, text, object, ae := buildSend(req)
	ve := &validationError{}
	phoneID := s.phoneNumberID(req.PhoneNumberID, ve)
	if ae == nil {
		ae = ve.err()
	}
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	var mediaID string
	if m := req.mediaObjectOf(); m != nil && m.MediaID != "" {
		// Our medium: the caller must see it, and it must fit the type.
		ae, err := s.checkSendMedia(r.Context(), req.Type, m.MediaID)
		if s.sendFailed(w, r, ae, err) {
			return
		}
		mediaID = m.MediaID
	}
	cust, ae, err := s.recipient(r.Context(), req.To, false)
	if s.sendFailed(w, r, ae, err) {
		return
	}
	if req.PhoneNumberID == "" {
		if phoneID, err = s.replyNumber(r.Context(), cust); s.sendFailed(w, r, nil, err) {
			return
		}
	}
	ctxID := ""
	if req.Context != nil {
		ctxID = req.Context.MessageID
	}
	rawContent, _ := json.Marshal(content)
	cmd := conversation.Send{MessageID: newMessageID(r.Context()), Type: req.Type, Text: text, Content: rawContent,
		Body: cloudBody(cust.WaID, req.Type, object, ctxID), Priority: actors.PriorityReply, MediaID: mediaID}
	s.dispatchSend(w, r, phoneID, cust, cmd)
}

func (s *Server) handleSendTemplate(w http.ResponseWriter, r *http.Request) {
	var req templateRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, r, e)
		return
	}
	ve := &validationError{}
	phoneID := s.phoneNumberID(req.PhoneNumberID, ve)
	var lang string
	if req.Template == nil {
		ve.add("template", "REQUIRED", "is required")
	} else {
		if !templateName.MatchString(req.Template.Name) {
			ve.add("template.name", "INVALID_VALUE", "must be the template's name: lower-case letters, digits and _")
		}
		var obj struct {
			Code string `json:"code"`
		}
		switch {
		case json.Unmarshal(req.Template.Language, &lang) == nil:
		case json.Unmarshal(req.Template.Language, &obj) == nil:
			lang = obj.Code
		}
		if !languageCode.MatchString(lang) {
			ve.add("template.language", "INVALID_VALUE", "must be a language code such as en_US (or {\"code\":\"en_US\"})")
		}
		if len(req.Template.Components) > 0 {
			var comps []json.RawMessage
			if json.Unmarshal(req.Template.Components, &comps) != nil || len(comps) > 20 {
				ve.add("template.components", "INVALID_VALUE", "must be an array of at most 20 components")
			}
		}
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	if s.refuseTemplate(w, r, phoneID, req.Template.Name, lang, req.Template.Components) {
		return
	}
	cust, ae, err := s.recipient(r.Context(), req.To, true)
	if s.sendFailed(w, r, ae, err) {
		return
	}
	if req.PhoneNumberID == "" {
		if phoneID, err = s.replyNumber(r.Context(), cust); s.sendFailed(w, r, nil, err) {
			return
		}
	}
	object := map[string]any{"name": req.Template.Name, "language": map[string]string{"code": lang}}
	if len(req.Template.Components) > 0 {
		object["components"] = req.Template.Components
	}
	rawContent, _ := json.Marshal(object)
	cmd := conversation.Send{MessageID: newMessageID(r.Context()), Type: "template", Text: "[template " + req.Template.Name + "]", Content: rawContent,
		Body: cloudBody(cust.WaID, "template", object, ""), Template: true, CustomerID: cust.ID, Priority: actors.PriorityBulk}
	s.dispatchSend(w, r, phoneID, cust, cmd)
}

func (s *Server) sendFailed(w http.ResponseWriter, r *http.Request, ae *apiError, err error) bool {
	switch {
	case err != nil:
		s.fail(w, r, err)
	case ae != nil:
		writeError(w, r, ae)
	default:
		return false
	}
	return true
}

// dispatchSend checks the caller may write to this conversation and asks
// its actor to queue the message. An agent writes only to the open
// conversation assigned to them; their template to a customer with no open
// conversation on that business number opens one assigned to them. A
// free-form send with no open conversation is refused: CONVERSATION_CLOSED
// when the last conversation of this business number and customer was
// closed, OUTSIDE_SERVICE_WINDOW otherwise.
func (s *Server) dispatchSend(w http.ResponseWriter, r *http.Request, phoneID string, cust actors.Customer, cmd conversation.Send) {
	p, _ := principalFrom(r.Context())
	cmd.ByUserID = p.User.ID
	if p.User.Role == actors.RoleAgent {
		cmd.AgentID = p.User.ID
	}
	ctx := r.Context()
	open, err := s.engine.Reads.OpenConversation(ctx, phoneID, cust.WaID)
	switch {
	case err == nil:
		if p.User.Role == actors.RoleAgent && open.AssigneeID != p.User.ID {
			writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "conversation not found"))
			return
		}
	case errors.Is(err, actors.ErrNotFound):
		if !cmd.Template {
			closed, _, lerr := s.engine.Reads.ListConversations(ctx, actors.ConversationFilter{CustomerID: cust.ID, PhoneNumberID: phoneID,
				States: []string{actors.StateClosed}, Page: 1, Limit: 1})
			if lerr == nil && len(closed) > 0 {
				writeError(w, r, errf(http.StatusConflict, "CONVERSATION_CLOSED", "the conversation is closed; a template can start a new one"))
				return
			}
			writeError(w, r, errf(http.StatusUnprocessableEntity, "OUTSIDE_SERVICE_WINDOW", "no open service window with this customer: only templates can be sent"))
			return
		}
	default:
		s.fail(w, r, err)
		return
	}
	key := conversation.Key{PhoneNumberID: phoneID, WaID: cust.WaID}
	// The actor gives up before we do, so its answer (queued, or surely
	// not) always arrives: a send we answer 503 for is never sent.
	cmd.Deadline = time.Now().Add(commandTimeout - sendAnswerMargin)
	out, err := conversation.Ask(s.engine.Directory, key, cmd, commandTimeout)
	switch {
	case err == nil:
	case errors.Is(err, conversation.ErrOutsideWindow):
		s.audit(r, "messages.send", "customer:"+cust.ID, actors.OutcomeDenied, "outside service window")
		writeError(w, r, errf(http.StatusUnprocessableEntity, "OUTSIDE_SERVICE_WINDOW",
			"more than the service window since the customer last wrote: only templates can be sent"))
		return
	case errors.Is(err, conversation.ErrClosed):
		writeError(w, r, errf(http.StatusConflict, "CONVERSATION_CLOSED", "conversation is closed"))
		return
	case errors.Is(err, actors.ErrNotFound):
		// The conversation changed hands after the check above.
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "conversation not found"))
		return
	case errors.Is(err, conversation.ErrStale):
		s.fail(w, r, errors.Join(actors.ErrUnavailable, err))
		return
	default:
		// ErrQueueUnavailable and ErrNoAnswer are actors.ErrUnavailable
		// (503); anything else is a 500.
		s.fail(w, r, err)
		return
	}
	s.audit(r, "messages.send", "message:"+out.Message.ID, actors.OutcomeSuccess, cmd.Type)
	writeData(w, http.StatusAccepted, messageEnvelope{Message: out.Message.View()})
}
