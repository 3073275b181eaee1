package cloudapi

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

type interactiveObject struct {
	Type   string          `json:"type"`
	Header json.RawMessage `json:"header"`
	Body   *struct {
		Text string `json:"text"`
	} `json:"body"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Action *struct {
		Button  *string `json:"button"`
		Buttons []struct {
			Type  string `json:"type"`
			Reply *struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"rows"`
		} `json:"sections"`
	} `json:"action"`
}

func validateInteractive(raw json.RawMessage) *apiError {
	var in interactiveObject
	if e := decodeStrict(raw, &in, "interactive"); e != nil {
		return e
	}
	if in.Type != "button" && in.Type != "list" {
		return invalidParam("Param interactive['type'] must be 'button' or 'list', got %q.", clip(in.Type))
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
		if e := validateHeader(in.Header); e != nil {
			return e
		}
	}
	if in.Action == nil {
		return invalidParam("Param interactive['action'] is required.")
	}
	a := in.Action
	if in.Type == "button" {
		if a.Button != nil || len(a.Sections) > 0 {
			return invalidParam("Params interactive['action']['button'] and ['sections'] are only allowed for list messages.")
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
	if len(a.Buttons) > 0 {
		return invalidParam("Param interactive['action']['buttons'] is only allowed for button messages.")
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
