package cloudapi

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of a template Meta enforces at creation.
const (
	maxTemplateName   = 512
	maxTemplateBody   = 1024
	maxTemplateHeader = 60
	maxTemplateFooter = 60
	maxTemplateButton = 25
	maxButtonsPerTpl  = 10
)

var (
	templateName     = regexp.MustCompile(`^[a-z0-9_]+$`)
	templateLanguage = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z]{2,4})?$`)
	namedParam       = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	headerFormats    = []string{"TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}
	buttonTypes      = []string{"QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP", "FLOW"}
)

// createRequest is the body of POST /{waba_id}/message_templates. Other
// top-level keys (allow_category_change, message_send_ttl_seconds, ...)
// are ignored.
type createRequest struct {
	Name            string              `json:"name"`
	Language        string              `json:"language"`
	Category        string              `json:"category"`
	ParameterFormat string              `json:"parameter_format"`
	Components      []TemplateComponent `json:"components"`
}

// parseTemplateCreate validates a new template the way Meta does before it
// queues it for review.
func parseTemplateCreate(body []byte) (Template, *apiError) {
	var req createRequest
	if e := decodeLenient(body, &req); e != nil {
		return Template{}, e
	}
	t := Template{Name: req.Name, Language: req.Language, Category: upper(req.Category), ParameterFormat: upper(req.ParameterFormat), Components: req.Components}
	switch {
	case t.Name == "" || len(t.Name) > maxTemplateName || !templateName.MatchString(t.Name):
		return t, invalidParam("Param name is required: at most %d lowercase letters, digits and underscores.", maxTemplateName)
	case !templateLanguage.MatchString(t.Language):
		return t, invalidParam("Param language must be a supported language and locale code such as en_US, got %q.", clip(t.Language))
	case !slices.Contains([]string{CategoryMarketing, CategoryUtility, CategoryAuthentication}, t.Category):
		return t, invalidParam("Param category must be MARKETING, UTILITY or AUTHENTICATION.")
	}
	if t.ParameterFormat == "" {
		t.ParameterFormat = FormatPositional
	}
	if t.ParameterFormat != FormatPositional && t.ParameterFormat != FormatNamed {
		return t, invalidParam("Param parameter_format must be POSITIONAL or NAMED.")
	}
	if e := checkTemplateComponents(t.Components, "components", t.ParameterFormat == FormatNamed, true); e != nil {
		return t, e
	}
	return t, nil
}

// checkTemplateComponents validates components (upper-casing their types
// and formats in place): exactly one BODY, at most one of the others,
// placeholders in the template's parameter format, and an example for
// every placeholder.
func checkTemplateComponents(cs []TemplateComponent, at string, named, top bool) *apiError {
	if len(cs) == 0 {
		return invalidParam("Param %s must be a non-empty array.", at)
	}
	seen := map[string]bool{}
	for i := range cs {
		c := &cs[i]
		c.Type, c.Format = upper(c.Type), upper(c.Format)
		where := at + "[" + strconv.Itoa(i) + "]"
		if seen[c.Type] {
			return invalidParam("Param %s has more than one %s component.", at, c.Type)
		}
		seen[c.Type] = true
		var e *apiError
		switch c.Type {
		case "HEADER":
			e = checkHeaderDef(c, where, named)
		case "BODY":
			e = checkBodyDef(c, where, named)
		case "FOOTER":
			if strings.TrimSpace(c.Text) == "" && c.CodeExpirationMinutes == nil || utf8.RuneCountInString(c.Text) > maxTemplateFooter || len(variables(c.Text)) > 0 {
				e = invalidParam("Param %s['text'] is required: at most %d characters, without variables.", where, maxTemplateFooter)
			}
		case "BUTTONS":
			e = checkButtonsDef(c, where)
		case "CAROUSEL":
			if !top {
				return invalidParam("Param %s: a carousel card cannot hold a carousel.", where)
			}
			if len(c.Cards) == 0 || len(c.Cards) > maxCards {
				return invalidParam("Param %s['cards'] must have 1 to %d cards.", where, maxCards)
			}
			for j := range c.Cards {
				if e := checkTemplateComponents(c.Cards[j].Components, where+"['cards']["+strconv.Itoa(j)+"]['components']", false, false); e != nil {
					return e
				}
			}
		default:
			e = invalidParam("Param %s['type'] must be HEADER, BODY, FOOTER, BUTTONS or CAROUSEL.", where)
		}
		if e != nil {
			return e
		}
	}
	if !seen["BODY"] {
		return invalidParam("Param %s must have a BODY component.", at)
	}
	return nil
}

func checkHeaderDef(c *TemplateComponent, where string, named bool) *apiError {
	if !slices.Contains(headerFormats, c.Format) {
		return invalidParam("Param %s['format'] must be one of %s.", where, strings.Join(headerFormats, ", "))
	}
	if c.Format != "TEXT" {
		return nil
	}
	vars := variables(c.Text)
	if strings.TrimSpace(c.Text) == "" || utf8.RuneCountInString(c.Text) > maxTemplateHeader || len(vars) > 1 {
		return invalidParam("Param %s['text'] is required: at most %d characters and one variable.", where, maxTemplateHeader)
	}
	return checkVariables(vars, c.Example, "header_text", where, named)
}

func checkBodyDef(c *TemplateComponent, where string, named bool) *apiError {
	if strings.TrimSpace(c.Text) == "" || utf8.RuneCountInString(c.Text) > maxTemplateBody {
		return invalidParam("Param %s['text'] is required: at most %d characters.", where, maxTemplateBody)
	}
	return checkVariables(variables(c.Text), c.Example, "body_text", where, named)
}

// checkVariables checks placeholders: {{1}}..{{n}} in order of numbers
// for positional templates, lower-case names for named ones, and an
// example value for each (example.<key> or example.<key>_named_params).
func checkVariables(vars []string, example json.RawMessage, key, where string, named bool) *apiError {
	if len(vars) == 0 {
		return nil
	}
	for i, v := range vars {
		if named {
			if !namedParam.MatchString(v) {
				return invalidParam("Param %s['text'] has variable {{%s}}: named parameters are lower-case letters, digits and underscores.", where, v)
			}
			continue
		}
		if n, err := strconv.Atoi(v); err != nil || n != i+1 {
			return invalidParam("Param %s['text'] has variable {{%s}}: positional variables are {{1}}, {{2}}, ... in order.", where, v)
		}
	}
	var ex map[string]json.RawMessage
	_ = json.Unmarshal(example, &ex)
	if named {
		var params []struct {
			ParamName string `json:"param_name"`
			Example   string `json:"example"`
		}
		_ = json.Unmarshal(ex[key+"_named_params"], &params)
		var names []string
		for _, p := range params {
			names = append(names, p.ParamName)
		}
		for _, v := range vars {
			if !slices.Contains(names, v) {
				return invalidParam("Param %s['example']['%s_named_params'] needs an example for {{%s}}.", where, key, v)
			}
		}
		return nil
	}
	count := 0
	if key == "header_text" {
		var values []string
		_ = json.Unmarshal(ex[key], &values)
		count = len(values)
	} else {
		var rows [][]string
		_ = json.Unmarshal(ex[key], &rows)
		if len(rows) > 0 {
			count = len(rows[0])
		}
	}
	if count != len(vars) {
		return invalidParam("Param %s['example']['%s'] must give %d example values, one per variable.", where, key, len(vars))
	}
	return nil
}

func checkButtonsDef(c *TemplateComponent, where string) *apiError {
	if len(c.Buttons) == 0 || len(c.Buttons) > maxButtonsPerTpl {
		return invalidParam("Param %s['buttons'] must have 1 to %d buttons.", where, maxButtonsPerTpl)
	}
	for i := range c.Buttons {
		b := &c.Buttons[i]
		b.Type = upper(b.Type)
		bw := where + "['buttons'][" + strconv.Itoa(i) + "]"
		if !slices.Contains(buttonTypes, b.Type) {
			return invalidParam("Param %s['type'] must be one of %s.", bw, strings.Join(buttonTypes, ", "))
		}
		if b.Type != "OTP" && (strings.TrimSpace(b.Text) == "" || utf8.RuneCountInString(b.Text) > maxTemplateButton) {
			return invalidParam("Param %s['text'] is required (at most %d characters).", bw, maxTemplateButton)
		}
		switch b.Type {
		case "URL":
			vars := variables(b.URL)
			if !strings.HasPrefix(b.URL, "https://") && !strings.HasPrefix(b.URL, "http://") || len(vars) > 1 ||
				len(vars) == 1 && !strings.HasSuffix(strings.TrimSpace(b.URL), "}}") {
				return invalidParam("Param %s['url'] must be an http(s) URL with at most one variable, at its end.", bw)
			}
		case "PHONE_NUMBER":
			if _, ok := phoneDigits(b.PhoneNumber); !ok {
				return invalidParam("Param %s['phone_number'] must be a phone number.", bw)
			}
		case "OTP":
			if b.OTPType != "COPY_CODE" && b.OTPType != "ONE_TAP" && b.OTPType != "ZERO_TAP" {
				return invalidParam("Param %s['otp_type'] must be COPY_CODE, ONE_TAP or ZERO_TAP.", bw)
			}
		}
	}
	return nil
}
