package cloudapi

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// interactiveTypes are the interactive messages the sandbox validates.
var interactiveTypes = []string{"button", "list", "cta_url", "location_request_message", "flow"}

type interactiveObject struct {
	Type   string          `json:"type"`
	Header json.RawMessage `json:"header"`
	Body   *struct {
		Text string `json:"text"`
	} `json:"body"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Action json.RawMessage `json:"action"`
}

type replyAction struct {
	Buttons []struct {
		Type  string `json:"type"`
		Reply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"reply"`
	} `json:"buttons"`
}

type listAction struct {
	Button   *string `json:"button"`
	Sections []struct {
		Title string `json:"title"`
		Rows  []struct {
			ID          string `json:"id"`
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"rows"`
	} `json:"sections"`
}

// namedAction is the action of cta_url, location_request_message and
// flow messages: a name and its parameters.
type namedAction struct {
	Name       string          `json:"name"`
	Parameters json.RawMessage `json:"parameters"`
}

func validateInteractive(raw json.RawMessage) *apiError {
	var in interactiveObject
	if e := decodeStrict(raw, &in, "interactive"); e != nil {
		return e
	}
	if !slices.Contains(interactiveTypes, in.Type) {
		return invalidParam("Param interactive['type'] must be one of {%s}, got %q.", strings.Join(interactiveTypes, ", "), clip(in.Type))
	}
	if in.Body == nil || strings.TrimSpace(in.Body.Text) == "" {
		return invalidParam("Param interactive['body']['text'] is required.")
	}
	if utf8.RuneCountInString(in.Body.Text) > maxInteractiveBody {
		return invalidParam("Param interactive['body']['text'] must be at most %d characters long.", maxInteractiveBody)
	}
	if in.Footer != nil && utf8.RuneCountInString(in.Footer.Text) > maxFooter {
		return invalidParam("Param interactive['footer']['text'] must be at most %d characters long.", maxFooter)
	}
	if in.Header != nil {
		if in.Type == "location_request_message" {
			return invalidParam("Param interactive['header'] is not allowed for location_request_message.")
		}
		if e := validateHeader(in.Header); e != nil {
			return e
		}
	}
	if in.Action == nil || string(in.Action) == "null" {
		return invalidParam("Param interactive['action'] is required.")
	}
	switch in.Type {
	case "button":
		return validateReplyButtons(in.Action)
	case "list":
		return validateList(in.Action)
	case "cta_url":
		return validateCTAURL(in.Action)
	case "location_request_message":
		var a namedAction
		if e := decodeStrict(in.Action, &a, "interactive['action']"); e != nil {
			return e
		}
		if a.Name != "send_location" {
			return invalidParam("Param interactive['action']['name'] must be 'send_location'.")
		}
		return nil
	default:
		return validateFlow(in.Action)
	}
}

func validateReplyButtons(raw json.RawMessage) *apiError {
	var a replyAction
	if e := decodeStrict(raw, &a, "interactive['action']"); e != nil {
		return e
	}
	if len(a.Buttons) == 0 || len(a.Buttons) > maxButtons {
		return invalidParam("Param interactive['action']['buttons'] must have 1 to %d buttons.", maxButtons)
	}
	ids := map[string]bool{}
	for i, b := range a.Buttons {
		if b.Type != "reply" {
			return invalidParam("Param interactive['action']['buttons'][%d]['type'] must be 'reply'.", i)
		}
		if b.Reply == nil || b.Reply.ID == "" || utf8.RuneCountInString(b.Reply.ID) > maxButtonID {
			return invalidParam("Param interactive['action']['buttons'][%d]['reply']['id'] is required (at most %d characters).", i, maxButtonID)
		}
		if strings.TrimSpace(b.Reply.Title) == "" || utf8.RuneCountInString(b.Reply.Title) > maxButtonTitle {
			return invalidParam("Param interactive['action']['buttons'][%d]['reply']['title'] is required (at most %d characters).", i, maxButtonTitle)
		}
		if ids[b.Reply.ID] {
			return invalidParam("Param interactive['action']['buttons'][%d]['reply']['id'] must be unique.", i)
		}
		ids[b.Reply.ID] = true
	}
	return nil
}

func validateList(raw json.RawMessage) *apiError {
	var a listAction
	if e := decodeStrict(raw, &a, "interactive['action']"); e != nil {
		return e
	}
	if a.Button == nil || strings.TrimSpace(*a.Button) == "" || utf8.RuneCountInString(*a.Button) > maxListButton {
		return invalidParam("Param interactive['action']['button'] is required (at most %d characters).", maxListButton)
	}
	if len(a.Sections) == 0 || len(a.Sections) > maxSections {
		return invalidParam("Param interactive['action']['sections'] must have 1 to %d sections.", maxSections)
	}
	rows := 0
	ids := map[string]bool{}
	for i, s := range a.Sections {
		if len(a.Sections) > 1 && strings.TrimSpace(s.Title) == "" {
			return invalidParam("Param interactive['action']['sections'][%d]['title'] is required when there is more than one section.", i)
		}
		if len(s.Rows) == 0 {
			return invalidParam("Param interactive['action']['sections'][%d]['rows'] must not be empty.", i)
		}
		for j, row := range s.Rows {
			rows++
			if row.ID == "" || utf8.RuneCountInString(row.ID) > maxRowID || ids[row.ID] {
				return invalidParam("Param interactive['action']['sections'][%d]['rows'][%d]['id'] is required and unique (at most %d characters).", i, j, maxRowID)
			}
			ids[row.ID] = true
			if strings.TrimSpace(row.Title) == "" || utf8.RuneCountInString(row.Title) > maxRowTitle {
				return invalidParam("Param interactive['action']['sections'][%d]['rows'][%d]['title'] is required (at most %d characters).", i, j, maxRowTitle)
			}
			if utf8.RuneCountInString(row.Description) > maxRowDescription {
				return invalidParam("Param interactive['action']['sections'][%d]['rows'][%d]['description'] must be at most %d characters long.", i, j, maxRowDescription)
			}
		}
	}
	if rows > maxRows {
		return invalidParam("Param interactive['action']['sections'] must have at most %d rows in total, got %d.", maxRows, rows)
	}
	return nil
}

// validateCTAURL checks a call-to-action URL button: action name
// "cta_url" with parameters display_text (at most 20 characters) and an
// http(s) url.
func validateCTAURL(raw json.RawMessage) *apiError {
	var a namedAction
	if e := decodeStrict(raw, &a, "interactive['action']"); e != nil {
		return e
	}
	if a.Name != "cta_url" {
		return invalidParam("Param interactive['action']['name'] must be 'cta_url'.")
	}
	var p struct {
		DisplayText string `json:"display_text"`
		URL         string `json:"url"`
	}
	if e := decodeStrict(a.Parameters, &p, "interactive['action']['parameters']"); e != nil {
		return e
	}
	if strings.TrimSpace(p.DisplayText) == "" || utf8.RuneCountInString(p.DisplayText) > maxButtonTitle {
		return invalidParam("Param interactive['action']['parameters']['display_text'] is required (at most %d characters).", maxButtonTitle)
	}
	if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalidParam("Param interactive['action']['parameters']['url'] must be an http or https URL.")
	}
	return nil
}

// validateFlow checks a Flow message: action name "flow" with
// flow_message_version "3", a flow_id or flow_name, a flow_cta of at most
// 20 characters, and for flow_action "navigate" (the default) a
// flow_action_payload naming the first screen.
func validateFlow(raw json.RawMessage) *apiError {
	var a namedAction
	if e := decodeStrict(raw, &a, "interactive['action']"); e != nil {
		return e
	}
	if a.Name != "flow" {
		return invalidParam("Param interactive['action']['name'] must be 'flow'.")
	}
	var p struct {
		FlowMessageVersion string          `json:"flow_message_version"`
		FlowToken          string          `json:"flow_token"`
		FlowID             string          `json:"flow_id"`
		FlowName           string          `json:"flow_name"`
		FlowCTA            string          `json:"flow_cta"`
		FlowAction         string          `json:"flow_action"`
		Mode               string          `json:"mode"`
		FlowActionPayload  json.RawMessage `json:"flow_action_payload"`
	}
	const at = "interactive['action']['parameters']"
	if e := decodeStrict(a.Parameters, &p, at); e != nil {
		return e
	}
	switch {
	case p.FlowMessageVersion != "3":
		return invalidParam("Param %s['flow_message_version'] must be '3'.", at)
	case (p.FlowID == "") == (p.FlowName == ""):
		return invalidParam("Param %s needs exactly one of 'flow_id' or 'flow_name'.", at)
	case strings.TrimSpace(p.FlowCTA) == "" || utf8.RuneCountInString(p.FlowCTA) > maxButtonTitle:
		return invalidParam("Param %s['flow_cta'] is required (at most %d characters).", at, maxButtonTitle)
	case p.Mode != "" && p.Mode != "draft" && p.Mode != "published":
		return invalidParam("Param %s['mode'] must be 'draft' or 'published'.", at)
	}
	switch p.FlowAction {
	case "", "navigate":
		var payload struct {
			Screen string          `json:"screen"`
			Data   json.RawMessage `json:"data"`
		}
		if p.FlowActionPayload == nil {
			return invalidParam("Param %s['flow_action_payload'] is required for flow_action 'navigate'.", at)
		}
		if e := decodeStrict(p.FlowActionPayload, &payload, at+"['flow_action_payload']"); e != nil {
			return e
		}
		if payload.Screen == "" {
			return invalidParam("Param %s['flow_action_payload']['screen'] is required.", at)
		}
	case "data_exchange":
		if p.FlowActionPayload != nil {
			return invalidParam("Param %s['flow_action_payload'] is not allowed for flow_action 'data_exchange'.", at)
		}
	default:
		return invalidParam("Param %s['flow_action'] must be 'navigate' or 'data_exchange'.", at)
	}
	return nil
}

func validateHeader(raw json.RawMessage) *apiError {
	var h struct {
		Type     string          `json:"type"`
		Text     string          `json:"text"`
		Image    json.RawMessage `json:"image"`
		Video    json.RawMessage `json:"video"`
		Document json.RawMessage `json:"document"`
	}
	if e := decodeStrict(raw, &h, "interactive['header']"); e != nil {
		return e
	}
	switch h.Type {
	case "text":
		if strings.TrimSpace(h.Text) == "" || utf8.RuneCountInString(h.Text) > 60 {
			return invalidParam("Param interactive['header']['text'] is required (at most 60 characters).")
		}
	case "image", "video", "document":
		media := map[string]json.RawMessage{"image": h.Image, "video": h.Video, "document": h.Document}[h.Type]
		if media == nil {
			return invalidParam("Param interactive['header']['%s'] is required.", h.Type)
		}
		return validateMedia("interactive['header']['"+h.Type+"']", media, false, h.Type == "document")
	default:
		return invalidParam("Param interactive['header']['type'] must be one of text, image, video, document.")
	}
	return nil
}
