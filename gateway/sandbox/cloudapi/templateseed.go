package cloudapi

import "encoding/json"

// SeedTemplates returns the templates a sandbox starts with when
// Options.Templates is nil: one of each shape the engine must handle, in
// the shapes Meta's template documentation shows.
//
//	name                      language     category        status    parameters
//	hello_world               en_US        UTILITY         APPROVED  none (Meta's sample template)
//	order_update              en_US        UTILITY         APPROVED  body {{1}}
//	welcome                   en_US, en    MARKETING       APPROVED  none
//	reservation_confirmation  en_US        UTILITY         APPROVED  body {{number_of_guests}} {{day}} (named)
//	package_photo             en_US        UTILITY         APPROVED  IMAGE header, body {{1}}
//	track_order               en_US        UTILITY         APPROVED  body {{1}}, URL button suffix {{1}}
//	otp_login                 en_US        AUTHENTICATION  APPROVED  body {{1}}, OTP COPY_CODE button {{1}}
//	plant_carousel            en_US        MARKETING       APPROVED  body {{1}}, 2 cards: IMAGE header, body {{1}}, QUICK_REPLY
//	spring_sale               en_US        MARKETING       PAUSED    body {{1}} (quality RED)
//	old_newsletter            en_US        MARKETING       DISABLED  none
func SeedTemplates() []Template {
	yes := true
	ten := 10
	card := func(example string) TemplateCard {
		return TemplateCard{Components: []TemplateComponent{
			{Type: "HEADER", Format: "IMAGE", Example: raw(`{"header_handle":["https://scontent.whatsapp.net/v/t61.29466-34/plant.jpg"]}`)},
			{Type: "BODY", Text: "{{1}} is back in stock.", Example: raw(`{"body_text":[["` + example + `"]]}`)},
			{Type: "BUTTONS", Buttons: []TemplateButton{{Type: "QUICK_REPLY", Text: "Send more like this"}}},
		}}
	}
	return []Template{
		{ID: "1000000000000001", Name: "hello_world", Language: "en_US", Status: TemplateApproved, Category: CategoryUtility,
			ParameterFormat: FormatPositional, QualityScore: QualityGreen, Components: []TemplateComponent{
				{Type: "HEADER", Format: "TEXT", Text: "Hello World"},
				{Type: "BODY", Text: "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us."},
				{Type: "FOOTER", Text: "WhatsApp Business Platform sample message"},
			}},
		{ID: "1000000000000002", Name: "order_update", Language: "en_US", Status: TemplateApproved, Category: CategoryUtility,
			ParameterFormat: FormatPositional, QualityScore: QualityGreen, Components: []TemplateComponent{
				{Type: "BODY", Text: "Your order {{1}} has been updated. Reply to this message if you have any questions.",
					Example: raw(`{"body_text":[["42"]]}`)},
			}},
		{ID: "1000000000000003", Name: "welcome", Language: "en_US", Status: TemplateApproved, Category: CategoryMarketing,
			ParameterFormat: FormatPositional, QualityScore: QualityGreen, Components: []TemplateComponent{
				{Type: "BODY", Text: "Hi! Thanks for choosing us. Reply to this message and one of our team will help you."},
			}},
		{ID: "1000000000000004", Name: "welcome", Language: "en", Status: TemplateApproved, Category: CategoryMarketing,
			ParameterFormat: FormatPositional, QualityScore: QualityGreen, Components: []TemplateComponent{
				{Type: "BODY", Text: "Hi! Thanks for choosing us. Reply to this message and one of our team will help you."},
			}},
		{ID: "1000000000000005", Name: "reservation_confirmation", Language: "en_US", Status: TemplateApproved, Category: CategoryUtility,
			ParameterFormat: FormatNamed, QualityScore: QualityGreen, Components: []TemplateComponent{
				{Type: "BODY", Text: "*You're all set!*\n\nYour reservation for {{number_of_guests}} on {{day}} is confirmed. See you then!",
					Example: raw(`{"body_text_named_params":[{"param_name":"number_of_guests","example":"4"},{"param_name":"day","example":"Saturday"}]}`)},
			}},
		{ID: "1000000000000006", Name: "package_photo", Language: "en_US", Status: TemplateApproved, Category: CategoryUtility,
			ParameterFormat: FormatPositional, QualityScore: QualityGreen, Components: []TemplateComponent{
				{Type: "HEADER", Format: "IMAGE", Example: raw(`{"header_handle":["https://scontent.whatsapp.net/v/t61.29466-34/package.jpg"]}`)},
				{Type: "BODY", Text: "Here is a photo of your package {{1}} at the door.", Example: raw(`{"body_text":[["#1042"]]}`)},
			}},
		{ID: "1000000000000007", Name: "track_order", Language: "en_US", Status: TemplateApproved, Category: CategoryUtility,
			ParameterFormat: FormatPositional, QualityScore: QualityGreen, Components: []TemplateComponent{
				{Type: "BODY", Text: "Your order {{1}} is on its way.", Example: raw(`{"body_text":[["#1042"]]}`)},
				{Type: "BUTTONS", Buttons: []TemplateButton{{Type: "URL", Text: "Track it", URL: "https://example.com/track/{{1}}",
					Example: raw(`["https://example.com/track/ABC123"]`)}}},
			}},
		{ID: "1000000000000008", Name: "otp_login", Language: "en_US", Status: TemplateApproved, Category: CategoryAuthentication,
			ParameterFormat: FormatPositional, QualityScore: QualityGreen, Components: []TemplateComponent{
				{Type: "BODY", Text: "*{{1}}* is your verification code. For your security, do not share this code.",
					AddSecurityRecommendation: &yes, Example: raw(`{"body_text":[["123456"]]}`)},
				{Type: "FOOTER", Text: "This code expires in 10 minutes.", CodeExpirationMinutes: &ten},
				{Type: "BUTTONS", Buttons: []TemplateButton{{Type: "OTP", OTPType: "COPY_CODE", Text: "Copy code"}}},
			}},
		{ID: "1000000000000009", Name: "plant_carousel", Language: "en_US", Status: TemplateApproved, Category: CategoryMarketing,
			ParameterFormat: FormatPositional, QualityScore: QualityGreen, Components: []TemplateComponent{
				{Type: "BODY", Text: "{{1}}, our rare plants are back. Pick your favourite!", Example: raw(`{"body_text":[["Pablo"]]}`)},
				{Type: "CAROUSEL", Cards: []TemplateCard{card("Monstera"), card("Calathea")}},
			}},
		{ID: "1000000000000010", Name: "spring_sale", Language: "en_US", Status: TemplatePaused, Category: CategoryMarketing,
			ParameterFormat: FormatPositional, QualityScore: QualityRed, Components: []TemplateComponent{
				{Type: "BODY", Text: "Our spring sale starts now: {{1}} off everything!", Example: raw(`{"body_text":[["20%"]]}`)},
			}},
		{ID: "1000000000000011", Name: "old_newsletter", Language: "en_US", Status: TemplateDisabled, Category: CategoryMarketing,
			ParameterFormat: FormatPositional, QualityScore: QualityRed, Components: []TemplateComponent{
				{Type: "BODY", Text: "Here is this month's newsletter."},
			}},
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }
