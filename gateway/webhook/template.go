package webhook

import (
	"encoding/json"
	"strings"

	"github.com/wacc/engine/actors"
)

// templateFields are the change fields templateEvents decodes.
var templateFields = map[string]bool{
	actors.FieldTemplateStatus:     true,
	actors.FieldTemplateQuality:    true,
	actors.FieldTemplateComponents: true,
	actors.FieldTemplateCategory:   true,
}

// wireTemplateValue is the value of a template change; it holds the fields
// of all four kinds (each sends some of them).
type wireTemplateValue struct {
	Event     string    `json:"event"`
	ID        flexID    `json:"message_template_id"`
	Name      string    `json:"message_template_name"`
	Language  string    `json:"message_template_language"`
	Reason    string    `json:"reason"`
	Category  string    `json:"message_template_category"`
	NewCat    string    `json:"new_category"`
	Quality   string    `json:"new_quality_score"`
	OtherInfo *struct { // pauses and locks
		Title string `json:"title"`
	} `json:"other_info"`
}

// flexID decodes an id sent as a JSON number or a string.
type flexID string

func (f *flexID) UnmarshalJSON(data []byte) error {
	*f = flexID(strings.Trim(string(data), `"`))
	if *f == "null" {
		*f = ""
	}
	return nil
}

// templateEvents decodes the template changes of body (fields
// message_template_status_update, message_template_quality_update,
// message_template_components_update and template_category_update), in body
// order, each with its entry's id (the business account) and time. It
// decodes the body again, keeping only those, and runs only for bodies
// that carry changes other than messages. A change whose value is not an
// object, or names no template, is skipped (it stays in Other).
func templateEvents(body []byte) []actors.TemplateEvent {
	var rb struct {
		Entry []struct {
			ID      flexID      `json:"id"`
			Time    unixSeconds `json:"time"`
			Changes []struct {
				Field string          `json:"field"`
				Value json.RawMessage `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	_ = json.Unmarshal(body, &rb) // the body is known valid; mismatches leave zero values
	var out []actors.TemplateEvent
	for _, e := range rb.Entry {
		for _, ch := range e.Changes {
			if !templateFields[ch.Field] || !isObject(ch.Value) {
				continue
			}
			var v wireTemplateValue
			_ = json.Unmarshal(ch.Value, &v) // tolerated: mismatched fields stay zero
			if v.Name == "" {
				continue
			}
			ev := actors.TemplateEvent{
				BusinessAccountID: string(e.ID),
				Field:             ch.Field,
				TemplateID:        string(v.ID),
				Name:              v.Name,
				Language:          strings.ReplaceAll(v.Language, "-", "_"),
				Event:             strings.ToUpper(v.Event),
				Reason:            v.Reason,
				Quality:           strings.ToUpper(v.Quality),
				Category:          v.Category,
				Timestamp:         e.Time.time(),
			}
			if ev.Category == "" {
				ev.Category = v.NewCat
			}
			if (ev.Reason == "" || strings.EqualFold(ev.Reason, "NONE")) && v.OtherInfo != nil && v.OtherInfo.Title != "" {
				ev.Reason = v.OtherInfo.Title
			}
			out = append(out, ev)
		}
	}
	return out
}
