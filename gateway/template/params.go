package template

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wacc/engine/actors"
)

// Meta's limits on rendered text.
const (
	maxHeaderText = 60
	maxBodyText   = 1024
	maxCodeLength = 15 // copy codes and one-time passwords
	maxSuffix     = 2000
	maxPayload    = 1000
)

// sendParam is one parameter of a send's component.
type sendParam struct {
	Type          string  `json:"type"`
	ParameterName *string `json:"parameter_name"`
	Text          *string `json:"text"`
	Payload       *string `json:"payload"`
	CouponCode    *string `json:"coupon_code"`
	Currency      *struct {
		FallbackValue string `json:"fallback_value"`
		Code          string `json:"code"`
		Amount1000    *int64 `json:"amount_1000"`
	} `json:"currency"`
	DateTime *struct {
		FallbackValue string `json:"fallback_value"`
	} `json:"date_time"`
	Image    *sendMedia `json:"image"`
	Video    *sendMedia `json:"video"`
	Document *sendMedia `json:"document"`
	Location *struct {
		Latitude  *float64 `json:"latitude"`
		Longitude *float64 `json:"longitude"`
	} `json:"location"`
	LimitedTimeOffer *struct {
		ExpirationTimeMs *int64 `json:"expiration_time_ms"`
	} `json:"limited_time_offer"`
	Action json.RawMessage `json:"action"`
}

type sendMedia struct {
	ID   string `json:"id"`
	Link string `json:"link"`
}

// variable matches {{1}} and {{first_name}}.
var variable = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// variables lists the distinct variables of text: positional ones in
// numeric order ({{1}}, {{2}}, ... whatever order the text uses them in,
// as positional parameters fill them), named ones in order of first use.
func variables(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range variable.FindAllStringSubmatch(text, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, errA := strconv.Atoi(out[i])
		b, errB := strconv.Atoi(out[j])
		return errA == nil && errB == nil && a < b
	})
	return out
}

// params decodes a component's parameters; undecodable ones are problems
// and come back nil.
func (c *checker) params(field string, raws []json.RawMessage) []*sendParam {
	out := make([]*sendParam, len(raws))
	for i, raw := range raws {
		var p sendParam
		if err := json.Unmarshal(raw, &p); err != nil {
			c.add(fmt.Sprintf("%s.parameters[%d]", field, i), CodeInvalid, "is not a parameter object: {type, ...}")
			continue
		}
		out[i] = &p
	}
	return out
}

// header checks the header component of a send against def.
func (c *checker) header(field string, def *actors.TemplateComponent, got *indexed) {
	format := ""
	if def != nil {
		format = strings.ToUpper(def.Format)
		if format == "" {
			format = actors.HeaderText
		}
	}
	switch format {
	case actors.HeaderImage, actors.HeaderVideo, actors.HeaderDocument, actors.HeaderLocation:
		kind := strings.ToLower(format)
		if got == nil {
			c.add(missingField(field, "header"), CodeRequired, "the template's header is %s: give it as a header component with one %s parameter", article(kind), kind)
			return
		}
		ps := c.params(got.field, got.comp.Parameters)
		if len(ps) != 1 {
			c.add(got.field+".parameters", CodeParameterCount, "the header takes exactly one %s parameter, got %d", kind, len(ps))
			return
		}
		if ps[0] != nil {
			c.headerMedia(got.field+".parameters[0]", kind, ps[0])
		}
	case actors.HeaderText:
		vars := variables(def.Text)
		if len(vars) == 0 {
			if got != nil && len(got.comp.Parameters) > 0 {
				c.add(got.field, CodeNotExpected, "the template's header has no variables: leave the header component out")
			}
			return
		}
		values := c.texts(field, "header", vars, got, []string{"text"})
		if values != nil {
			if n := utf8.RuneCountInString(render(def.Text, vars, values)); n > maxHeaderText {
				c.add(got.field, CodeTooLong, "the header would be %d characters with these values; at most %d", n, maxHeaderText)
			}
		}
	case "":
		if got != nil {
			c.add(got.field, CodeNotExpected, "the template has no header")
		}
	default:
		// A header format newer than this code: Meta checks it.
	}
}

func (c *checker) headerMedia(field, kind string, p *sendParam) {
	if strings.ToLower(p.Type) != kind {
		c.add(field+".type", CodeMediaKind, "the template's header is %s, not %q", article(kind), p.Type)
		return
	}
	if kind == "location" {
		if p.Location == nil || p.Location.Latitude == nil || p.Location.Longitude == nil ||
			*p.Location.Latitude < -90 || *p.Location.Latitude > 90 || *p.Location.Longitude < -180 || *p.Location.Longitude > 180 {
			c.add(field+".location", CodeInvalid, "needs latitude (-90 to 90) and longitude (-180 to 180)")
		}
		return
	}
	m := map[string]*sendMedia{"image": p.Image, "video": p.Video, "document": p.Document}[kind]
	if m == nil || (m.ID == "") == (m.Link == "") {
		c.add(field+"."+kind, CodeRequired, "give the %s as exactly one of id or link", kind)
		return
	}
	if m.Link != "" {
		if u, err := url.Parse(m.Link); err != nil || u.Scheme != "https" || u.Host == "" {
			c.add(field+"."+kind+".link", CodeInvalid, "must be an https URL")
		}
	}
}

// body checks the body component of a send against def.
func (c *checker) body(field string, def *actors.TemplateComponent, got *indexed) {
	var vars []string
	if def != nil {
		vars = variables(def.Text)
	}
	if len(vars) == 0 {
		if got != nil && len(got.comp.Parameters) > 0 {
			c.add(got.field+".parameters", CodeParameterCount, "the template's body has no variables, got %d parameters", len(got.comp.Parameters))
		}
		return
	}
	values := c.texts(field, "body", vars, got, []string{"text", "currency", "date_time"})
	if values != nil {
		if n := utf8.RuneCountInString(render(def.Text, vars, values)); n > maxBodyText {
			c.add(got.field, CodeTooLong, "the body would be %d characters with these values; at most %d", n, maxBodyText)
		}
	}
}

// texts checks the parameters of a header or body whose text has vars,
// positional or named as the template is, each of one of types; it
// returns the value of each variable (nil when the parameters do not fit).
func (c *checker) texts(field, what string, vars []string, got *indexed, types []string) map[string]string {
	if got == nil {
		c.add(missingField(field, what), CodeRequired, "the template's %s has %d variable(s) (%s): give a %s component with their values",
			what, len(vars), strings.Join(wrap(vars), ", "), what)
		return nil
	}
	ps := c.params(got.field, got.comp.Parameters)
	if len(ps) != len(vars) {
		c.add(got.field+".parameters", CodeParameterCount, "the template's %s has %d variable(s) (%s), got %d parameter(s)",
			what, len(vars), strings.Join(wrap(vars), ", "), len(ps))
		return nil
	}
	values := map[string]string{}
	ok := true
	for i, p := range ps {
		pf := fmt.Sprintf("%s.parameters[%d]", got.field, i)
		if p == nil {
			ok = false
			continue
		}
		name := vars[i]
		if c.named {
			if p.ParameterName == nil || *p.ParameterName == "" {
				c.add(pf+".parameter_name", CodeNamedExpected, "the template's parameters are named (%s): give parameter_name", strings.Join(wrap(vars), ", "))
				ok = false
				continue
			}
			name = *p.ParameterName
			if !contains(vars, name) {
				c.add(pf+".parameter_name", CodeParameterName, "the template's %s has no variable {{%s}}; it has %s", what, name, strings.Join(wrap(vars), ", "))
				ok = false
				continue
			}
			if _, dup := values[name]; dup {
				c.add(pf+".parameter_name", CodeDuplicate, "{{%s}} is given twice", name)
				ok = false
				continue
			}
		} else if p.ParameterName != nil {
			c.add(pf+".parameter_name", CodePositionalOnly, "the template's parameters are positional ({{1}}, {{2}}, ...): give them in order, without parameter_name")
			ok = false
			continue
		}
		v, good := c.textValue(pf, p, types)
		ok = ok && good
		values[name] = v
	}
	if !ok {
		return nil
	}
	return values
}

// textValue checks a text, currency or date_time parameter and returns
// the text it renders as.
func (c *checker) textValue(field string, p *sendParam, types []string) (string, bool) {
	typ := strings.ToLower(p.Type)
	if !contains(types, typ) {
		c.add(field+".type", CodeParameterType, "must be %s, not %q", strings.Join(types, ", "), p.Type)
		return "", false
	}
	var v string
	switch typ {
	case "text":
		if p.Text == nil {
			c.add(field+".text", CodeRequired, "is required")
			return "", false
		}
		v = *p.Text
	case "currency":
		if p.Currency == nil || p.Currency.FallbackValue == "" || len(p.Currency.Code) != 3 || p.Currency.Amount1000 == nil {
			c.add(field+".currency", CodeRequired, "needs fallback_value, code (ISO 4217) and amount_1000")
			return "", false
		}
		v = p.Currency.FallbackValue
	case "date_time":
		if p.DateTime == nil || p.DateTime.FallbackValue == "" {
			c.add(field+".date_time", CodeRequired, "needs fallback_value")
			return "", false
		}
		v = p.DateTime.FallbackValue
	}
	return v, c.plainText(field, v)
}

// plainText applies Meta's rules for a parameter's text: not empty, no
// new lines or tabs, at most four consecutive spaces.
func (c *checker) plainText(field, v string) bool {
	switch {
	case strings.TrimSpace(v) == "":
		c.add(field, CodeRequired, "must not be empty")
	case strings.ContainsAny(v, "\n\r\t"):
		c.add(field, CodeCharacters, "must not contain new lines or tabs")
	case strings.Contains(v, "     "):
		c.add(field, CodeCharacters, "must not contain more than four consecutive spaces")
	default:
		return true
	}
	return false
}

// render fills text's variables with values.
func render(text string, vars []string, values map[string]string) string {
	return variable.ReplaceAllStringFunc(text, func(m string) string {
		name := variable.FindStringSubmatch(m)[1]
		if v, ok := values[name]; ok {
			return v
		}
		return m
	})
}

// article puts "a" or "an" before a media kind.
func article(kind string) string {
	if strings.HasPrefix(kind, "i") {
		return "an " + kind
	}
	return "a " + kind
}

func wrap(vars []string) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = "{{" + v + "}}"
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
