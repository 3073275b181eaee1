package gateway

import (
	"encoding/json"
	"net/url"
	"strconv"
	"unicode/utf8"
)

// Meta's limits on free-form sends, checked before a message is queued so
// nothing the engine accepts fails later at Meta for a reason it could have
// seen. Lengths are in characters (runes), as Meta counts them. Sources:
//   - reply buttons: https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-reply-buttons-messages
//     (1 to 3 buttons; button label 20, button id 256; header text 60,
//     body 1024, footer 60);
//   - list messages: https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages
//     (button label 20; up to 10 sections and 10 rows in all; section title
//     24, row title 24, row description 72, row id 200; header text 60,
//     footer 60); the body is held to the 1024 of the other interactive
//     types, the smallest limit Meta documents for an interactive body;
//   - CTA URL buttons: https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-cta-url-messages
//     (display_text 20, an http(s) url; header text 60, body 1024, footer 60);
//   - reactions: https://developers.facebook.com/docs/whatsapp/cloud-api/messages/reaction-messages
//     (one emoji, or "" to remove the reaction);
//   - text (body 4096) and media captions (1024, image, video and document
//     only; filename on documents only) are checked in send.go.
const (
	maxButtons         = 3
	maxButtonTitle     = 20
	maxButtonID        = 256
	maxListButton      = 20
	maxSections        = 10
	maxRows            = 10
	maxSectionTitle    = 24
	maxRowTitle        = 24
	maxRowDescription  = 72
	maxRowID           = 200
	maxHeaderText      = 60
	maxFooterText      = 60
	maxInteractiveBody = 1024
	maxCTADisplayText  = 20
)

// interactiveObject is the part of an interactive message Meta limits.
type interactiveObject struct {
	Type   string `json:"type"`
	Header *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"header"`
	Body *struct {
		Text string `json:"text"`
	} `json:"body"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Action struct {
		Buttons []struct {
			Type  string `json:"type"`
			Reply struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
		Button   string `json:"button"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"rows"`
		} `json:"sections"`
		Name       string `json:"name"`
		Parameters struct {
			DisplayText string `json:"display_text"`
			URL         string `json:"url"`
		} `json:"parameters"`
	} `json:"action"`
}

// checkLength adds an INVALID_LENGTH error for field unless s has min to
// max characters.
func checkLength(ve *validationError, field, s string, minLen, maxLen int) {
	n := utf8.RuneCountInString(s)
	switch {
	case n < minLen && minLen == 1:
		ve.add(field, "REQUIRED", "is required")
	case n < minLen || n > maxLen:
		ve.add(field, "INVALID_LENGTH", "must be "+strconv.Itoa(minLen)+" to "+strconv.Itoa(maxLen)+" characters")
	}
}

// checkInteractive checks an interactive object against Meta's limits for
// its type (button, list, cta_url; product types are Meta's catalogue's).
func checkInteractive(ve *validationError, raw json.RawMessage) {
	var o interactiveObject
	if json.Unmarshal(raw, &o) != nil {
		ve.add("interactive", "INVALID_VALUE", "does not have the shape of an interactive object")
		return
	}
	const f = "interactive."
	if o.Header != nil && (o.Header.Type == "text" || o.Header.Type == "") {
		checkLength(ve, f+"header.text", o.Header.Text, 1, maxHeaderText)
	}
	if o.Footer != nil {
		checkLength(ve, f+"footer.text", o.Footer.Text, 1, maxFooterText)
	}
	switch o.Type {
	case "button", "list", "cta_url":
		if o.Body == nil {
			ve.add(f+"body.text", "REQUIRED", "is required")
		} else {
			checkLength(ve, f+"body.text", o.Body.Text, 1, maxInteractiveBody)
		}
	}
	switch o.Type {
	case "button":
		bs := o.Action.Buttons
		if len(bs) < 1 || len(bs) > maxButtons {
			ve.add(f+"action.buttons", "INVALID_LENGTH", "must hold 1 to 3 reply buttons")
		}
		ids := map[string]bool{}
		for i, b := range bs {
			p := f + "action.buttons[" + strconv.Itoa(i) + "]"
			if b.Type != "reply" {
				ve.add(p+".type", "INVALID_VALUE", "must be reply")
			}
			checkLength(ve, p+".reply.title", b.Reply.Title, 1, maxButtonTitle)
			checkLength(ve, p+".reply.id", b.Reply.ID, 1, maxButtonID)
			if ids[b.Reply.ID] && b.Reply.ID != "" {
				ve.add(p+".reply.id", "DUPLICATE", "must be unique among the buttons")
			}
			ids[b.Reply.ID] = true
		}
	case "list":
		checkLength(ve, f+"action.button", o.Action.Button, 1, maxListButton)
		ss := o.Action.Sections
		if len(ss) < 1 || len(ss) > maxSections {
			ve.add(f+"action.sections", "INVALID_LENGTH", "must hold 1 to 10 sections")
		}
		rows := 0
		ids := map[string]bool{}
		for i, s := range ss {
			p := f + "action.sections[" + strconv.Itoa(i) + "]"
			if len(ss) > 1 || s.Title != "" {
				checkLength(ve, p+".title", s.Title, 1, maxSectionTitle) // required once there are several
			}
			if len(s.Rows) == 0 {
				ve.add(p+".rows", "REQUIRED", "must hold at least one row")
			}
			for j, r := range s.Rows {
				rp := p + ".rows[" + strconv.Itoa(j) + "]"
				checkLength(ve, rp+".title", r.Title, 1, maxRowTitle)
				checkLength(ve, rp+".id", r.ID, 1, maxRowID)
				if utf8.RuneCountInString(r.Description) > maxRowDescription {
					ve.add(rp+".description", "INVALID_LENGTH", "must be at most 72 characters")
				}
				if ids[r.ID] && r.ID != "" {
					ve.add(rp+".id", "DUPLICATE", "must be unique among the rows")
				}
				ids[r.ID] = true
			}
			rows += len(s.Rows)
		}
		if rows > maxRows {
			ve.add(f+"action.sections", "INVALID_LENGTH", "must hold at most 10 rows in all")
		}
	case "cta_url":
		if o.Action.Name != "cta_url" {
			ve.add(f+"action.name", "INVALID_VALUE", "must be cta_url")
		}
		checkLength(ve, f+"action.parameters.display_text", o.Action.Parameters.DisplayText, 1, maxCTADisplayText)
		if u, err := url.Parse(o.Action.Parameters.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			ve.add(f+"action.parameters.url", "INVALID_URL", "must be an http or https URL")
		}
	}
}

// validReaction reports whether emoji is one emoji (a single grapheme:
// one emoji with its variation selector, skin tone, keycap or tag
// sequence, a flag, or emojis joined by ZWJ) or "" (the reaction removed).
func validReaction(emoji string) bool {
	if emoji == "" {
		return true
	}
	rs := []rune(emoji)
	if len(rs) > 16 {
		return false
	}
	if len(rs) == 2 && isRegionalIndicator(rs[0]) && isRegionalIndicator(rs[1]) {
		return true // a flag
	}
	if (rs[0] >= '0' && rs[0] <= '9') || rs[0] == '#' || rs[0] == '*' {
		// A keycap: the key, an optional VS16, U+20E3.
		rest := rs[1:]
		if len(rest) > 0 && rest[0] == 0xFE0F {
			rest = rest[1:]
		}
		return len(rest) == 1 && rest[0] == 0x20E3
	}
	i := 0
	for {
		if i >= len(rs) || !isEmojiBase(rs[i]) {
			return false
		}
		i++
		for i < len(rs) && isEmojiModifier(rs[i]) {
			i++
		}
		if i == len(rs) {
			return true
		}
		if rs[i] != 0x200D { // only a ZWJ may join another emoji
			return false
		}
		i++
	}
}

func isRegionalIndicator(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

// isEmojiBase reports runes in the blocks emojis are drawn from.
func isEmojiBase(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF, // mahjong to symbols and pictographs extended-A
		r >= 0x2600 && r <= 0x27BF, // miscellaneous symbols, dingbats
		r >= 0x2300 && r <= 0x23FF, // miscellaneous technical (⌚, ⏰)
		r >= 0x2B00 && r <= 0x2BFF, // arrows, stars (⭐)
		r >= 0x2190 && r <= 0x21FF, // arrows
		r >= 0x25A0 && r <= 0x25FF, // geometric shapes
		r >= 0x2900 && r <= 0x297F, // supplemental arrows
		r == 0x00A9, r == 0x00AE, r == 0x203C, r == 0x2049, r == 0x2122, r == 0x2139,
		r == 0x3030, r == 0x303D, r == 0x3297, r == 0x3299:
		return true
	}
	return false
}

// isEmojiModifier reports variation selectors, skin tones and tag runes,
// which belong to the emoji before them.
func isEmojiModifier(r rune) bool {
	return r == 0xFE0E || r == 0xFE0F || (r >= 0x1F3FB && r <= 0x1F3FF) || (r >= 0xE0020 && r <= 0xE007F) || r == 0x20E3
}
