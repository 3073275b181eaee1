package cloudapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const templatesPath = "/v21.0/" + DefaultBusinessAccountID + "/message_templates"

// listTemplates GETs a page of templates (query without "?").
func (h *harness) listTemplates(t *testing.T, query string) (templatePageJSON, apiResult) {
	t.Helper()
	res := h.do(t, http.MethodGet, templatesPath+"?"+query, testToken, nil, "")
	var page templatePageJSON
	if res.status == http.StatusOK {
		require.NoError(t, json.Unmarshal(res.raw, &page), "page: %s", res.raw)
	}
	return page, res
}

type templatePageJSON struct {
	Data   []map[string]any `json:"data"`
	Paging *struct {
		Cursors struct {
			Before string `json:"before"`
			After  string `json:"after"`
		} `json:"cursors"`
		Next     string `json:"next"`
		Previous string `json:"previous"`
	} `json:"paging"`
}

func names(page templatePageJSON) []string {
	var out []string
	for _, t := range page.Data {
		out = append(out, t["name"].(string)+"/"+t["language"].(string))
	}
	return out
}

// templateEvents returns the template webhooks' changes (field and value)
// received so far.
func (h *harness) templateEvents(t *testing.T) []templateChange {
	t.Helper()
	var out []templateChange
	for _, raw := range h.rcv.others() {
		var c templateChange
		require.NoError(t, json.Unmarshal(raw, &c))
		out = append(out, c)
	}
	return out
}

type templateChange struct {
	Field string         `json:"field"`
	Value map[string]any `json:"value"`
}

func testTemplateList(t *testing.T) {
	h := newHarness(t, Options{}, true)
	seeds := SeedTemplates()

	t.Run("default fields, oldest first, one page", func(t *testing.T) {
		page, res := h.listTemplates(t, "")
		require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
		require.Len(t, page.Data, len(seeds))
		first := page.Data[0]
		assert.Equal(t, map[string]any{"name": "hello_world", "parameter_format": "POSITIONAL", "language": "en_US", "status": "APPROVED",
			"category": "UTILITY", "id": "1000000000000001", "components": first["components"]}, first)
		comps := first["components"].([]any)
		require.Len(t, comps, 3)
		assert.Equal(t, map[string]any{"type": "HEADER", "format": "TEXT", "text": "Hello World"}, comps[0])
		require.NotNil(t, page.Paging)
		assert.Empty(t, page.Paging.Next, "no next page")
		assert.Empty(t, page.Paging.Previous)
	})

	t.Run("cursor paging walks every template once", func(t *testing.T) {
		var seen []string
		page, res := h.listTemplates(t, "limit=4&fields=name,language")
		require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
		for pages := 1; ; pages++ {
			require.LessOrEqual(t, len(page.Data), 4)
			for _, tpl := range page.Data {
				assert.Len(t, tpl, 2, "only the fields asked for: %v", tpl)
			}
			seen = append(seen, names(page)...)
			if page.Paging.Next == "" {
				assert.Equal(t, 3, pages)
				break
			}
			next, err := url.Parse(page.Paging.Next)
			require.NoError(t, err)
			assert.Equal(t, "4", next.Query().Get("limit"), "next keeps the query")
			assert.Equal(t, page.Paging.Cursors.After, next.Query().Get("after"))
			page, res = h.listTemplates(t, next.RawQuery)
			require.Equal(t, http.StatusOK, res.status)
			require.NotEmpty(t, page.Paging.Previous)
		}
		require.Len(t, seen, len(seeds))
		for i, s := range seeds {
			assert.Equal(t, s.Name+"/"+s.Language, seen[i])
		}

		prev, err := url.Parse(page.Paging.Previous)
		require.NoError(t, err)
		back, res := h.listTemplates(t, prev.RawQuery)
		require.Equal(t, http.StatusOK, res.status)
		assert.Equal(t, seen[4:8], names(back), "previous goes back one page")
	})

	t.Run("filters", func(t *testing.T) {
		cases := []struct {
			query string
			want  []string
		}{
			{query: "name=welcome&fields=name,language", want: []string{"welcome/en_US", "welcome/en"}},
			{query: "status=PAUSED&fields=name,language", want: []string{"spring_sale/en_US"}},
			{query: "category=AUTHENTICATION&fields=name,language", want: []string{"otp_login/en_US"}},
			{query: "language=en&fields=name,language", want: []string{"welcome/en"}},
			{query: "name=nothing_like_this&fields=name,language"},
		}
		for _, tc := range cases {
			page, res := h.listTemplates(t, tc.query)
			require.Equal(t, http.StatusOK, res.status, tc.query)
			assert.Equal(t, tc.want, names(page), tc.query)
			if tc.want == nil {
				assert.Nil(t, page.Paging, "an empty page has no paging")
				assert.JSONEq(t, `{"data":[]}`, string(res.raw))
			}
		}
	})

	t.Run("fields Meta has but the sandbox never sets are left out", func(t *testing.T) {
		page, res := h.listTemplates(t, "name=spring_sale&fields=name,sub_category,message_send_ttl_seconds")
		require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
		assert.Equal(t, []map[string]any{{"name": "spring_sale"}}, page.Data)
	})

	t.Run("quality score and rejected reason on request", func(t *testing.T) {
		page, _ := h.listTemplates(t, "name=spring_sale&fields=name,status,quality_score,rejected_reason")
		require.Len(t, page.Data, 1)
		assert.Equal(t, map[string]any{"name": "spring_sale", "status": "PAUSED", "quality_score": map[string]any{"score": "RED"},
			"rejected_reason": "NONE"}, page.Data[0])
	})

	t.Run("Graph's errors", func(t *testing.T) {
		cases := []struct {
			name, path, token string
			wantStatus        int
			wantCode          float64
			wantDetails       string
		}{
			{name: "unknown field", path: templatesPath + "?fields=name,likes", token: testToken, wantStatus: 400, wantCode: 100, wantDetails: "(likes)"},
			{name: "bad limit", path: templatesPath + "?limit=-1", token: testToken, wantStatus: 400, wantCode: 100, wantDetails: "limit"},
			{name: "bad cursor", path: templatesPath + "?after=%25%25", token: testToken, wantStatus: 400, wantCode: 100, wantDetails: "after"},
			{name: "another WABA", path: "/v21.0/999999999/message_templates", token: testToken, wantStatus: 400, wantCode: 100, wantDetails: "'999999999' does not exist"},
			{name: "no token", path: templatesPath, wantStatus: 401, wantCode: 190},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := h.do(t, http.MethodGet, tc.path, tc.token, nil, "")
				require.Equal(t, tc.wantStatus, res.status, "answer: %s", res.raw)
				e := res.errorObject(t)
				assert.Equal(t, tc.wantCode, e["code"])
				assert.Contains(t, e["error_data"].(map[string]any)["details"], tc.wantDetails)
			})
		}
	})
}

func testTemplateCreateReviewAndDelete(t *testing.T) {
	const delay = 50 * time.Millisecond
	h := newHarness(t, Options{TemplateReviewDelay: delay, AssumeWindowOpen: true}, false)
	create := func(t *testing.T, body string) apiResult {
		t.Helper()
		return h.do(t, http.MethodPost, templatesPath, testToken, []byte(body), "application/json")
	}
	const shipped = `{"name":"order_shipped","language":"en_US","category":"UTILITY","allow_category_change":true,"components":[` +
		`{"type":"BODY","text":"Hi {{1}}, order {{2}} has shipped.","example":{"body_text":[["Asha","#1042"]]}},` +
		`{"type":"BUTTONS","buttons":[{"type":"URL","text":"Track","url":"https://example.com/t/{{1}}","example":["https://example.com/t/x"]}]}]}`

	var id string
	t.Run("created PENDING, then approved by webhook", func(t *testing.T) {
		start := time.Now()
		res := create(t, shipped)
		require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
		id, _ = res.json["id"].(string)
		require.Regexp(t, `^[0-9]{16}$`, id)
		assert.Equal(t, map[string]any{"id": id, "status": "PENDING", "category": "UTILITY"}, res.json)

		page, _ := h.listTemplates(t, "name=order_shipped&fields=name,status,quality_score")
		if time.Since(start) < delay {
			assert.Equal(t, "PENDING", page.Data[0]["status"])
		}
		send := `{"messaging_product":"whatsapp","to":"919876500301","type":"template","template":{"name":"order_shipped","language":{"code":"en_US"},` +
			`"components":[{"type":"body","parameters":[{"type":"text","text":"Asha"},{"type":"text","text":"#1042"}]},{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"x"}]}]}}`
		if time.Since(start) < delay {
			assert.Equal(t, http.StatusNotFound, h.send(t, send).status, "a PENDING template cannot be sent")
		}

		require.Eventually(t, func() bool { return len(h.templateEvents(t)) == 1 }, waitFor, tick)
		ev := h.templateEvents(t)[0]
		assert.Equal(t, "message_template_status_update", ev.Field)
		assert.Equal(t, map[string]any{"event": "APPROVED", "message_template_id": mustFloat(t, id), "message_template_name": "order_shipped",
			"message_template_language": "en_US", "reason": "NONE", "message_template_category": "UTILITY"}, ev.Value)
		assert.GreaterOrEqual(t, time.Since(start), delay)

		page, _ = h.listTemplates(t, "name=order_shipped&fields=name,status,quality_score")
		assert.Equal(t, "APPROVED", page.Data[0]["status"])
		assert.Equal(t, map[string]any{"score": "UNKNOWN"}, page.Data[0]["quality_score"], "a new template's quality is unknown")
		wamidOf(t, h.send(t, send))
	})

	t.Run("a name starting with reject_ is rejected", func(t *testing.T) {
		before := len(h.templateEvents(t))
		res := create(t, `{"name":"reject_me","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"Buy now!"}]}`)
		require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
		require.Eventually(t, func() bool { return len(h.templateEvents(t)) == before+1 }, waitFor, tick)
		ev := h.templateEvents(t)[before]
		assert.Equal(t, "REJECTED", ev.Value["event"])
		assert.Equal(t, "INVALID_FORMAT", ev.Value["reason"])
		res = h.send(t, `{"messaging_product":"whatsapp","to":"919876500302","type":"template","template":{"name":"reject_me","language":{"code":"en_US"}}}`)
		assert.Equal(t, http.StatusNotFound, res.status)
		assert.Equal(t, float64(CodeTemplateNotFound), res.errorObject(t)["code"])
	})

	t.Run("refused as Meta refuses", func(t *testing.T) {
		cases := []struct {
			name, body, wantDetails string
			wantSubcode             float64
		}{
			{name: "duplicate name and language", body: shipped, wantDetails: "already exists", wantSubcode: 2388024},
			{name: "upper-case name", body: `{"name":"Order","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"x"}]}`, wantDetails: "name"},
			{name: "unknown category", body: `{"name":"a","language":"en_US","category":"PROMO","components":[{"type":"BODY","text":"x"}]}`, wantDetails: "category"},
			{name: "no body", body: `{"name":"a","language":"en_US","category":"UTILITY","components":[{"type":"FOOTER","text":"x"}]}`, wantDetails: "BODY"},
			{name: "variables out of order", body: `{"name":"a","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"{{2}}","example":{"body_text":[["x"]]}}]}`, wantDetails: "{{2}}"},
			{name: "no example for a variable", body: `{"name":"a","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"Hi {{1}}"}]}`, wantDetails: "example"},
			{name: "named variable without example", body: `{"name":"a","language":"en_US","category":"UTILITY","parameter_format":"NAMED","components":[{"type":"BODY","text":"Hi {{first_name}}","example":{"body_text_named_params":[]}}]}`, wantDetails: "{{first_name}}"},
			{name: "URL variable not at the end", body: `{"name":"a","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"x"},{"type":"BUTTONS","buttons":[{"type":"URL","text":"Go","url":"https://example.com/{{1}}/x"}]}]}`, wantDetails: "url"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := create(t, tc.body)
				require.Equal(t, http.StatusBadRequest, res.status, "answer: %s", res.raw)
				e := res.errorObject(t)
				assert.Equal(t, float64(CodeInvalidParameter), e["code"])
				assert.Contains(t, e["error_data"].(map[string]any)["details"], tc.wantDetails)
				if tc.wantSubcode != 0 {
					assert.Equal(t, tc.wantSubcode, e["error_subcode"])
				}
			})
		}
	})

	t.Run("delete by hsm_id, then by name; the name is held", func(t *testing.T) {
		del := func(query string) apiResult {
			return h.do(t, http.MethodDelete, templatesPath+"?"+query, testToken, nil, "")
		}
		enID := h.sb.wa.templates.lookupID("welcome", "en")
		res := del("name=welcome&hsm_id=" + enID)
		require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
		assert.JSONEq(t, `{"success":true}`, string(res.raw))
		page, _ := h.listTemplates(t, "name=welcome&fields=name,language")
		assert.Equal(t, []string{"welcome/en_US"}, names(page), "only that language went")

		require.Equal(t, http.StatusOK, del("name=order_shipped").status)
		page, _ = h.listTemplates(t, "name=order_shipped")
		assert.Empty(t, page.Data)
		res = h.send(t, `{"messaging_product":"whatsapp","to":"919876500303","type":"template","template":{"name":"order_shipped","language":{"code":"en_US"}}}`)
		assert.Equal(t, http.StatusNotFound, res.status)

		res = create(t, shipped)
		require.Equal(t, http.StatusBadRequest, res.status, "a deleted name cannot be reused for 30 days: %s", res.raw)
		assert.Equal(t, float64(2388023), res.errorObject(t)["error_subcode"])

		assert.Equal(t, http.StatusBadRequest, del("name=order_shipped").status, "nothing left to delete")
		assert.Equal(t, http.StatusBadRequest, del("hsm_id="+id).status, "name is required")
	})
}

func mustFloat(t *testing.T, id string) float64 {
	t.Helper()
	var f float64
	require.NoError(t, json.Unmarshal([]byte(id), &f))
	return f
}

func testTemplateStatusAndQualityControl(t *testing.T) {
	h := newHarness(t, Options{AssumeWindowOpen: true}, false)
	update := func(t *testing.T, body string) apiResult {
		t.Helper()
		return h.do(t, http.MethodPost, "/sandbox/whatsapp/templates/update", "", []byte(body), "application/json")
	}
	send := func(t *testing.T) apiResult {
		return h.send(t, `{"messaging_product":"whatsapp","to":"919876500401","type":"template","template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"7"}]}]}}`)
	}
	wamidOf(t, send(t))

	t.Run("quality drops, then the template is paused", func(t *testing.T) {
		res := update(t, `{"name":"order_update","language":"en_US","quality":"RED"}`)
		require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
		res = update(t, `{"id":"1000000000000002","status":"PAUSED"}`)
		require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
		tpl := res.json["data"].(map[string]any)["template"].(map[string]any)
		assert.Equal(t, "PAUSED", tpl["status"])
		assert.Equal(t, map[string]any{"score": "RED"}, tpl["quality_score"])

		require.Eventually(t, func() bool { return len(h.templateEvents(t)) == 2 }, waitFor, tick)
		// Two webhooks, posted separately: like Meta's, they may arrive in
		// either order.
		byField := map[string]map[string]any{}
		for _, ev := range h.templateEvents(t) {
			byField[ev.Field] = ev.Value
		}
		require.Len(t, byField, 2)
		assert.Equal(t, map[string]any{"previous_quality_score": "GREEN", "new_quality_score": "RED", "message_template_id": float64(1000000000000002),
			"message_template_name": "order_update", "message_template_language": "en_US"}, byField["message_template_quality_update"])
		status := byField["message_template_status_update"]
		require.NotNil(t, status)
		assert.Equal(t, "PAUSED", status["event"])
		assert.Equal(t, "FIRST_PAUSE", status["other_info"].(map[string]any)["title"])

		res = send(t)
		require.Equal(t, http.StatusBadRequest, res.status)
		assert.Equal(t, float64(CodeTemplatePaused), res.errorObject(t)["code"])
		assert.Equal(t, "(#132015) Template is Paused", res.errorObject(t)["message"])
	})

	t.Run("disabled, then approved again", func(t *testing.T) {
		require.Equal(t, http.StatusOK, update(t, `{"id":"1000000000000002","status":"DISABLED"}`).status)
		require.Eventually(t, func() bool { return len(h.templateEvents(t)) == 3 }, waitFor, tick)
		ev := h.templateEvents(t)[2]
		assert.Equal(t, "DISABLED", ev.Value["event"])
		assert.NotEmpty(t, ev.Value["disable_info"].(map[string]any)["disable_date"])
		assert.Equal(t, float64(CodeTemplateDisabled), send(t).errorObject(t)["code"])

		tpl, err := h.sb.UpdateTemplate("1000000000000002", TemplateUpdate{Status: "approved", Quality: "GREEN"})
		require.NoError(t, err)
		assert.Equal(t, TemplateApproved, tpl.Status)
		wamidOf(t, send(t))
		require.Eventually(t, func() bool { return len(h.templateEvents(t)) == 5 }, waitFor, tick)
	})

	t.Run("refusals", func(t *testing.T) {
		cases := []struct {
			body       string
			wantStatus int
			wantField  string
		}{
			{body: `{"id":"1","status":"PAUSED"}`, wantStatus: 404},
			{body: `{"name":"order_update","language":"xx","status":"PAUSED"}`, wantStatus: 404},
			{body: `{"id":"1000000000000002","status":"GONE"}`, wantStatus: 400, wantField: "status"},
			{body: `{"id":"1000000000000002","quality":"PURPLE"}`, wantStatus: 400, wantField: "quality"},
			{body: `{"id":"1000000000000002"}`, wantStatus: 400, wantField: "status"},
			{body: `{"name":"order_update","status":"PAUSED"}`, wantStatus: 400, wantField: "id"},
			{body: `{"id":"1000000000000002","status":"PAUSED","extra":1}`, wantStatus: 400},
		}
		for _, tc := range cases {
			res := update(t, tc.body)
			require.Equal(t, tc.wantStatus, res.status, "%s: %s", tc.body, res.raw)
			if tc.wantField != "" {
				assert.Equal(t, tc.wantField, res.json["errors"].([]any)[0].(map[string]any)["field"], tc.body)
			}
		}
		_, err := h.sb.UpdateTemplate("nope", TemplateUpdate{Status: TemplatePaused})
		assert.ErrorIs(t, err, ErrTemplateNotFound)
	})
}

// testTemplateSendErrors: a template send is checked against the
// registry, synchronously, with Meta's codes, titles and HTTP statuses.
func testTemplateSendErrors(t *testing.T) {
	h := newHarness(t, Options{}, true)
	cases := []struct {
		name        string
		template    string // the template object
		wantStatus  int
		wantCode    int
		wantTitle   string
		wantDetails string
	}{
		{name: "unknown name", template: `{"name":"nope","language":{"code":"en_US"}}`,
			wantStatus: 404, wantCode: CodeTemplateNotFound, wantTitle: "Template name does not exist in the translation", wantDetails: "template name (nope) does not exist in en_US"},
		{name: "unknown language", template: `{"name":"order_update","language":{"code":"fr"}}`,
			wantStatus: 404, wantCode: CodeTemplateNotFound, wantDetails: "does not exist in fr"},
		{name: "body parameter missing", template: `{"name":"order_update","language":{"code":"en_US"}}`,
			wantStatus: 400, wantCode: CodeTemplateParamCount, wantTitle: "Number of parameters does not match the expected number of params",
			wantDetails: "body: number of localizable_params (0) does not match the expected number of params (1)"},
		{name: "a parameter too many", template: `{"name":"hello_world","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"x"}]}]}`,
			wantStatus: 400, wantCode: CodeTemplateParamCount, wantDetails: "expected number of params (0)"},
		{name: "image header missing", template: `{"name":"package_photo","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"x"}]}]}`,
			wantStatus: 400, wantCode: CodeTemplateParamCount, wantDetails: "header: number of localizable_params (0)"},
		{name: "image header given as text", template: `{"name":"package_photo","language":{"code":"en_US"},"components":[{"type":"header","parameters":[{"type":"text","text":"x"}]},{"type":"body","parameters":[{"type":"text","text":"x"}]}]}`,
			wantStatus: 400, wantCode: CodeTemplateFormat, wantTitle: "Parameter format does not match format in the created template", wantDetails: "expected IMAGE, received TEXT"},
		{name: "named template given positional parameters", template: `{"name":"reservation_confirmation","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"4"},{"type":"text","text":"Sat"}]}]}`,
			wantStatus: 400, wantCode: CodeTemplateFormat, wantDetails: "named parameters"},
		{name: "named template with a wrong name", template: `{"name":"reservation_confirmation","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","parameter_name":"guests","text":"4"},{"type":"text","parameter_name":"day","text":"Sat"}]}]}`,
			wantStatus: 400, wantCode: CodeTemplateParamCount, wantDetails: "parameter names"},
		{name: "URL button suffix missing", template: `{"name":"track_order","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"x"}]}]}`,
			wantStatus: 400, wantCode: CodeTemplateParamCount, wantDetails: "button at index 0"},
		{name: "copy code button with the wrong sub_type", template: `{"name":"otp_login","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"1"}]},{"type":"button","sub_type":"copy_code","index":"0","parameters":[{"type":"coupon_code","coupon_code":"1"}]}]}`,
			wantStatus: 400, wantCode: CodeTemplateFormat, wantDetails: "expected sub_type url"},
		{name: "carousel with one card of two", template: `{"name":"plant_carousel","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"x"}]},{"type":"carousel","cards":[{"card_index":0,"components":[{"type":"header","parameters":[{"type":"image","image":{"id":"1"}}]},{"type":"body","parameters":[{"type":"text","text":"x"}]}]}]}]}`,
			wantStatus: 400, wantCode: CodeTemplateParamCount, wantDetails: "carousel: number of cards (1) does not match the expected number of cards (2)"},
		{name: "carousel card without its image", template: `{"name":"plant_carousel","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"x"}]},{"type":"carousel","cards":[{"card_index":0,"components":[{"type":"body","parameters":[{"type":"text","text":"x"}]}]},{"card_index":1,"components":[{"type":"header","parameters":[{"type":"image","image":{"id":"1"}}]},{"type":"body","parameters":[{"type":"text","text":"x"}]}]}]}]}`,
			wantStatus: 400, wantCode: CodeTemplateParamCount, wantDetails: "carousel card 0 header"},
		{name: "paused", template: `{"name":"spring_sale","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"20%"}]}]}`,
			wantStatus: 400, wantCode: CodeTemplatePaused, wantTitle: "Template is Paused"},
		{name: "disabled", template: `{"name":"old_newsletter","language":{"code":"en_US"}}`,
			wantStatus: 400, wantCode: CodeTemplateDisabled, wantTitle: "Template is Disabled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := h.send(t, `{"messaging_product":"whatsapp","to":"919876500501","type":"template","template":`+tc.template+`}`)
			require.Equal(t, tc.wantStatus, res.status, "answer: %s", res.raw)
			e := res.errorObject(t)
			assert.Equal(t, float64(tc.wantCode), e["code"])
			assert.Equal(t, "OAuthException", e["type"])
			assert.NotEmpty(t, e["fbtrace_id"])
			if tc.wantTitle != "" {
				assert.Equal(t, "(#"+strings.TrimSpace(jsonNumber(tc.wantCode))+") "+tc.wantTitle, e["message"])
			}
			data := e["error_data"].(map[string]any)
			assert.Equal(t, "whatsapp", data["messaging_product"])
			assert.Contains(t, data["details"], tc.wantDetails)
		})
	}
	assert.Empty(t, h.sb.Sent(), "no refused template is recorded")
}

func jsonNumber(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
