package webhook

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// MaxTextBytes bounds InboundMessage.Text; longer renderings are cut on a
// UTF-8 boundary.
const MaxTextBytes = 4096

// maxEditDepth bounds how deep an edit's inner message is rendered, so a
// hostile body cannot make rendering recurse.
const maxEditDepth = 1

// wireContent is the union of the content fields Text is rendered from;
// render reads only the fields that belong to the message's type.
type wireContent struct {
	Body         string          `json:"body"`     // text, system
	Caption      string          `json:"caption"`  // image, video, document
	Filename     string          `json:"filename"` // document
	Text         string          `json:"text"`     // button
	Emoji        string          `json:"emoji"`    // reaction
	Name         string          `json:"name"`     // location
	Address      string          `json:"address"`  // location
	Latitude     json.Number     `json:"latitude"`
	Longitude    json.Number     `json:"longitude"`
	ButtonReply  *wireReply      `json:"button_reply"` // interactive
	ListReply    *wireReply      `json:"list_reply"`   // interactive
	NfmReply     *wireReply      `json:"nfm_reply"`    // interactive (flows)
	ProductItems []struct{}      `json:"product_items"`
	Message      json.RawMessage `json:"message"` // edit: the new message
}

type wireReply struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

type wireSharedContact struct {
	Name struct {
		FormattedName string `json:"formatted_name"`
	} `json:"name"`
}

// render is the short human rendering of a message for agents and
// notifications; every type renders to something readable, never "":
//
//	text         text.body
//	image, video caption, else "[image]" / "[video]"
//	document     caption, else filename, else "[document]"
//	audio        "[voice message]" (audio.voice true), else "[audio]"
//	sticker      "[sticker]"
//	interactive  button_reply.title, list_reply.title, nfm_reply.body, else "[interactive reply]"
//	button       button.text (template quick reply)
//	reaction     reaction.emoji; "" (the reaction was removed) is "[reaction removed]"
//	location     "name, address" (either alone when only one is sent), else "lat,long", else "[location]"
//	contacts     the first non-empty formatted_name, else "[contact]"
//	system       system.body, else "[system message]"
//	order        "order (N items)", N the number of product lines ("1 item")
//	edit         the rendering of the edited message (edit.message), else "[message edited]"
//	revoke       "[message deleted]"
//	unsupported  "[unsupported message]"
//	anything else "[<type> message]"
func render(typ string, content json.RawMessage, depth int) string {
	if t := renderContent(typ, content, depth); t != "" {
		return t
	}
	return placeholder(typ, content)
}

// placeholder is the rendering of a message whose content gives no text.
func placeholder(typ string, content json.RawMessage) string {
	switch typ {
	case "":
		return "[message]"
	case "image", "video", "document", "sticker", "location":
		return "[" + typ + "]"
	case "audio":
		var a struct {
			Voice bool `json:"voice"`
		}
		_ = json.Unmarshal(content, &a)
		if a.Voice {
			return "[voice message]"
		}
		return "[audio]"
	case "contacts":
		return "[contact]"
	case "interactive":
		return "[interactive reply]"
	case "edit":
		return "[message edited]"
	case "reaction":
		return "[reaction removed]"
	case "system":
		return "[system message]"
	case "revoke":
		return "[message deleted]"
	case "unsupported":
		return "[unsupported message]"
	case "order":
		return "order (0 items)"
	}
	return "[" + clip(typ, 32) + " message]"
}

// renderContent is the text a message's content gives, "" when none.
func renderContent(typ string, content json.RawMessage, depth int) string {
	if content == nil {
		return ""
	}
	if typ == "contacts" {
		var cs []wireSharedContact
		_ = json.Unmarshal(content, &cs)
		for i := range cs {
			if cs[i].Name.FormattedName != "" {
				return cs[i].Name.FormattedName
			}
		}
		return ""
	}
	switch typ {
	case "text", "system", "image", "video", "document", "interactive",
		"button", "reaction", "location", "order", "edit":
	default:
		return ""
	}
	var c wireContent
	_ = json.Unmarshal(content, &c) // content is valid JSON; mismatched fields stay zero
	switch typ {
	case "text", "system":
		return c.Body
	case "image", "video":
		return c.Caption
	case "document":
		if c.Caption != "" {
			return c.Caption
		}
		return c.Filename
	case "interactive":
		switch {
		case c.ButtonReply != nil:
			return c.ButtonReply.Title
		case c.ListReply != nil:
			return c.ListReply.Title
		case c.NfmReply != nil:
			return c.NfmReply.Body
		}
		return ""
	case "button":
		return c.Text
	case "reaction":
		return c.Emoji
	case "location":
		switch {
		case c.Name != "" && c.Address != "":
			return c.Name + ", " + c.Address
		case c.Name != "":
			return c.Name
		case c.Address != "":
			return c.Address
		case c.Latitude != "" && c.Longitude != "":
			return string(c.Latitude) + "," + string(c.Longitude)
		}
		return ""
	case "order":
		if n := len(c.ProductItems); n == 1 {
			return "order (1 item)"
		} else {
			return "order (" + strconv.Itoa(n) + " items)"
		}
	case "edit":
		if depth >= maxEditDepth || !isObject(c.Message) {
			return ""
		}
		var inner wireMessage
		_ = json.Unmarshal(c.Message, &inner)
		return renderContent(inner.Type, contentOf(&inner, c.Message), depth+1)
	}
	return ""
}

// clip returns s cut to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
