package cloudapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Meta's titles of the template errors a send can be answered with.
const (
	titleParamCount   = "Number of parameters does not match the expected number of params"
	titleNotFound     = "Template name does not exist in the translation"
	titleParamFormat  = "Parameter format does not match format in the created template"
	titlePaused       = "Template is Paused"
	titleDisabled     = "Template is Disabled"
	templateHTTPError = http.StatusBadRequest
)

func countMismatch(format string, args ...any) *apiError {
	return &apiError{status: templateHTTPError, code: CodeTemplateParamCount, title: titleParamCount, details: fmt.Sprintf(format, args...)}
}

func formatMismatch(format string, args ...any) *apiError {
	return &apiError{status: templateHTTPError, code: CodeTemplateFormat, title: titleParamFormat, details: fmt.Sprintf(format, args...)}
}

// checkTemplateSend finds the template a send names and checks the send
// against it: it must exist in that language and be APPROVED (132001, or
// 132015 paused, 132016 disabled), and its components must carry exactly
// the parameters the template's placeholders, media header, buttons and
// carousel cards need (132000 for a count, 132012 for a format).
func checkTemplateSend(reg *registry, st *sendTemplate) (Template, *apiError) {
	tpl, ok, _ := reg.find(st.Name, st.Language.Code)
	if !ok {
		return Template{}, &apiError{status: http.StatusNotFound, code: CodeTemplateNotFound, title: titleNotFound,
			details: fmt.Sprintf("template name (%s) does not exist in %s", clip(st.Name), clip(st.Language.Code))}
	}
	switch tpl.Status {
	case TemplateApproved:
	case TemplatePaused:
		return tpl, &apiError{status: templateHTTPError, code: CodeTemplatePaused, title: titlePaused,
			details: fmt.Sprintf("Template %s is paused because of low quality, so it cannot be sent in a template message.", tpl.Name)}
	case TemplateDisabled:
		return tpl, &apiError{status: templateHTTPError, code: CodeTemplateDisabled, title: titleDisabled,
			details: fmt.Sprintf("Template %s has been paused too many times because of low quality and is now permanently disabled.", tpl.Name)}
	default:
		return tpl, &apiError{status: http.StatusNotFound, code: CodeTemplateNotFound, title: titleNotFound,
			details: fmt.Sprintf("template name (%s) does not exist in %s or has not been approved (status %s)", tpl.Name, tpl.Language, tpl.Status)}
	}
	return tpl, matchComponents("", tpl.Components, st.Components, tpl.ParameterFormat == FormatNamed)
}

// sent is a send's components sorted by kind.
type sent struct {
	header, body, carousel *sendComponent
	buttons                map[int]*sendComponent
}

func sortSent(prefix string, got []sendComponent) (sent, *apiError) {
	s := sent{buttons: map[int]*sendComponent{}}
	for i := range got {
		c := &got[i]
		var slot **sendComponent
		switch c.Type {
		case "header":
			slot = &s.header
		case "body":
			slot = &s.body
		case "carousel":
			slot = &s.carousel
		case "button":
			if s.buttons[c.index] != nil {
				return s, invalidParam("Param %scomponents has two button components with index %d.", prefix, c.index)
			}
			s.buttons[c.index] = c
			continue
		default: // footer, limited_time_offer: no parameters to match
			continue
		}
		if *slot != nil {
			return s, invalidParam("Param %scomponents has two %s components.", prefix, c.Type)
		}
		*slot = c
	}
	return s, nil
}

func matchComponents(prefix string, want []TemplateComponent, got []sendComponent, named bool) *apiError {
	s, e := sortSent(prefix, got)
	if e != nil {
		return e
	}
	if e := matchHeader(prefix, component(want, "HEADER"), s.header); e != nil {
		return e
	}
	if e := matchBody(prefix, component(want, "BODY"), s.body, named); e != nil {
		return e
	}
	if e := matchButtons(prefix, component(want, "BUTTONS"), s.buttons); e != nil {
		return e
	}
	return matchCarousel(prefix, component(want, "CAROUSEL"), s.carousel)
}

func component(cs []TemplateComponent, typ string) *TemplateComponent {
	for i := range cs {
		if strings.EqualFold(cs[i].Type, typ) {
			return &cs[i]
		}
	}
	return nil
}

func params(c *sendComponent) []sendParam {
	if c == nil {
		return nil
	}
	return c.Parameters
}

func matchHeader(prefix string, want *TemplateComponent, got *sendComponent) *apiError {
	expected := "" // the parameter type the header needs, "" for none
	if want != nil {
		switch f := upper(want.Format); f {
		case "IMAGE", "VIDEO", "DOCUMENT", "LOCATION":
			expected = strings.ToLower(f)
		case "TEXT", "":
			if len(variables(want.Text)) > 0 {
				expected = "text"
			}
		}
	}
	ps := params(got)
	n := 0
	if expected != "" {
		n = 1
	}
	if len(ps) != n {
		return countMismatch("%sheader: number of localizable_params (%d) does not match the expected number of params (%d)", prefix, len(ps), n)
	}
	if n == 1 && ps[0].Type != expected {
		return formatMismatch("%sheader: Format mismatch, expected %s, received %s", prefix, strings.ToUpper(expected), strings.ToUpper(ps[0].Type))
	}
	return nil
}

func matchBody(prefix string, want *TemplateComponent, got *sendComponent, named bool) *apiError {
	var vars []string
	if want != nil {
		vars = variables(want.Text)
	}
	ps := params(got)
	if len(ps) != len(vars) {
		return countMismatch("%sbody: number of localizable_params (%d) does not match the expected number of params (%d)", prefix, len(ps), len(vars))
	}
	var names []string
	for i, p := range ps {
		switch p.Type {
		case "text", "currency", "date_time":
		default:
			return formatMismatch("%sbody: Format mismatch at parameter %d, expected TEXT, received %s", prefix, i, strings.ToUpper(p.Type))
		}
		if named {
			if p.ParameterName == "" {
				return formatMismatch("%sbody: parameter %d has no parameter_name, but the template uses named parameters", prefix, i)
			}
			names = append(names, p.ParameterName)
		}
	}
	if named {
		slices.Sort(names)
		want := slices.Clone(vars)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			return countMismatch("%sbody: parameter names (%s) do not match the expected named params (%s)", prefix, strings.Join(names, ", "), strings.Join(want, ", "))
		}
	}
	return nil
}

// buttonNeed is what the send must carry for one template button.
type buttonNeed struct {
	subType   string // the component's sub_type
	paramType string // the parameter's type; "" when none is allowed
	optional  bool   // the component may be left out
}

func needOf(b TemplateButton) buttonNeed {
	switch upper(b.Type) {
	case "URL":
		if len(variables(b.URL)) > 0 {
			return buttonNeed{subType: "url", paramType: "text"}
		}
	case "OTP":
		// Authentication templates carry the code in the button's URL
		// parameter (copy code and one-tap alike).
		return buttonNeed{subType: "url", paramType: "text"}
	case "COPY_CODE":
		return buttonNeed{subType: "copy_code", paramType: "coupon_code"}
	case "QUICK_REPLY":
		return buttonNeed{subType: "quick_reply", paramType: "payload", optional: true}
	case "FLOW":
		return buttonNeed{subType: "flow", paramType: "action", optional: true}
	}
	return buttonNeed{optional: true}
}

func matchButtons(prefix string, want *TemplateComponent, got map[int]*sendComponent) *apiError {
	var buttons []TemplateButton
	if want != nil {
		buttons = want.Buttons
	}
	for idx, c := range got {
		if idx >= len(buttons) {
			return countMismatch("%sbutton at index %d: the template has %d buttons", prefix, idx, len(buttons))
		}
		need := needOf(buttons[idx])
		if need.subType == "" {
			return countMismatch("%sbutton at index %d: number of params (%d) does not match the expected number of params (0)", prefix, idx, len(c.Parameters))
		}
		if !strings.EqualFold(c.SubType, need.subType) {
			return formatMismatch("%sbutton at index %d: Format mismatch, expected sub_type %s, received %s", prefix, idx, need.subType, strings.ToLower(c.SubType))
		}
	}
	for idx, b := range buttons {
		need := needOf(b)
		c := got[idx]
		if c == nil {
			if need.optional {
				continue
			}
			return countMismatch("%sbutton at index %d: number of params (0) does not match the expected number of params (1)", prefix, idx)
		}
		if need.optional && len(c.Parameters) == 0 {
			continue
		}
		if len(c.Parameters) != 1 {
			return countMismatch("%sbutton at index %d: number of params (%d) does not match the expected number of params (1)", prefix, idx, len(c.Parameters))
		}
		if c.Parameters[0].Type != need.paramType {
			return formatMismatch("%sbutton at index %d: Format mismatch, expected %s, received %s", prefix, idx, strings.ToUpper(need.paramType), strings.ToUpper(c.Parameters[0].Type))
		}
	}
	return nil
}

func matchCarousel(prefix string, want *TemplateComponent, got *sendComponent) *apiError {
	var cards []TemplateCard
	if want != nil {
		cards = want.Cards
	}
	var sentCards []sendCard
	if got != nil {
		sentCards = got.Cards
	}
	if len(sentCards) != len(cards) {
		return countMismatch("%scarousel: number of cards (%d) does not match the expected number of cards (%d)", prefix, len(sentCards), len(cards))
	}
	for _, card := range sentCards {
		i := *card.CardIndex
		if i >= len(cards) {
			return countMismatch("%scarousel: card_index %d is out of range: the template has %d cards", prefix, i, len(cards))
		}
		if e := matchComponents(fmt.Sprintf("%scarousel card %d ", prefix, i), cards[i].Components, card.Components, false); e != nil {
			return e
		}
	}
	return nil
}
