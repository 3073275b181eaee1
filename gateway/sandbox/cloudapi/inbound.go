package cloudapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// InboundRequest is the body of POST /sandbox/whatsapp/inbound: a customer
// (From, a wa_id) sends a message to the business number PhoneNumberID.
// The original form {"from","text","phoneNumberId","name"} sends a text;
// Type and the object named by it send any other type. The typed objects
// use the field names of Meta's webhook, so a message can be copied from
// Meta's documentation; media objects describe the file the sandbox
// creates (and serves through its media endpoints) instead of an id.
// Messages, instead of one message, posts several in one webhook body.
type InboundRequest struct {
	From          string `json:"from,omitempty"`
	PhoneNumberID string `json:"phoneNumberId,omitempty"`
	// Name is the customer's profile name; default "Sandbox Customer".
	Name string `json:"name,omitempty"`
	// Type is the message type; default "text".
	Type string `json:"type,omitempty"`
	// Text is the body of a text message.
	Text string `json:"text,omitempty"`

	Image       *InboundMedia       `json:"image,omitempty"`
	Audio       *InboundMedia       `json:"audio,omitempty"`
	Video       *InboundMedia       `json:"video,omitempty"`
	Document    *InboundMedia       `json:"document,omitempty"`
	Sticker     *InboundMedia       `json:"sticker,omitempty"`
	Location    *InboundLocation    `json:"location,omitempty"`
	Contacts    json.RawMessage     `json:"contacts,omitempty"`
	Interactive *InboundInteractive `json:"interactive,omitempty"`
	Button      *InboundButton      `json:"button,omitempty"`
	Reaction    *InboundReaction    `json:"reaction,omitempty"`
	Order       *InboundOrder       `json:"order,omitempty"`
	System      *InboundSystem      `json:"system,omitempty"`

	// Context makes the message a reply to (or a forward of) a message.
	Context *InboundContext `json:"context,omitempty"`
	// Referral marks a message that came from a click-to-WhatsApp ad or post.
	Referral *InboundReferral `json:"referral,omitempty"`

	// Messages posts several messages (each a request without Messages)
	// in one webhook body.
	Messages []InboundRequest `json:"messages,omitempty"`
}

// InboundMedia describes the file of a simulated media message. The sandbox
// stores Data (base64 in JSON; default a generated sample of MimeType) as
// the customer's medium, served by GET /{media_id} and its download URL for
// Options.InboundMediaLife, and the webhook carries its id, mime_type and
// sha256 as Meta's does. Fail arms a download fault on it before the
// webhook is posted.
type InboundMedia struct {
	MimeType string             `json:"mime_type,omitempty"`
	Data     []byte             `json:"data,omitempty"`
	Caption  string             `json:"caption,omitempty"`
	Filename string             `json:"filename,omitempty"` // document
	Voice    bool               `json:"voice,omitempty"`    // audio recorded as a voice message
	Animated bool               `json:"animated,omitempty"` // sticker
	Fail     *DownloadFaultSpec `json:"fail,omitempty"`
}

// DownloadFaultSpec fails the next Count downloads of a medium with Fault.
type DownloadFaultSpec struct {
	Fault DownloadFault `json:"fault"`
	Count int           `json:"count"`
}

// InboundLocation is a shared location.
type InboundLocation struct {
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	Name      string   `json:"name,omitempty"`
	Address   string   `json:"address,omitempty"`
	URL       string   `json:"url,omitempty"`
}

// InboundInteractive is a reply to an interactive message: a reply button
// (button_reply), a list row (list_reply) or a submitted Flow (nfm_reply).
type InboundInteractive struct {
	Type        string        `json:"type"`
	ButtonReply *InboundReply `json:"button_reply,omitempty"`
	ListReply   *InboundReply `json:"list_reply,omitempty"`
	NfmReply    *InboundNfm   `json:"nfm_reply,omitempty"`
}

// InboundReply is the chosen button or row.
type InboundReply struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// InboundNfm is a Flow's response.
type InboundNfm struct {
	Name         string `json:"name,omitempty"`
	Body         string `json:"body,omitempty"`
	ResponseJSON string `json:"response_json"`
}

// InboundButton is a tap on a template's quick-reply button.
type InboundButton struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// InboundReaction is a reaction to a message; an empty Emoji removes it.
type InboundReaction struct {
	MessageID string  `json:"message_id"`
	Emoji     *string `json:"emoji"`
}

// InboundOrder is an order from the business's catalog.
type InboundOrder struct {
	CatalogID    string             `json:"catalog_id"`
	Text         string             `json:"text"`
	ProductItems []InboundOrderItem `json:"product_items"`
}

// InboundOrderItem is one line of an order.
type InboundOrderItem struct {
	ProductRetailerID string  `json:"product_retailer_id"`
	Quantity          int     `json:"quantity"`
	ItemPrice         float64 `json:"item_price"`
	Currency          string  `json:"currency"`
}

// InboundSystem is a system message: the customer changed their number
// (type user_changed_number, WaID the new number) or their identity
// (customer_identity_changed).
type InboundSystem struct {
	Type string `json:"type,omitempty"`
	WaID string `json:"wa_id,omitempty"`
}

// InboundContext is the message a reply refers to; From is filled with the
// business's display number.
type InboundContext struct {
	ID                  string `json:"id,omitempty"`
	Forwarded           bool   `json:"forwarded,omitempty"`
	FrequentlyForwarded bool   `json:"frequently_forwarded,omitempty"`
}

// InboundReferral is a click-to-WhatsApp ad or post the customer came from.
type InboundReferral struct {
	SourceURL    string `json:"source_url"`
	SourceID     string `json:"source_id"`
	SourceType   string `json:"source_type"`
	Headline     string `json:"headline,omitempty"`
	Body         string `json:"body,omitempty"`
	MediaType    string `json:"media_type,omitempty"`
	ImageURL     string `json:"image_url,omitempty"`
	VideoURL     string `json:"video_url,omitempty"`
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
	CtwaClid     string `json:"ctwa_clid,omitempty"`
}

// inboundTypes are the message types the simulation produces.
var inboundTypes = []string{"text", "image", "audio", "video", "document", "sticker", "location", "contacts",
	"interactive", "button", "reaction", "order", "system", "unsupported"}

// The inbound message as Meta posts it, in Meta's key order.
type wireInbound struct {
	Context     *wireContext        `json:"context,omitempty"`
	From        string              `json:"from"`
	ID          string              `json:"id"`
	Timestamp   string              `json:"timestamp"`
	Type        string              `json:"type"`
	Text        *wireText           `json:"text,omitempty"`
	Image       *wireMedia          `json:"image,omitempty"`
	Audio       *wireMedia          `json:"audio,omitempty"`
	Video       *wireMedia          `json:"video,omitempty"`
	Document    *wireMedia          `json:"document,omitempty"`
	Sticker     *wireMedia          `json:"sticker,omitempty"`
	Location    *InboundLocation    `json:"location,omitempty"`
	Contacts    json.RawMessage     `json:"contacts,omitempty"`
	Interactive *InboundInteractive `json:"interactive,omitempty"`
	Button      *InboundButton      `json:"button,omitempty"`
	Reaction    *wireReaction       `json:"reaction,omitempty"`
	Order       *InboundOrder       `json:"order,omitempty"`
	Identity    *wireIdentity       `json:"identity,omitempty"`
	System      *wireSystem         `json:"system,omitempty"`
	Referral    *InboundReferral    `json:"referral,omitempty"`
	Errors      []wireError         `json:"errors,omitempty"`
}

type wireContext struct {
	From                string `json:"from,omitempty"`
	ID                  string `json:"id,omitempty"`
	Forwarded           bool   `json:"forwarded,omitempty"`
	FrequentlyForwarded bool   `json:"frequently_forwarded,omitempty"`
}

type wireText struct {
	Body string `json:"body"`
}

type wireMedia struct {
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	ID       string `json:"id"`
	Voice    *bool  `json:"voice,omitempty"`
	Animated *bool  `json:"animated,omitempty"`
}

type wireReaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

type wireSystem struct {
	Body string `json:"body"`
	WaID string `json:"wa_id,omitempty"`
	Type string `json:"type"`
}

type wireIdentity struct {
	Acknowledged     bool   `json:"acknowledged"`
	CreatedTimestamp string `json:"created_timestamp"`
	Hash             string `json:"hash"`
}

// defaultMimeTypes are the media types of simulated files when the request
// names none.
var defaultMimeTypes = map[string]string{
	"image": "image/jpeg", "video": "video/mp4", "audio": "audio/ogg", "document": "application/pdf", "sticker": "image/webp",
}

// maxInboundMedia bounds a simulated file (Data, decoded).
const maxInboundMedia = 1 << 20

// inboundInput is a validated simulated message, ready to become a webhook
// update once its media is stored.
type inboundInput struct {
	req   *InboundRequest
	from  string
	typ   string
	name  string
	media *InboundMedia // for a media type
}

// validateInbound checks one simulated message and returns it normalised,
// or the field and message of the first problem.
func validateInbound(in *InboundRequest) (*inboundInput, string, string) {
	from, ok := phoneDigits(in.From)
	if !ok {
		return nil, "from", "from must be a wa_id of 7 to 15 digits"
	}
	if in.PhoneNumberID == "" || strings.ContainsAny(in.PhoneNumberID, " /\t\n?#") || len(in.PhoneNumberID) > 64 {
		return nil, "phoneNumberId", "phoneNumberId is required"
	}
	if len(in.Name) > 256 {
		return nil, "name", "name must be at most 256 bytes"
	}
	typ := in.Type
	if typ == "" {
		typ = "text"
	}
	if !slices.Contains(inboundTypes, typ) {
		return nil, "type", "type must be one of " + strings.Join(inboundTypes, ", ")
	}
	if in.Text != "" && typ != "text" {
		return nil, "text", "text is only for type text; other types carry their own object"
	}
	v := &inboundInput{req: in, from: from, typ: typ, name: in.Name}
	if v.name == "" {
		v.name = defaultProfileName
	}
	if field, msg := checkTyped(v); field != "" {
		return nil, field, msg
	}
	if c := in.Context; c != nil && c.ID == "" && !c.Forwarded && !c.FrequentlyForwarded {
		return nil, "context.id", "context needs the id of the message replied to, or forwarded"
	}
	if r := in.Referral; r != nil && (r.SourceURL == "" || r.SourceID == "" || r.SourceType == "") {
		return nil, "referral", "referral needs source_url, source_id and source_type"
	}
	return v, "", ""
}

// objects lists which typed object each type needs, so that a request
// carrying another type's object is refused.
func (in *InboundRequest) objects() map[string]bool {
	return map[string]bool{
		"image": in.Image != nil, "audio": in.Audio != nil, "video": in.Video != nil, "document": in.Document != nil,
		"sticker": in.Sticker != nil, "location": in.Location != nil, "contacts": in.Contacts != nil,
		"interactive": in.Interactive != nil, "button": in.Button != nil, "reaction": in.Reaction != nil,
		"order": in.Order != nil, "system": in.System != nil,
	}
}

func checkTyped(v *inboundInput) (string, string) {
	in := v.req
	for name, present := range in.objects() {
		if present && name != v.typ {
			return name, name + " is only allowed when type is " + name
		}
	}
	switch v.typ {
	case "text":
		if strings.TrimSpace(in.Text) == "" || utf8.RuneCountInString(in.Text) > maxTextBody {
			return "text", "text must be 1 to 4096 characters"
		}
	case "image", "audio", "video", "document", "sticker":
		m := map[string]*InboundMedia{"image": in.Image, "audio": in.Audio, "video": in.Video, "document": in.Document, "sticker": in.Sticker}[v.typ]
		if m == nil {
			m = &InboundMedia{}
		}
		return checkMedia(v, m)
	case "location":
		l := in.Location
		if l == nil || l.Latitude == nil || l.Longitude == nil || *l.Latitude < -90 || *l.Latitude > 90 || *l.Longitude < -180 || *l.Longitude > 180 {
			return "location", "location needs latitude (-90 to 90) and longitude (-180 to 180)"
		}
	case "contacts":
		var cards []contactCard
		if in.Contacts == nil || decodeStrict(in.Contacts, &cards, "contacts") != nil || len(cards) == 0 {
			return "contacts", "contacts must be a non-empty array of contact cards as Meta sends them"
		}
		for _, c := range cards {
			if c.Name == nil || strings.TrimSpace(c.Name.FormattedName) == "" {
				return "contacts", "every contact needs name.formatted_name"
			}
		}
	case "interactive":
		return checkInteractiveReply(in.Interactive)
	case "button":
		if b := in.Button; b == nil || b.Payload == "" || b.Text == "" {
			return "button", "button needs the quick-reply button's payload and text"
		}
	case "reaction":
		if r := in.Reaction; r == nil || r.MessageID == "" || r.Emoji == nil {
			return "reaction", `reaction needs message_id and emoji ("" removes the reaction)`
		}
	case "order":
		o := in.Order
		if o == nil || o.CatalogID == "" || len(o.ProductItems) == 0 {
			return "order", "order needs catalog_id and at least one product item"
		}
		for _, it := range o.ProductItems {
			if it.ProductRetailerID == "" || it.Quantity < 1 || it.Currency == "" {
				return "order.product_items", "every item needs product_retailer_id, a quantity of at least 1 and a currency"
			}
		}
	case "system":
		return checkSystem(in.System)
	}
	return "", ""
}

func checkMedia(v *inboundInput, m *InboundMedia) (string, string) {
	cp := *m
	if cp.MimeType == "" {
		cp.MimeType = defaultMimeTypes[v.typ]
		if v.typ == "audio" && cp.Voice {
			cp.MimeType = "audio/ogg; codecs=opus"
		}
	}
	base, _, err := mime.ParseMediaType(cp.MimeType)
	if _, supported := mediaLimits[base]; err != nil || !supported || !strings.HasPrefix(base, mediaFamily(v.typ)) {
		return v.typ + ".mime_type", fmt.Sprintf("%s is not a supported media type for %s", clip(cp.MimeType), v.typ)
	}
	if len(cp.Data) > maxInboundMedia {
		return v.typ + ".data", fmt.Sprintf("data must be at most %d bytes", maxInboundMedia)
	}
	if len(cp.Data) == 0 && sampleFile(base, cp.Animated) == nil {
		return v.typ + ".data", fmt.Sprintf("data is required for %s: the sandbox has no sample of that type", base)
	}
	if cp.Caption != "" && (v.typ == "audio" || v.typ == "sticker") {
		return v.typ + ".caption", "a caption is only for image, video and document"
	}
	if cp.Filename != "" && v.typ != "document" {
		return v.typ + ".filename", "a filename is only for document"
	}
	if cp.Voice && v.typ != "audio" || cp.Animated && v.typ != "sticker" {
		return v.typ, "voice is only for audio, animated only for sticker"
	}
	if cp.Voice && base != "audio/ogg" {
		return v.typ + ".mime_type", "a voice message is audio/ogg; codecs=opus"
	}
	if f := cp.Fail; f != nil {
		if err := checkFault(f.Fault, f.Count); err != nil {
			return v.typ + ".fail", strings.TrimPrefix(err.Error(), ErrBadFault.Error()+": ")
		}
	}
	v.media = &cp
	return "", ""
}

// mediaFamily is the MIME prefix a simulated file of typ must have.
func mediaFamily(typ string) string {
	switch typ {
	case "image", "sticker":
		return "image/"
	case "audio":
		return "audio/"
	case "video":
		return "video/"
	}
	return "" // documents: any supported type
}

func checkInteractiveReply(in *InboundInteractive) (string, string) {
	if in == nil {
		return "interactive", "interactive needs type button_reply, list_reply or nfm_reply and its object"
	}
	switch in.Type {
	case "button_reply":
		if r := in.ButtonReply; r == nil || r.ID == "" || r.Title == "" || in.ListReply != nil || in.NfmReply != nil {
			return "interactive.button_reply", "button_reply needs the button's id and title"
		}
	case "list_reply":
		if r := in.ListReply; r == nil || r.ID == "" || r.Title == "" || in.ButtonReply != nil || in.NfmReply != nil {
			return "interactive.list_reply", "list_reply needs the row's id and title"
		}
	case "nfm_reply":
		if r := in.NfmReply; r == nil || !json.Valid([]byte(r.ResponseJSON)) || in.ButtonReply != nil || in.ListReply != nil {
			return "interactive.nfm_reply", "nfm_reply needs response_json, a string holding the Flow's JSON response"
		}
	default:
		return "interactive.type", "interactive.type must be button_reply, list_reply or nfm_reply"
	}
	return "", ""
}

func checkSystem(s *InboundSystem) (string, string) {
	if s == nil {
		return "system", "system needs type user_changed_number (with wa_id, the new number) or customer_identity_changed"
	}
	switch s.Type {
	case "", "user_changed_number":
		if _, ok := phoneDigits(s.WaID); !ok {
			return "system.wa_id", "system.wa_id must be the customer's new number"
		}
	case "customer_identity_changed":
	default:
		return "system.type", "system.type must be user_changed_number or customer_identity_changed"
	}
	return "", ""
}

// build makes the webhook update of a validated message. storeMedia keeps
// a simulated file and returns its id.
func (v *inboundInput) build(wabaID, display, wamid string, now time.Time, storeMedia func(*storedMedia) string) update {
	in := v.req
	m := &wireInbound{From: v.from, ID: wamid, Timestamp: unixString(now), Type: v.typ}
	contact := &wireContact{WaID: v.from}
	contact.Profile.Name = v.name
	if c := in.Context; c != nil {
		m.Context = &wireContext{ID: c.ID, Forwarded: c.Forwarded, FrequentlyForwarded: c.FrequentlyForwarded}
		if c.ID != "" {
			m.Context.From = display
		}
	}
	m.Referral = in.Referral
	switch v.typ {
	case "text":
		m.Text = &wireText{Body: in.Text}
	case "image", "audio", "video", "document", "sticker":
		wm := v.storeFile(storeMedia, wamid, now)
		switch v.typ {
		case "image":
			m.Image = wm
		case "audio":
			m.Audio = wm
		case "video":
			m.Video = wm
		case "document":
			m.Document = wm
		default:
			m.Sticker = wm
		}
	case "location":
		m.Location = in.Location
	case "contacts":
		m.Contacts = in.Contacts
	case "interactive":
		m.Interactive = in.Interactive
	case "button":
		m.Button = in.Button
	case "reaction":
		m.Reaction = &wireReaction{MessageID: in.Reaction.MessageID, Emoji: *in.Reaction.Emoji}
	case "order":
		m.Order = in.Order
	case "system":
		contact = nil // Meta sends system messages without contacts
		if in.System.Type == "customer_identity_changed" {
			m.System = &wireSystem{Body: "User identity changed", Type: "customer_identity_changed"}
			sum := sha256.Sum256([]byte(v.from + unixString(now)))
			m.Identity = &wireIdentity{Acknowledged: true, CreatedTimestamp: unixString(now), Hash: hex.EncodeToString(sum[:8])}
			break
		}
		newID, _ := phoneDigits(in.System.WaID)
		m.System = &wireSystem{Body: fmt.Sprintf("User %s changed from %s to %s", v.name, v.from, newID), WaID: newID, Type: "user_changed_number"}
	case "unsupported":
		e := wireError{Code: CodeUnsupportedType, Title: "Message type unknown", Message: "Message type unknown"}
		e.ErrorData.Details = "Message type is currently not supported."
		m.Errors = []wireError{e}
	}
	return update{wabaID: wabaID, field: fieldMessages, phoneNumberID: in.PhoneNumberID, display: display, contact: contact, message: m}
}

// storeFile stores the simulated file as the customer's medium and
// describes it as Meta does: id, mime_type and the base64 SHA-256 of the
// bytes (GET /{media_id} answers the same digest in hex).
func (v *inboundInput) storeFile(storeMedia func(*storedMedia) string, wamid string, now time.Time) *wireMedia {
	md := v.media
	base, _, _ := mime.ParseMediaType(md.MimeType)
	data := md.Data
	if len(data) == 0 {
		data = sampleFile(base, md.Animated)
	}
	sum := sha256.Sum256(data)
	m := &storedMedia{mimeType: base, sha256: hex.EncodeToString(sum[:]), data: data, inbound: true, at: now}
	if f := md.Fail; f != nil {
		m.fault, m.faultLeft = f.Fault, f.Count
	}
	id := storeMedia(m)
	wm := &wireMedia{Caption: md.Caption, Filename: md.Filename, MimeType: md.MimeType, SHA256: base64.StdEncoding.EncodeToString(sum[:]), ID: id}
	switch v.typ {
	case "audio":
		wm.Voice = &md.Voice
	case "sticker":
		wm.Animated = &md.Animated
	}
	return wm
}

// opensWindow reports whether the message opens the customer service
// window: every message the customer sends does; a system message is not
// the customer's.
func (v *inboundInput) opensWindow() bool { return v.typ != "system" }
