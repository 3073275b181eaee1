package template

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// want is one expected problem: its field and code.
type want struct{ field, code string }

const (
	orderOK  = `{"type":"header","parameters":[{"type":"text","text":"#42"}]},{"type":"body","parameters":[{"type":"text","text":"Asha"},{"type":"text","text":"#42"},{"type":"date_time","date_time":{"fallback_value":"tomorrow"}}]},{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"abc"}]}`
	cardsOK  = `{"type":"body","parameters":[{"type":"text","text":"Asha"}]},{"type":"carousel","cards":[` + card0OK + `,` + card1OK + `]}`
	card0OK  = `{"card_index":0,"components":[{"type":"header","parameters":[{"type":"image","image":{"id":"1"}}]},{"type":"body","parameters":[{"type":"text","text":"x"}]},{"type":"button","sub_type":"url","index":1,"parameters":[{"type":"text","text":"p1"}]}]}`
	card1OK  = `{"card_index":1,"components":[{"type":"header","parameters":[{"type":"video","video":{"link":"https://x.example/v.mp4"}}]},{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"p2"}]}]}`
	couponOK = `{"type":"header","parameters":[{"type":"image","image":{"link":"https://x.example/i.png"}}]},{"type":"limited_time_offer","parameters":[{"type":"limited_time_offer","limited_time_offer":{"expiration_time_ms":1698346142000}}]},{"type":"body","parameters":[{"type":"text","text":"Pablo"},{"type":"text","text":"CARIBE25"}]},{"type":"button","sub_type":"copy_code","index":0,"parameters":[{"type":"coupon_code","coupon_code":"CARIBE25"}]},{"type":"button","sub_type":"url","index":1,"parameters":[{"type":"text","text":"n3mtql"}]}`
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		template string
		// components is the request's template.components array, without
		// its brackets ("" for none).
		components string
		// want lists the problems in order; nil means the send fits.
		want []want
	}{
		// Bodies, positional.
		{name: "no variables, no components", template: "plain"},
		{name: "no variables, an empty body component", template: "plain", components: `{"type":"body","parameters":[]}`},
		{name: "no variables but parameters", template: "plain", components: `{"type":"body","parameters":[{"type":"text","text":"x"}]}`,
			want: []want{{"template.components[0].parameters", CodeParameterCount}}},
		{name: "everything right", template: "order_update", components: orderOK},
		{name: "body missing", template: "order_update", components: `{"type":"header","parameters":[{"type":"text","text":"#42"}]},{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"abc"}]}`,
			want: []want{{"template.components[body]", CodeRequired}}},
		{name: "too few body parameters", template: "order_update", components: strings.Replace(orderOK, `{"type":"text","text":"Asha"},`, ``, 1),
			want: []want{{"template.components[1].parameters", CodeParameterCount}}},
		{name: "too many body parameters", template: "order_update", components: strings.Replace(orderOK, `{"type":"text","text":"Asha"},`, `{"type":"text","text":"Asha"},{"type":"text","text":"extra"},`, 1),
			want: []want{{"template.components[1].parameters", CodeParameterCount}}},
		{name: "a body parameter of a type bodies do not take", template: "order_update", components: strings.Replace(orderOK, `{"type":"text","text":"Asha"}`, `{"type":"image","image":{"id":"1"}}`, 1),
			want: []want{{"template.components[1].parameters[0].type", CodeParameterType}}},
		{name: "a named parameter in a positional template", template: "order_update", components: strings.Replace(orderOK, `{"type":"text","text":"Asha"}`, `{"type":"text","parameter_name":"name","text":"Asha"}`, 1),
			want: []want{{"template.components[1].parameters[0].parameter_name", CodePositionalOnly}}},
		{name: "text with a new line", template: "order_update", components: strings.Replace(orderOK, `"text":"Asha"`, `"text":"As\nha"`, 1),
			want: []want{{"template.components[1].parameters[0]", CodeCharacters}}},
		{name: "text with five spaces", template: "order_update", components: strings.Replace(orderOK, `"text":"Asha"`, `"text":"A     sha"`, 1),
			want: []want{{"template.components[1].parameters[0]", CodeCharacters}}},
		{name: "empty text", template: "order_update", components: strings.Replace(orderOK, `"text":"Asha"`, `"text":" "`, 1),
			want: []want{{"template.components[1].parameters[0]", CodeRequired}}},
		{name: "text missing", template: "order_update", components: strings.Replace(orderOK, `{"type":"text","text":"Asha"}`, `{"type":"text"}`, 1),
			want: []want{{"template.components[1].parameters[0].text", CodeRequired}}},
		{name: "a currency without amount", template: "order_update", components: strings.Replace(orderOK, `{"type":"text","text":"Asha"}`, `{"type":"currency","currency":{"fallback_value":"$1","code":"USD"}}`, 1),
			want: []want{{"template.components[1].parameters[0].currency", CodeRequired}}},
		{name: "a currency", template: "order_update", components: strings.Replace(orderOK, `{"type":"text","text":"Asha"}`, `{"type":"currency","currency":{"fallback_value":"$1","code":"USD","amount_1000":1000}}`, 1)},
		{name: "body over 1024 characters once filled", template: "order_update", components: strings.Replace(orderOK, `"text":"Asha"`, `"text":"`+strings.Repeat("a", 1020)+`"`, 1),
			want: []want{{"template.components[1]", CodeTooLong}}},
		{name: "positional variables are filled in numeric order", template: "reversed", components: `{"type":"body","parameters":[{"type":"text","text":"one"},{"type":"text","text":"two"}]}`},

		// Headers.
		{name: "header text missing", template: "order_update", components: strings.Replace(orderOK, `{"type":"header","parameters":[{"type":"text","text":"#42"}]},`, ``, 1),
			want: []want{{"template.components[header]", CodeRequired}}},
		{name: "header text too long once filled", template: "order_update", components: strings.Replace(orderOK, `"text":"#42"}]}`, `"text":"`+strings.Repeat("x", 60)+`"}]}`, 1),
			want: []want{{"template.components[0]", CodeTooLong}}},
		{name: "media header given", template: "media_image", components: `{"type":"header","parameters":[{"type":"image","image":{"id":"4490709327384033"}}]}`},
		{name: "media header missing", template: "media_image", want: []want{{"template.components[header]", CodeRequired}}},
		{name: "header of another media kind", template: "media_image", components: `{"type":"header","parameters":[{"type":"video","video":{"id":"1"}}]}`,
			want: []want{{"template.components[0].parameters[0].type", CodeMediaKind}}},
		{name: "header media with both id and link", template: "media_document", components: `{"type":"header","parameters":[{"type":"document","document":{"id":"1","link":"https://x.example/a.pdf"}}]}`,
			want: []want{{"template.components[0].parameters[0].document", CodeRequired}}},
		{name: "header media over http", template: "media_document", components: `{"type":"header","parameters":[{"type":"document","document":{"link":"http://x.example/a.pdf"}}]}`,
			want: []want{{"template.components[0].parameters[0].document.link", CodeInvalid}}},
		{name: "header media as two parameters", template: "media_image", components: `{"type":"header","parameters":[{"type":"image","image":{"id":"1"}},{"type":"image","image":{"id":"2"}}]}`,
			want: []want{{"template.components[0].parameters", CodeParameterCount}}},
		{name: "location header", template: "location", components: `{"type":"header","parameters":[{"type":"location","location":{"latitude":37.48,"longitude":-122.14,"name":"HQ"}}]}`},
		{name: "location header off the globe", template: "location", components: `{"type":"header","parameters":[{"type":"location","location":{"latitude":137.48,"longitude":-122.14}}]}`,
			want: []want{{"template.components[0].parameters[0].location", CodeInvalid}}},
		{name: "a header the template does not have", template: "plain", components: `{"type":"header","parameters":[{"type":"text","text":"x"}]}`,
			want: []want{{"template.components[0]", CodeNotExpected}}},

		// Named parameters.
		{name: "named, in any order", template: "named_welcome", components: `{"type":"header","parameters":[{"type":"text","parameter_name":"first_name","text":"Asha"}]},{"type":"body","parameters":[{"type":"text","parameter_name":"code","text":"123"},{"type":"text","parameter_name":"first_name","text":"Asha"}]}`},
		{name: "named template given positional parameters", template: "named_welcome", components: `{"type":"header","parameters":[{"type":"text","parameter_name":"first_name","text":"Asha"}]},{"type":"body","parameters":[{"type":"text","text":"Asha"},{"type":"text","text":"123"}]}`,
			want: []want{{"template.components[1].parameters[0].parameter_name", CodeNamedExpected}, {"template.components[1].parameters[1].parameter_name", CodeNamedExpected}}},
		{name: "an unknown name", template: "named_welcome", components: `{"type":"header","parameters":[{"type":"text","parameter_name":"first_name","text":"Asha"}]},{"type":"body","parameters":[{"type":"text","parameter_name":"coupon","text":"123"},{"type":"text","parameter_name":"first_name","text":"Asha"}]}`,
			want: []want{{"template.components[1].parameters[0].parameter_name", CodeParameterName}}},
		{name: "a name twice", template: "named_welcome", components: `{"type":"header","parameters":[{"type":"text","parameter_name":"first_name","text":"Asha"}]},{"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"A"},{"type":"text","parameter_name":"first_name","text":"B"}]}`,
			want: []want{{"template.components[1].parameters[1].parameter_name", CodeDuplicate}}},
		{name: "a named variable left out", template: "named_welcome", components: `{"type":"header","parameters":[{"type":"text","parameter_name":"first_name","text":"Asha"}]},{"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"A"}]}`,
			want: []want{{"template.components[1].parameters", CodeParameterCount}}},

		// Buttons.
		{name: "dynamic URL suffix missing", template: "order_update", components: strings.Replace(orderOK, `,{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"abc"}]}`, ``, 1),
			want: []want{{"template.components[button 1]", CodeRequired}}},
		{name: "URL suffix as a payload", template: "order_update", components: strings.Replace(orderOK, `"parameters":[{"type":"text","text":"abc"}]`, `"parameters":[{"type":"payload","payload":"abc"}]`, 1),
			want: []want{{"template.components[2].parameters[0].type", CodeParameterType}}},
		{name: "URL suffix with two parameters", template: "order_update", components: strings.Replace(orderOK, `"parameters":[{"type":"text","text":"abc"}]`, `"parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"}]`, 1),
			want: []want{{"template.components[2].parameters", CodeParameterCount}}},
		{name: "a button's sub_type is not its type", template: "order_update", components: strings.Replace(orderOK, `"sub_type":"url","index":"1"`, `"sub_type":"quick_reply","index":"1"`, 1),
			want: []want{{"template.components[2].sub_type", CodeSubType}}},
		{name: "a quick reply payload", template: "order_update", components: orderOK + `,{"type":"button","sub_type":"quick_reply","index":0,"parameters":[{"type":"payload","payload":"STOP"}]}`},
		{name: "a quick reply without its payload", template: "order_update", components: orderOK + `,{"type":"button","sub_type":"quick_reply","index":0,"parameters":[{"type":"payload"}]}`,
			want: []want{{"template.components[3].parameters[0].payload", CodeRequired}}},
		{name: "a phone-number button takes no component", template: "order_update", components: orderOK + `,{"type":"button","sub_type":"url","index":2,"parameters":[{"type":"text","text":"x"}]}`,
			want: []want{{"template.components[3]", CodeNotExpected}}},
		{name: "a static URL takes no suffix", template: "order_update", components: orderOK + `,{"type":"button","sub_type":"url","index":3,"parameters":[{"type":"text","text":"x"}]}`,
			want: []want{{"template.components[3]", CodeNotExpected}}},
		{name: "no such button", template: "order_update", components: orderOK + `,{"type":"button","sub_type":"url","index":"7","parameters":[{"type":"text","text":"x"}]}`,
			want: []want{{"template.components[3].index", CodeNoSuchButton}}},
		{name: "a button without index", template: "order_update", components: orderOK + `,{"type":"button","sub_type":"url","parameters":[{"type":"text","text":"x"}]}`,
			want: []want{{"template.components[3].index", CodeInvalid}}},
		{name: "a button twice", template: "order_update", components: orderOK + `,{"type":"button","sub_type":"url","index":1,"parameters":[{"type":"text","text":"x"}]}`,
			want: []want{{"template.components[3]", CodeDuplicate}}},
		{name: "OTP code as a url button", template: "otp", components: `{"type":"body","parameters":[{"type":"text","text":"J$FpnYnP"}]},{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"J$FpnYnP"}]}`},
		{name: "OTP button missing", template: "otp", components: `{"type":"body","parameters":[{"type":"text","text":"J$FpnYnP"}]}`,
			want: []want{{"template.components[button 0]", CodeRequired}}},
		{name: "OTP code too long", template: "otp", components: `{"type":"body","parameters":[{"type":"text","text":"123"}]},{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"1234567890123456"}]}`,
			want: []want{{"template.components[1].parameters[0].text", CodeTooLong}}},
		{name: "OTP as the listing shows it", template: "otp_listed", components: `{"type":"body","parameters":[{"type":"text","text":"123456"}]},{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"123456"}]}`},
		{name: "copy code and offer", template: "coupon", components: couponOK},
		{name: "copy code missing its code", template: "coupon", components: strings.Replace(couponOK, `{"type":"coupon_code","coupon_code":"CARIBE25"}`, `{"type":"coupon_code","coupon_code":""}`, 1),
			want: []want{{"template.components[3].parameters[0].coupon_code", CodeRequired}}},
		{name: "copy code too long", template: "coupon", components: strings.Replace(couponOK, `"coupon_code":"CARIBE25"`, `"coupon_code":"CARIBE25CARIBE25"`, 1),
			want: []want{{"template.components[3].parameters[0].coupon_code", CodeTooLong}}},
		{name: "copy code as text", template: "coupon", components: strings.Replace(couponOK, `{"type":"coupon_code","coupon_code":"CARIBE25"}`, `{"type":"text","text":"CARIBE25"}`, 1),
			want: []want{{"template.components[3].parameters[0].type", CodeParameterType}}},
		{name: "flow and newer buttons are left to Meta", template: "flow", components: `{"type":"button","sub_type":"flow","index":"0","parameters":[{"type":"action","action":{"flow_token":"t"}}]},{"type":"button","sub_type":"whatever","index":"1","parameters":[]}`},

		// Limited-time offers.
		{name: "offer expiration missing", template: "coupon", components: strings.Replace(couponOK, `{"type":"limited_time_offer","parameters":[{"type":"limited_time_offer","limited_time_offer":{"expiration_time_ms":1698346142000}}]},`, ``, 1),
			want: []want{{"template.components[limited_time_offer]", CodeRequired}}},
		{name: "offer expiration zero", template: "coupon", components: strings.Replace(couponOK, `1698346142000`, `0`, 1),
			want: []want{{"template.components[1].parameters[0].limited_time_offer.expiration_time_ms", CodeRequired}}},
		{name: "an expiration for an offer that has none", template: "offer_open", components: `{"type":"limited_time_offer","parameters":[{"type":"limited_time_offer","limited_time_offer":{"expiration_time_ms":1}}]}`,
			want: []want{{"template.components[0]", CodeNotExpected}}},
		{name: "an offer the template is not", template: "plain", components: `{"type":"limited_time_offer","parameters":[]}`,
			want: []want{{"template.components[0]", CodeNotExpected}}},

		// Carousels.
		{name: "carousel right", template: "carousel", components: cardsOK},
		{name: "carousel cards in any order", template: "carousel", components: `{"type":"body","parameters":[{"type":"text","text":"Asha"}]},{"type":"carousel","cards":[` + card1OK + `,` + card0OK + `]}`},
		{name: "carousel missing", template: "carousel", components: `{"type":"body","parameters":[{"type":"text","text":"Asha"}]}`,
			want: []want{{"template.components[carousel]", CodeRequired}}},
		{name: "one card short", template: "carousel", components: `{"type":"body","parameters":[{"type":"text","text":"Asha"}]},{"type":"carousel","cards":[` + card0OK + `]}`,
			want: []want{{"template.components[1].cards", CodeCardCount}}},
		{name: "a card twice", template: "carousel", components: `{"type":"body","parameters":[{"type":"text","text":"Asha"}]},{"type":"carousel","cards":[` + card0OK + `,` + card0OK + `]}`,
			want: []want{{"template.components[1].cards[1].card_index", CodeDuplicate}}},
		{name: "a card out of range", template: "carousel", components: `{"type":"body","parameters":[{"type":"text","text":"Asha"}]},{"type":"carousel","cards":[` + card0OK + `,` + strings.Replace(card1OK, `"card_index":1`, `"card_index":2`, 1) + `]}`,
			want: []want{{"template.components[1].cards[1].card_index", CodeCardIndex}}},
		{name: "a card's header of the wrong media", template: "carousel", components: `{"type":"body","parameters":[{"type":"text","text":"Asha"}]},{"type":"carousel","cards":[` + card0OK + `,` + strings.Replace(card1OK, `{"type":"video","video":{"link":"https://x.example/v.mp4"}}`, `{"type":"image","image":{"id":"2"}}`, 1) + `]}`,
			want: []want{{"template.components[1].cards[1].components[0].parameters[0].type", CodeMediaKind}}},
		{name: "a card's body parameters missing", template: "carousel", components: `{"type":"body","parameters":[{"type":"text","text":"Asha"}]},{"type":"carousel","cards":[` + strings.Replace(card0OK, `{"type":"body","parameters":[{"type":"text","text":"x"}]},`, ``, 1) + `,` + card1OK + `]}`,
			want: []want{{"template.components[1].cards[0].components[body]", CodeRequired}}},
		{name: "a card's URL suffix missing", template: "carousel", components: `{"type":"body","parameters":[{"type":"text","text":"Asha"}]},{"type":"carousel","cards":[` + card0OK + `,` + strings.Replace(card1OK, `,{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"p2"}]}`, ``, 1) + `]}`,
			want: []want{{"template.components[1].cards[1].components[button 1]", CodeRequired}}},
		{name: "a carousel inside a card", template: "carousel", components: `{"type":"body","parameters":[{"type":"text","text":"Asha"}]},{"type":"carousel","cards":[` + card0OK + `,` + strings.Replace(card1OK, `"components":[`, `"components":[{"type":"carousel","cards":[]},`, 1) + `]}`,
			want: []want{{"template.components[1].cards[1].components[0].type", CodeUnknownComponent}}},

		// Shapes.
		{name: "a footer component", template: "order_update", components: orderOK + `,{"type":"footer","parameters":[]}`,
			want: []want{{"template.components[3]", CodeNotExpected}}},
		{name: "an unknown component", template: "plain", components: `{"type":"sidebar","parameters":[]}`,
			want: []want{{"template.components[0].type", CodeUnknownComponent}}},
		{name: "a component without type", template: "plain", components: `{"parameters":[]}`,
			want: []want{{"template.components[0].type", CodeRequired}}},
		{name: "two bodies", template: "plain", components: `{"type":"body","parameters":[]},{"type":"BODY","parameters":[]}`,
			want: []want{{"template.components[1]", CodeDuplicate}}},
		{name: "a component that is not an object", template: "plain", components: `"body"`,
			want: []want{{"template.components[0]", CodeInvalid}}},
		{name: "a parameter that is not an object", template: "order_update", components: strings.Replace(orderOK, `{"type":"text","text":"Asha"}`, `"Asha"`, 1),
			want: []want{{"template.components[1].parameters[0]", CodeInvalid}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl := testTemplate(tt.template)
			require.NotEmpty(t, tpl.Components, "fixture %s", tt.template)
			var comps json.RawMessage
			if tt.components != "" {
				comps = json.RawMessage("[" + tt.components + "]")
				require.True(t, json.Valid(comps), "test components are JSON")
			}
			got := Check(tpl, comps)
			var gotWant []want
			for _, p := range got {
				gotWant = append(gotWant, want{p.Field, p.Code})
				assert.NotEmpty(t, p.Message, "every problem says what is wrong")
			}
			assert.Equal(t, tt.want, gotWant, "problems: %+v", got)
		})
	}
}

func TestCheckRefusesComponentsThatAreNotAnArray(t *testing.T) {
	got := Check(testTemplate("plain"), json.RawMessage(`{"type":"body"}`))
	require.Len(t, got, 1)
	assert.Equal(t, "template.components", got[0].Field)
	assert.Empty(t, Check(testTemplate("plain"), json.RawMessage(`null`)))
}

func FuzzCheck(f *testing.F) {
	f.Add("order_update", "["+orderOK+"]")
	f.Add("carousel", "["+cardsOK+"]")
	f.Add("coupon", "["+couponOK+"]")
	f.Add("named_welcome", `[{"type":"body","parameters":[{"type":"text","parameter_name":"x","text":"y"}]}]`)
	names := make([]string, 0, len(testTemplates))
	for n := range testTemplates {
		names = append(names, n)
	}
	f.Fuzz(func(t *testing.T, name, components string) {
		if testTemplates[name] == "" {
			name = names[len(name)%len(names)]
		}
		// Never panics, whatever the request.
		for _, p := range Check(testTemplate(name), json.RawMessage(components)) {
			if p.Field == "" || p.Code == "" || p.Message == "" {
				t.Fatalf("incomplete problem %+v", p)
			}
		}
	})
}
