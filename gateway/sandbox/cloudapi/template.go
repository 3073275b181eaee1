package cloudapi

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// sendTemplate is the template object of a send request.
type sendTemplate struct {
	Name     string `json:"name"`
	Language *struct {
		Code   string `json:"code"`
		Policy string `json:"policy"`
	} `json:"language"`
	Components []sendComponent `json:"components"`
}

// sendComponent is one entry of template.components (or of a carousel
// card's components).
type sendComponent struct {
	Type       string          `json:"type"`
	SubType    string          `json:"sub_type"`
	Index      json.RawMessage `json:"index"`
	Parameters []sendParam     `json:"parameters"`
	Cards      []sendCard      `json:"cards"`

	index int // parsed Index; -1 when absent
}

type sendCard struct {
	CardIndex  *int            `json:"card_index"`
	Components []sendComponent `json:"components"`
}

// sendParam is one template parameter.
type sendParam struct {
	Type          string          `json:"type"`
	ParameterName string          `json:"parameter_name"`
	Text          *string         `json:"text"`
	Payload       *string         `json:"payload"`
	CouponCode    *string         `json:"coupon_code"`
	Image         json.RawMessage `json:"image"`
	Video         json.RawMessage `json:"video"`
	Document      json.RawMessage `json:"document"`
	Currency      json.RawMessage `json:"currency"`
	DateTime      json.RawMessage `json:"date_time"`
	Location      json.RawMessage `json:"location"`
	Action        json.RawMessage `json:"action"`
}

// Limits of a template send Meta enforces.
const (
	maxCards       = 10
	maxButtonIndex = 9
)

var buttonSubTypes = []string{"quick_reply", "url", "copy_code", "catalog", "flow", "voice_call", "mpm", "order_details"}

// parseTemplate decodes and checks the structure of a template object; the
// registry (templatecheck.go) checks it against the approved template.
func parseTemplate(raw json.RawMessage) (*sendTemplate, *apiError) {
	var t sendTemplate
	if e := decodeStrict(raw, &t, "template"); e != nil {
		return nil, e
	}
	if strings.TrimSpace(t.Name) == "" {
		return nil, invalidParam("Param template['name'] is required.")
	}
	if t.Language == nil || strings.TrimSpace(t.Language.Code) == "" {
		return nil, invalidParam("Param template['language']['code'] is required.")
	}
	if t.Language.Policy != "" && t.Language.Policy != "deterministic" {
		return nil, invalidParam("Param template['language']['policy'] must be 'deterministic'.")
	}
	if e := checkComponents(t.Components, "template['components']", true); e != nil {
		return nil, e
	}
	return &t, nil
}

// checkComponents checks components at path; carousels are allowed only at
// the top level.
func checkComponents(cs []sendComponent, path string, top bool) *apiError {
	for i := range cs {
		c := &cs[i]
		at := path + "[" + strconv.Itoa(i) + "]"
		c.index = -1
		switch c.Type {
		case "header", "body", "footer", "limited_time_offer":
		case "button":
			if e := checkButton(c, at); e != nil {
				return e
			}
		case "carousel":
			if !top {
				return invalidParam("Param %s['type'] carousel is not allowed inside a carousel card.", at)
			}
			if e := checkCards(c.Cards, at+"['cards']"); e != nil {
				return e
			}
		default:
			return invalidParam("Param %s['type'] must be header, body, button, footer, carousel or limited_time_offer.", at)
		}
		if c.Type != "carousel" && len(c.Cards) > 0 {
			return invalidParam("Param %s['cards'] is only allowed for a carousel component.", at)
		}
		for j := range c.Parameters {
			if e := checkParam(&c.Parameters[j], at+"['parameters']["+strconv.Itoa(j)+"]"); e != nil {
				return e
			}
		}
	}
	return nil
}

func checkButton(c *sendComponent, at string) *apiError {
	if c.SubType == "" {
		return invalidParam("Param %s['sub_type'] is required for a button component.", at)
	}
	if !slices.Contains(buttonSubTypes, strings.ToLower(c.SubType)) {
		return invalidParam("Param %s['sub_type'] must be one of {%s}.", at, strings.Join(buttonSubTypes, ", "))
	}
	s := strings.Trim(string(c.Index), `"`)
	n, err := strconv.Atoi(s)
	if len(c.Index) == 0 || err != nil || n < 0 || n > maxButtonIndex {
		return invalidParam("Param %s['index'] is required: the button's position, 0 to %d.", at, maxButtonIndex)
	}
	c.index = n
	return nil
}

func checkCards(cards []sendCard, at string) *apiError {
	if len(cards) == 0 || len(cards) > maxCards {
		return invalidParam("Param %s must have 1 to %d cards.", at, maxCards)
	}
	seen := map[int]bool{}
	for i, card := range cards {
		cat := at + "[" + strconv.Itoa(i) + "]"
		if card.CardIndex == nil || *card.CardIndex < 0 || *card.CardIndex >= maxCards || seen[*card.CardIndex] {
			return invalidParam("Param %s['card_index'] is required and unique, 0 to %d.", cat, maxCards-1)
		}
		seen[*card.CardIndex] = true
		if e := checkComponents(card.Components, cat+"['components']", false); e != nil {
			return e
		}
	}
	return nil
}

// checkParam checks that a parameter has the value its type needs.
func checkParam(p *sendParam, at string) *apiError {
	missing := func(field string) *apiError {
		return invalidParam("Parameter '%s' is mandatory for component parameter type '%s' (%s).", field, p.Type, at)
	}
	switch p.Type {
	case "text":
		if p.Text == nil || strings.TrimSpace(*p.Text) == "" {
			return missing("text")
		}
	case "payload":
		if p.Payload == nil {
			return missing("payload")
		}
	case "coupon_code":
		if p.CouponCode == nil || *p.CouponCode == "" {
			return missing("coupon_code")
		}
	case "image", "video", "document":
		media := map[string]json.RawMessage{"image": p.Image, "video": p.Video, "document": p.Document}[p.Type]
		if media == nil {
			return missing(p.Type)
		}
		return validateMedia(at+"['"+p.Type+"']", media, false, p.Type == "document")
	case "currency":
		if p.Currency == nil {
			return missing("currency")
		}
	case "date_time":
		if p.DateTime == nil {
			return missing("date_time")
		}
	case "location":
		if p.Location == nil {
			return missing("location")
		}
	case "action":
		if p.Action == nil {
			return missing("action")
		}
	case "":
		return invalidParam("Param %s['type'] is required.", at)
	default:
		return invalidParam("Param %s['type'] must be one of text, currency, date_time, image, video, document, location, payload, coupon_code, action.", at)
	}
	return nil
}
