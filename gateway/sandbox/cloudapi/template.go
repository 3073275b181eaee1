package cloudapi

import (
	"encoding/json"
	"strings"
)

func validateTemplate(raw json.RawMessage) *apiError {
	var t struct {
		Name     string `json:"name"`
		Language *struct {
			Code   string `json:"code"`
			Policy string `json:"policy"`
		} `json:"language"`
		Components []struct {
			Type       string            `json:"type"`
			SubType    string            `json:"sub_type"`
			Index      json.RawMessage   `json:"index"`
			Parameters []json.RawMessage `json:"parameters"`
		} `json:"components"`
	}
	if e := decodeStrict(raw, &t, "template"); e != nil {
		return e
	}
	if strings.TrimSpace(t.Name) == "" {
		return invalidParam("Param template['name'] is required.")
	}
	if t.Language == nil || strings.TrimSpace(t.Language.Code) == "" {
		return invalidParam("Param template['language']['code'] is required.")
	}
	if t.Language.Policy != "" && t.Language.Policy != "deterministic" {
		return invalidParam("Param template['language']['policy'] must be 'deterministic'.")
	}
	for i, c := range t.Components {
		switch c.Type {
		case "header", "body", "footer", "button", "carousel", "limited_time_offer":
		default:
			return invalidParam("Param template['components'][%d]['type'] must be header, body, button, footer, carousel or limited_time_offer.", i)
		}
		for j, p := range c.Parameters {
			var param struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(p, &param); err != nil || param.Type == "" {
				return invalidParam("Param template['components'][%d]['parameters'][%d]['type'] is required.", i, j)
			}
		}
	}
	return nil
}
