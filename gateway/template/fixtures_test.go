package template

import (
	"encoding/json"
	"strings"

	"github.com/wacc/engine/actors"
)

// The test templates, in Meta's format as the listing returns them.
var testTemplates = map[string]string{
	"order_update": `{"name":"order_update","language":"en_US","status":"APPROVED","category":"UTILITY","components":[
		{"type":"HEADER","format":"TEXT","text":"Order {{1}}"},
		{"type":"BODY","text":"Hi {{1}}, your order {{2}} ships {{3}}."},
		{"type":"FOOTER","text":"Thanks"},
		{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop"},{"type":"URL","text":"Track","url":"https://x.example/t/{{1}}"},
			{"type":"PHONE_NUMBER","text":"Call","phone_number":"+15550001111"},{"type":"URL","text":"Help","url":"https://x.example/help"}]}]}`,
	"reversed": `{"name":"reversed","language":"en","status":"APPROVED","components":[{"type":"BODY","text":"{{2}} before {{1}}"}]}`,
	"named_welcome": `{"name":"named_welcome","language":"en","status":"APPROVED","parameter_format":"NAMED","components":[
		{"type":"HEADER","format":"TEXT","text":"Welcome {{first_name}}"},
		{"type":"BODY","text":"Hi {{first_name}}, your code is {{code}}. Bye {{first_name}}."}]}`,
	"media_image": `{"name":"media_image","language":"en","status":"APPROVED","components":[
		{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"Look at this"}]}`,
	"media_document": `{"name":"media_document","language":"en","status":"APPROVED","components":[
		{"type":"HEADER","format":"DOCUMENT"},{"type":"BODY","text":"Your invoice"}]}`,
	"location": `{"name":"location","language":"en","status":"APPROVED","components":[{"type":"HEADER","format":"LOCATION"},{"type":"BODY","text":"Here"}]}`,
	"otp": `{"name":"otp","language":"en","status":"APPROVED","category":"AUTHENTICATION","components":[
		{"type":"BODY","text":"*{{1}}* is your verification code.","add_security_recommendation":true},
		{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE","text":"Copy code"}]}]}`,
	"otp_listed": `{"name":"otp_listed","language":"en","status":"APPROVED","category":"AUTHENTICATION","components":[
		{"type":"BODY","text":"*{{1}}* is your verification code."},
		{"type":"BUTTONS","buttons":[{"type":"URL","text":"Copy code","url":"https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}"}]}]}`,
	"coupon": `{"name":"coupon","language":"en","status":"APPROVED","category":"MARKETING","components":[
		{"type":"HEADER","format":"IMAGE"},
		{"type":"LIMITED_TIME_OFFER","limited_time_offer":{"text":"Expiring offer!","has_expiration":true}},
		{"type":"BODY","text":"Good news, {{1}}! Use code {{2}} for 25% off."},
		{"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":"CARIBE25"},{"type":"URL","text":"Book now!","url":"https://x.example/book?code={{1}}"}]}]}`,
	"offer_open": `{"name":"offer_open","language":"en","status":"APPROVED","components":[
		{"type":"LIMITED_TIME_OFFER","limited_time_offer":{"text":"Now!","has_expiration":false}},{"type":"BODY","text":"Hello"}]}`,
	"carousel": `{"name":"carousel","language":"en","status":"APPROVED","category":"MARKETING","components":[
		{"type":"BODY","text":"Picks for {{1}}"},
		{"type":"CAROUSEL","cards":[
			{"components":[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"Card one {{1}}"},
				{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"More"},{"type":"URL","text":"Buy","url":"https://x.example/p/{{1}}"}]}]},
			{"components":[{"type":"HEADER","format":"VIDEO"},{"type":"BODY","text":"Card two"},
				{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"More"},{"type":"URL","text":"Buy","url":"https://x.example/p/{{1}}"}]}]}]}]}`,
	"plain": `{"name":"plain","language":"en","status":"APPROVED","components":[{"type":"BODY","text":"Hello there"}]}`,
	"flow": `{"name":"flow","language":"en","status":"APPROVED","components":[{"type":"BODY","text":"Sign up"},
		{"type":"BUTTONS","buttons":[{"type":"FLOW","text":"Open","flow_id":"1"},{"type":"SPECIAL_NEW","text":"?"}]}]}`,
}

// testTemplate decodes one of testTemplates as the registry keeps it.
func testTemplate(name string) actors.Template {
	var w struct {
		Name            string                     `json:"name"`
		Language        string                     `json:"language"`
		Status          string                     `json:"status"`
		Category        string                     `json:"category"`
		ParameterFormat string                     `json:"parameter_format"`
		Components      []actors.TemplateComponent `json:"components"`
	}
	if err := json.Unmarshal([]byte(testTemplates[name]), &w); err != nil {
		panic("fixture " + name + ": " + err.Error())
	}
	format := strings.ToUpper(w.ParameterFormat)
	if format == "" {
		format = actors.FormatPositional
	}
	return actors.Template{BusinessAccountID: "102290129340398", ID: "id-" + w.Name, Name: w.Name, Language: w.Language, Status: w.Status,
		Category: w.Category, ParameterFormat: format, Components: w.Components}
}
