package template

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/wacc/engine/actors"
)

// Problem is one way a send's components do not fit its template: the
// request field it concerns (template.components[2].parameters[0], or
// template.components[body] for a component the request lacks), a stable
// code and a message for the person sending.
type Problem struct {
	Field   string
	Code    string
	Message string
}

// Codes of Problem.
const (
	CodeUnknownComponent = "UNKNOWN_COMPONENT"
	CodeDuplicate        = "DUPLICATE"
	CodeRequired         = "REQUIRED"
	CodeNotExpected      = "NOT_EXPECTED"
	CodeParameterCount   = "PARAMETER_COUNT"
	CodeParameterType    = "PARAMETER_TYPE"
	CodeNamedExpected    = "NAMED_PARAMETER_EXPECTED"
	CodePositionalOnly   = "POSITIONAL_PARAMETER_EXPECTED"
	CodeParameterName    = "PARAMETER_NAME"
	CodeMediaKind        = "MEDIA_KIND"
	CodeSubType          = "SUB_TYPE"
	CodeNoSuchButton     = "NO_SUCH_BUTTON"
	CodeCardCount        = "CARD_COUNT"
	CodeCardIndex        = "CARD_INDEX"
	CodeTooLong          = "TOO_LONG"
	CodeCharacters       = "INVALID_CHARACTERS"
	CodeInvalid          = "INVALID_VALUE"
)

// sendComponent is one component of a send's template object (Meta's
// format: type header, body, button, carousel, limited_time_offer).
type sendComponent struct {
	Type       string            `json:"type"`
	SubType    string            `json:"sub_type"`
	Index      json.RawMessage   `json:"index"`
	Parameters []json.RawMessage `json:"parameters"`
	Cards      []json.RawMessage `json:"cards"`
}

// sendCard is one card of a carousel component.
type sendCard struct {
	CardIndex  *int              `json:"card_index"`
	Components []json.RawMessage `json:"components"`
}

// checker collects the problems of one send.
type checker struct {
	named    bool
	problems []Problem
}

func (c *checker) add(field, code, format string, args ...any) {
	c.problems = append(c.problems, Problem{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

// Check compares the components of a send (components, the JSON array a
// client gives in template.components, empty for none) with t's
// definition and returns every problem found, nil when the send fits:
// the header's parameter and its media kind, the body's parameters (their
// number, positional or named, their types and the rendered lengths), the
// buttons by index (sub_type, URL suffix, copy code, OTP), the carousel's
// cards and the limited-time offer. Check does not look at the template's
// status. It never fails: a component it cannot decode is a problem.
func Check(t actors.Template, components json.RawMessage) []Problem {
	c := &checker{named: t.Named()}
	var raws []json.RawMessage
	if len(components) > 0 && string(components) != "null" {
		if err := json.Unmarshal(components, &raws); err != nil {
			c.add("template.components", CodeInvalid, "must be an array of components")
			return c.problems
		}
	}
	c.components("template.components", t.Components, raws, true)
	return c.problems
}

// given is the request's components indexed by what they fill.
type given struct {
	header, body, offer, carousel *indexed
	buttons                       map[int]*indexed
}

type indexed struct {
	field string
	comp  sendComponent
}

// components checks raws (the request's components at field) against defs
// (a template's or a carousel card's). top allows carousel and
// limited-time-offer components.
func (c *checker) components(field string, defs []actors.TemplateComponent, raws []json.RawMessage, top bool) {
	g := c.index(field, raws, top)
	var header, body, buttons, carousel, offer *actors.TemplateComponent
	for i := range defs {
		d := &defs[i]
		switch strings.ToUpper(d.Type) {
		case actors.ComponentHeader:
			header = d
		case actors.ComponentBody:
			body = d
		case actors.ComponentButtons:
			buttons = d
		case actors.ComponentCarousel:
			carousel = d
		case actors.ComponentLimitedTimeOffer:
			offer = d
		}
	}
	c.header(field, header, g.header)
	c.body(field, body, g.body)
	var defButtons []actors.TemplateButton
	if buttons != nil {
		defButtons = buttons.Buttons
	}
	c.buttons(field, defButtons, g.buttons)
	if top {
		c.carousel(field, carousel, g.carousel)
		c.offer(field, offer, g.offer)
	}
}

// index decodes raws and files each under what it fills, reporting
// unknown, undecodable and repeated components.
func (c *checker) index(field string, raws []json.RawMessage, top bool) given {
	g := given{buttons: map[int]*indexed{}}
	for i, raw := range raws {
		f := fmt.Sprintf("%s[%d]", field, i)
		var sc sendComponent
		if err := json.Unmarshal(raw, &sc); err != nil {
			c.add(f, CodeInvalid, "is not a component object: {type, parameters}")
			continue
		}
		it := &indexed{field: f, comp: sc}
		var slot **indexed
		switch strings.ToLower(sc.Type) {
		case "header":
			slot = &g.header
		case "body":
			slot = &g.body
		case "button":
			idx, ok := buttonIndex(sc.Index)
			if !ok {
				c.add(f+".index", CodeInvalid, "a button component needs its index: the button's position in the template, from 0")
				continue
			}
			if prev, dup := g.buttons[idx]; dup {
				c.add(f, CodeDuplicate, "button %d is already given at %s", idx, prev.field)
				continue
			}
			g.buttons[idx] = it
			continue
		case "carousel":
			if top {
				slot = &g.carousel
			}
		case "limited_time_offer":
			if top {
				slot = &g.offer
			}
		case "footer":
			c.add(f, CodeNotExpected, "a footer takes no parameters")
			continue
		case "":
			c.add(f+".type", CodeRequired, "is required: header, body, button, carousel or limited_time_offer")
			continue
		}
		if slot == nil {
			c.add(f+".type", CodeUnknownComponent, "%q is not a component this template fills here", sc.Type)
			continue
		}
		if *slot != nil {
			c.add(f, CodeDuplicate, "a %s component is already given at %s", strings.ToLower(sc.Type), (*slot).field)
			continue
		}
		*slot = it
	}
	return g
}

// buttonIndex reads a button component's index: a number or a string of
// digits (Meta takes both).
func buttonIndex(raw json.RawMessage) (int, bool) {
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 99 || s == "" {
		return 0, false
	}
	return n, true
}

// missingField names a component the request lacks.
func missingField(field, what string) string { return field + "[" + what + "]" }
