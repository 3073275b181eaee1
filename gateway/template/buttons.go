package template

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/wacc/engine/actors"
)

// buttonRule is what a send must give for one button of a template.
type buttonRule struct {
	// subType is the button component's sub_type; "" when the button
	// takes no component.
	subType string
	// required makes the component mandatory.
	required bool
	// param is the type of its one parameter ("" when not checked).
	param string
	// what names the value for messages.
	what string
	// limit is the most characters of a text parameter.
	limit int
}

// ruleOf says what a send gives for a button of type def.
func ruleOf(def actors.TemplateButton) (buttonRule, bool) {
	switch strings.ToUpper(def.Type) {
	case actors.ButtonQuickReply:
		return buttonRule{subType: "quick_reply", param: "payload", what: "a payload"}, true
	case actors.ButtonURL:
		if len(variables(def.URL)) == 0 {
			return buttonRule{what: "nothing (its URL is fixed)"}, true
		}
		return buttonRule{subType: "url", required: true, param: "text", what: "the URL's suffix", limit: maxSuffix}, true
	case actors.ButtonOTP:
		// Every kind of one-time-password button is sent as a url button
		// carrying the code.
		return buttonRule{subType: "url", required: true, param: "text", what: "the one-time password", limit: maxCodeLength}, true
	case actors.ButtonCopyCode:
		return buttonRule{subType: "copy_code", required: true, param: "coupon_code", what: "the code to copy"}, true
	case actors.ButtonPhoneNumber, actors.ButtonVoiceCall:
		return buttonRule{what: "nothing (it calls a number)"}, true
	case actors.ButtonFlow:
		return buttonRule{subType: "flow", param: "action", what: "a flow action"}, true
	case actors.ButtonCatalog:
		return buttonRule{subType: "catalog", param: "action", what: "a catalog action"}, true
	case actors.ButtonMPM:
		return buttonRule{subType: "mpm", required: true, param: "action", what: "the products"}, true
	}
	return buttonRule{}, false // a newer button type: Meta checks it
}

// buttons checks the button components of a send against defs.
func (c *checker) buttons(field string, defs []actors.TemplateButton, got map[int]*indexed) {
	for i, def := range defs {
		rule, known := ruleOf(def)
		g := got[i]
		if !known {
			continue
		}
		if g == nil {
			if rule.required {
				c.add(missingField(field, fmt.Sprintf("button %d", i)), CodeRequired, "the template's button %d (%s) needs %s: give a button component with sub_type %s and index %d",
					i, strings.ToUpper(def.Type), rule.what, rule.subType, i)
			}
			continue
		}
		if rule.subType == "" {
			c.add(g.field, CodeNotExpected, "the template's button %d (%s) takes %s: leave its component out", i, strings.ToUpper(def.Type), rule.what)
			continue
		}
		if !strings.EqualFold(g.comp.SubType, rule.subType) {
			c.add(g.field+".sub_type", CodeSubType, "the template's button %d is %s: its sub_type is %s, not %q", i, strings.ToUpper(def.Type), rule.subType, g.comp.SubType)
			continue
		}
		c.buttonParam(g, rule)
	}
	var extra []int
	for i := range got {
		if i >= len(defs) {
			extra = append(extra, i)
		}
	}
	sort.Ints(extra)
	for _, i := range extra {
		c.add(got[i].field+".index", CodeNoSuchButton, "the template has %d button(s) (index 0 to %d); there is no button %d", len(defs), len(defs)-1, i)
	}
}

// buttonParam checks the one parameter of a button component.
func (c *checker) buttonParam(g *indexed, rule buttonRule) {
	ps := c.params(g.field, g.comp.Parameters)
	if len(ps) != 1 {
		c.add(g.field+".parameters", CodeParameterCount, "this button takes exactly one %s parameter (%s), got %d", rule.param, rule.what, len(ps))
		return
	}
	p := ps[0]
	if p == nil {
		return
	}
	f := g.field + ".parameters[0]"
	if !strings.EqualFold(p.Type, rule.param) {
		c.add(f+".type", CodeParameterType, "must be %s (%s), not %q", rule.param, rule.what, p.Type)
		return
	}
	switch rule.param {
	case "text":
		if p.Text == nil {
			c.add(f+".text", CodeRequired, "is required: %s", rule.what)
			return
		}
		if n := utf8.RuneCountInString(*p.Text); n > rule.limit {
			c.add(f+".text", CodeTooLong, "is %d characters; at most %d", n, rule.limit)
			return
		}
		c.plainText(f+".text", *p.Text)
	case "coupon_code":
		switch {
		case p.CouponCode == nil || strings.TrimSpace(*p.CouponCode) == "":
			c.add(f+".coupon_code", CodeRequired, "is required: %s", rule.what)
		case utf8.RuneCountInString(*p.CouponCode) > maxCodeLength:
			c.add(f+".coupon_code", CodeTooLong, "must be at most %d characters", maxCodeLength)
		}
	case "payload":
		if p.Payload == nil || *p.Payload == "" || len(*p.Payload) > maxPayload {
			c.add(f+".payload", CodeRequired, "is required: 1 to %d bytes", maxPayload)
		}
	case "action":
		if len(p.Action) == 0 || p.Action[0] != '{' {
			c.add(f+".action", CodeRequired, "is required: an object")
		}
	}
}

// carousel checks the carousel component of a send against def: one card
// per card of the template, each filled like a template of its own.
func (c *checker) carousel(field string, def *actors.TemplateComponent, got *indexed) {
	if def == nil {
		if got != nil {
			c.add(got.field, CodeNotExpected, "the template has no carousel")
		}
		return
	}
	if got == nil {
		c.add(missingField(field, "carousel"), CodeRequired, "the template is a carousel of %d card(s): give a carousel component with their cards", len(def.Cards))
		return
	}
	if len(got.comp.Parameters) > 0 {
		c.add(got.field+".parameters", CodeNotExpected, "a carousel takes cards, not parameters")
	}
	if len(got.comp.Cards) != len(def.Cards) {
		c.add(got.field+".cards", CodeCardCount, "the template's carousel has %d card(s), got %d", len(def.Cards), len(got.comp.Cards))
		return
	}
	seen := map[int]string{}
	for j, raw := range got.comp.Cards {
		cf := fmt.Sprintf("%s.cards[%d]", got.field, j)
		var card sendCard
		if err := json.Unmarshal(raw, &card); err != nil {
			c.add(cf, CodeInvalid, "is not a card object: {card_index, components}")
			continue
		}
		if card.CardIndex == nil || *card.CardIndex < 0 || *card.CardIndex >= len(def.Cards) {
			c.add(cf+".card_index", CodeCardIndex, "must be the card's position in the template, 0 to %d", len(def.Cards)-1)
			continue
		}
		k := *card.CardIndex
		if prev, dup := seen[k]; dup {
			c.add(cf+".card_index", CodeDuplicate, "card %d is already given at %s", k, prev)
			continue
		}
		seen[k] = cf
		c.components(cf+".components", def.Cards[k].Components, card.Components, false)
	}
}

// offer checks the limited_time_offer component of a send against def.
func (c *checker) offer(field string, def *actors.TemplateComponent, got *indexed) {
	expires := def != nil && def.LimitedTimeOffer != nil && def.LimitedTimeOffer.HasExpiration
	switch {
	case def == nil && got != nil:
		c.add(got.field, CodeNotExpected, "the template is not a limited-time offer")
		return
	case !expires && got != nil:
		c.add(got.field, CodeNotExpected, "the template's offer has no expiration: leave the limited_time_offer component out")
		return
	case !expires:
		return
	case got == nil:
		c.add(missingField(field, "limited_time_offer"), CodeRequired, "the template's offer expires: give a limited_time_offer component with expiration_time_ms")
		return
	}
	ps := c.params(got.field, got.comp.Parameters)
	if len(ps) != 1 {
		c.add(got.field+".parameters", CodeParameterCount, "the offer takes exactly one limited_time_offer parameter, got %d", len(ps))
		return
	}
	p := ps[0]
	if p == nil {
		return
	}
	f := got.field + ".parameters[0]"
	if !strings.EqualFold(p.Type, "limited_time_offer") {
		c.add(f+".type", CodeParameterType, "must be limited_time_offer, not %q", p.Type)
		return
	}
	if p.LimitedTimeOffer == nil || p.LimitedTimeOffer.ExpirationTimeMs == nil || *p.LimitedTimeOffer.ExpirationTimeMs <= 0 {
		c.add(f+".limited_time_offer.expiration_time_ms", CodeRequired, "is required: when the offer ends, in Unix milliseconds")
	}
}
