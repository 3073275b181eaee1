package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/template"
	"github.com/wacc/engine/gateway/webhook"
)

// The end-to-end tests of the template registry run the whole engine with
// its built-in sandbox, whose business account (SANDBOX_WABA_ID) holds the
// seeded templates: hello_world, order_update ({{1}}), welcome (en_US and
// en), reservation_confirmation (named), package_photo (image header),
// track_order (URL suffix), otp_login (OTP), plant_carousel (two cards),
// spring_sale (PAUSED) and old_newsletter (DISABLED).

// number is the E.164 number i of a test group: its last four digits are
// never one of the sandbox's injected failures (0001-0008).
func number(group, i int) string { return fmt.Sprintf("+9198%02d%03d150", group, i) }

// templatesSynced waits until the registry holds the sandbox's templates
// and returns the list's data.
func (l *live) templatesSynced(token string) map[string]any {
	l.t.Helper()
	want := len(l.sandbox().Templates())
	var data map[string]any
	require.Eventually(l.t, func() bool {
		st, body := l.api("GET", "/api/whatsapp/templates?limit=100", token, nil)
		if st != http.StatusOK {
			return false
		}
		data = body["data"].(map[string]any)
		return data["syncedAt"] != nil && data["total"] == float64(want)
	}, 15*time.Second, 20*time.Millisecond, "the registry is synced from the sandbox")
	return data
}

// sandboxControl posts to one of the sandbox's own endpoints.
func (l *live) sandboxControl(path string, body any) (int, map[string]any) {
	l.t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(l.t, err)
	res, err := l.client.Post("http://"+l.e.out.sandboxLn.Addr().String()+path, "application/json", bytes.NewReader(raw))
	require.NoError(l.t, err)
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// templateOf finds name/language in a list's items.
func templateOf(data map[string]any, name, lang string) map[string]any {
	for _, it := range data["items"].([]any) {
		if m := it.(map[string]any); m["name"] == name && m["language"] == lang {
			return m
		}
	}
	return nil
}

func param(typ string, fields map[string]any) map[string]any {
	p := map[string]any{"type": typ}
	for k, v := range fields {
		p[k] = v
	}
	return p
}

func text(v string) map[string]any { return param("text", map[string]any{"text": v}) }

func named(name, v string) map[string]any {
	return param("text", map[string]any{"text": v, "parameter_name": name})
}

func comp(typ string, params ...map[string]any) map[string]any {
	return map[string]any{"type": typ, "parameters": params}
}

func button(subType string, index int, params ...map[string]any) map[string]any {
	return map[string]any{"type": "button", "sub_type": subType, "index": fmt.Sprint(index), "parameters": params}
}

func image(link string) map[string]any {
	return param("image", map[string]any{"image": map[string]string{"link": link}})
}

func cards(n int) map[string]any {
	var cs []any
	for i := 0; i < n; i++ {
		cs = append(cs, map[string]any{"card_index": i, "components": []any{
			comp("header", image(fmt.Sprintf("https://x.example/plant%d.jpg", i))),
			comp("body", text(fmt.Sprintf("Plant %d", i))),
		}})
	}
	return map[string]any{"type": "carousel", "cards": cs}
}

// TestTemplateRegistrySyncsTheSandboxOnStart: at start the registry holds
// every template of the sandbox's account, as the sandbox has them, and
// lists them with filters and pages.
func TestTemplateRegistrySyncsTheSandboxOnStart(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	_, agent := l.user(actors.RoleAgent)
	data := l.templatesSynced(agent)
	assert.Equal(t, l.cfg.SandboxWABAID, data["businessAccountId"])

	var want, got []string
	for _, tpl := range l.sandbox().Templates() {
		want = append(want, tpl.Name+"/"+tpl.Language+"/"+tpl.Status)
	}
	for _, it := range data["items"].([]any) {
		m := it.(map[string]any)
		got = append(got, fmt.Sprint(m["name"], "/", m["language"], "/", m["status"]))
	}
	sort.Strings(want)
	assert.Equal(t, want, got, "every template of the sandbox, by name then language")

	paused := templateOf(data, "spring_sale", "en_US")
	require.NotNil(t, paused)
	assert.Equal(t, false, paused["usable"])
	assert.Equal(t, "RED", paused["quality"])
	assert.Equal(t, false, templateOf(data, "old_newsletter", "en_US")["usable"])
	reservation := templateOf(data, "reservation_confirmation", "en_US")
	assert.Equal(t, "NAMED", reservation["parameterFormat"])
	assert.Equal(t, true, reservation["usable"])
	assert.NotEmpty(t, templateOf(data, "plant_carousel", "en_US")["components"])

	tests := []struct {
		query     string
		wantNames []string
		wantTotal float64
	}{
		{query: "status=PAUSED", wantNames: []string{"spring_sale/en_US"}, wantTotal: 1},
		{query: "name=welcome", wantNames: []string{"welcome/en", "welcome/en_US"}, wantTotal: 2},
		{query: "language=en", wantNames: []string{"welcome/en"}, wantTotal: 1},
		{query: "category=authentication", wantNames: []string{"otp_login/en_US"}, wantTotal: 1},
		{query: "status=APPROVED&category=UTILITY&limit=2&page=2", wantNames: []string{"package_photo/en_US", "reservation_confirmation/en_US"}, wantTotal: 5},
	}
	for _, tt := range tests {
		st, body := l.api("GET", "/api/whatsapp/templates?"+tt.query, agent, nil)
		require.Equal(t, 200, st, "%s: %v", tt.query, body)
		d := body["data"].(map[string]any)
		var names []string
		for _, it := range d["items"].([]any) {
			m := it.(map[string]any)
			names = append(names, fmt.Sprint(m["name"], "/", m["language"]))
		}
		assert.Equal(t, tt.wantNames, names, tt.query)
		assert.Equal(t, tt.wantTotal, d["total"], tt.query)
	}

	for _, bad := range []struct {
		query  string
		status int
	}{{"status=paused!", 400}, {"name=Bad-Name", 400}, {"foo=1", 400}, {"limit=0", 400}} {
		st, body := l.api("GET", "/api/whatsapp/templates?"+bad.query, agent, nil)
		assert.Equal(t, bad.status, st, "%s: %v", bad.query, body)
		assert.Equal(t, "VALIDATION_ERROR", body["code"], bad.query)
	}
	st, _ := l.api("GET", "/api/whatsapp/templates", "", nil)
	assert.Equal(t, 401, st)
}

// TestTemplateSendsRefusedBeforeWhatsApp: every send that does not fit the
// sandbox's templates is refused with 422 before anything is stored or
// queued (no customer, no message, nothing at the sandbox), and a send
// that fits goes through the queue to the sandbox, which accepts it.
func TestTemplateSendsRefusedBeforeWhatsApp(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	admin := l.admin()
	l.templatesSynced(admin)
	sb := l.sandbox()

	refusals := []struct {
		name       string
		template   string
		language   string
		components []any
		wantCode   string
		// wantField and wantFieldCode are the first field error's.
		wantField     string
		wantFieldCode string
	}{
		{name: "unknown name", template: "no_such_template", language: "en_US", wantCode: "TEMPLATE_NOT_FOUND",
			wantField: "template.name", wantFieldCode: "UNKNOWN_TEMPLATE"},
		{name: "unknown language", template: "welcome", language: "fr", wantCode: "TEMPLATE_NOT_FOUND",
			wantField: "template.language", wantFieldCode: "UNKNOWN_LANGUAGE"},
		{name: "paused", template: "spring_sale", language: "en_US", components: []any{comp("body", text("20%"))},
			wantCode: "TEMPLATE_NOT_APPROVED", wantField: "template.name", wantFieldCode: "PAUSED"},
		{name: "disabled", template: "old_newsletter", language: "en_US", wantCode: "TEMPLATE_NOT_APPROVED",
			wantField: "template.name", wantFieldCode: "DISABLED"},
		{name: "body parameter missing", template: "order_update", language: "en_US", wantCode: "TEMPLATE_PARAMETERS",
			wantField: "template.components[body]", wantFieldCode: template.CodeRequired},
		{name: "one parameter too many", template: "order_update", language: "en_US", components: []any{comp("body", text("#42"), text("extra"))},
			wantCode: "TEMPLATE_PARAMETERS", wantField: "template.components[0].parameters", wantFieldCode: template.CodeParameterCount},
		{name: "positional parameters for a named template", template: "reservation_confirmation", language: "en_US",
			components: []any{comp("body", text("4"), text("Saturday"))}, wantCode: "TEMPLATE_PARAMETERS",
			wantField: "template.components[0].parameters[0].parameter_name", wantFieldCode: template.CodeNamedExpected},
		{name: "a named parameter for a positional template", template: "order_update", language: "en_US",
			components: []any{comp("body", named("order", "#42"))}, wantCode: "TEMPLATE_PARAMETERS",
			wantField: "template.components[0].parameters[0].parameter_name", wantFieldCode: template.CodePositionalOnly},
		{name: "header of the wrong media", template: "package_photo", language: "en_US",
			components: []any{comp("header", param("video", map[string]any{"video": map[string]string{"id": "1"}})), comp("body", text("#1"))},
			wantCode:   "TEMPLATE_PARAMETERS", wantField: "template.components[0].parameters[0].type", wantFieldCode: template.CodeMediaKind},
		{name: "header media missing", template: "package_photo", language: "en_US", components: []any{comp("body", text("#1"))},
			wantCode: "TEMPLATE_PARAMETERS", wantField: "template.components[header]", wantFieldCode: template.CodeRequired},
		{name: "URL suffix missing", template: "track_order", language: "en_US", components: []any{comp("body", text("#1"))},
			wantCode: "TEMPLATE_PARAMETERS", wantField: "template.components[button 0]", wantFieldCode: template.CodeRequired},
		{name: "URL suffix as a payload", template: "track_order", language: "en_US",
			components: []any{comp("body", text("#1")), button("quick_reply", 0, param("payload", map[string]any{"payload": "x"}))},
			wantCode:   "TEMPLATE_PARAMETERS", wantField: "template.components[1].sub_type", wantFieldCode: template.CodeSubType},
		{name: "OTP code missing", template: "otp_login", language: "en_US", components: []any{comp("body", text("123456"))},
			wantCode: "TEMPLATE_PARAMETERS", wantField: "template.components[button 0]", wantFieldCode: template.CodeRequired},
		{name: "a carousel card short", template: "plant_carousel", language: "en_US", components: []any{comp("body", text("Asha")), cards(1)},
			wantCode: "TEMPLATE_PARAMETERS", wantField: "template.components[1].cards", wantFieldCode: template.CodeCardCount},
	}
	ctx := context.Background()
	for i, tt := range refusals {
		to := number(30, i)
		st, body := l.api("POST", "/api/whatsapp/messages/template", admin, templateSend(to, tt.template, tt.language, tt.components...))
		require.Equal(t, 422, st, "%s: %v", tt.name, body)
		assert.Equal(t, tt.wantCode, body["code"], tt.name)
		assert.NotEmpty(t, body["message"], tt.name)
		errs, _ := body["errors"].([]any)
		require.NotEmpty(t, errs, "%s: field errors: %v", tt.name, body)
		first := errs[0].(map[string]any)
		assert.Equal(t, tt.wantField, first["field"], tt.name)
		assert.Equal(t, tt.wantFieldCode, first["code"], tt.name)
		_, err := l.e.store.CustomerByPhone(ctx, to)
		assert.ErrorIs(t, err, actors.ErrNotFound, "%s: a refused send creates no customer", tt.name)
	}

	fits := []struct {
		name       string
		template   string
		components []any
	}{
		{name: "no parameters", template: "hello_world"},
		{name: "positional body", template: "order_update", components: []any{comp("body", text("#42"))}},
		{name: "named body in any order", template: "reservation_confirmation", components: []any{comp("body", named("day", "Saturday"), named("number_of_guests", "4"))}},
		{name: "image header", template: "package_photo", components: []any{comp("header", image("https://x.example/p.jpg")), comp("body", text("#1"))}},
		{name: "URL suffix", template: "track_order", components: []any{comp("body", text("#1")), button("url", 0, text("ABC123"))}},
		{name: "OTP", template: "otp_login", components: []any{comp("body", text("123456")), button("url", 0, text("123456"))}},
		{name: "carousel", template: "plant_carousel", components: []any{comp("body", text("Asha")), cards(2)}},
	}
	for i, tt := range fits {
		to := number(31, i)
		st, body := l.api("POST", "/api/whatsapp/messages/template", admin, templateSend(to, tt.template, "en_US", tt.components...))
		require.Equal(t, 202, st, "%s: %v", tt.name, body)
		id := body["data"].(map[string]any)["message"].(map[string]any)["id"].(string)
		require.Eventually(t, func() bool { return l.messageStatus(id) != actors.StatusQueued }, 10*time.Second, 20*time.Millisecond, tt.name)
		m, err := l.e.store.Message(ctx, id)
		require.NoError(t, err)
		assert.Nil(t, m.Error, "%s: the sandbox accepts what the engine let through", tt.name)
		assert.Len(t, sentTo(sb, to[1:]), 1, tt.name)
	}
	for i := range refusals {
		assert.Empty(t, sentTo(sb, number(30, i)[1:]), "%s never reached WhatsApp", refusals[i].name)
	}
}

// TestTemplatePausedInTheSandbox: the sandbox pauses a template and posts
// Meta's status webhook; the engine refuses sends of it from then on, and
// takes them again once the sandbox approves it. A quality webhook updates
// the rating.
func TestTemplatePausedInTheSandbox(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	admin := l.admin()
	l.templatesSynced(admin)
	send := func(to string) (int, map[string]any) {
		return l.api("POST", "/api/whatsapp/messages/template", admin, templateSend(to, "order_update", "en_US", comp("body", text("#42"))))
	}
	st, body := send(number(32, 1))
	require.Equal(t, 202, st, body)

	st, body = l.sandboxControl("/sandbox/whatsapp/templates/update", map[string]any{"name": "order_update", "language": "en_US", "status": "PAUSED", "quality": "RED"})
	require.Equal(t, 200, st, body)
	require.Eventually(t, func() bool {
		_, body := l.api("GET", "/api/whatsapp/templates?name=order_update", admin, nil)
		items := body["data"].(map[string]any)["items"].([]any)
		m := items[0].(map[string]any)
		return m["status"] == "PAUSED" && m["usable"] == false && m["quality"] == "RED"
	}, 10*time.Second, 20*time.Millisecond, "the status and quality webhooks reach the registry")
	st, body = send(number(32, 2))
	require.Equal(t, 422, st, body)
	assert.Equal(t, "TEMPLATE_NOT_APPROVED", body["code"])
	assert.Empty(t, sentTo(l.sandbox(), number(32, 2)[1:]))

	st, body = l.sandboxControl("/sandbox/whatsapp/templates/update", map[string]any{"name": "order_update", "language": "en_US", "status": "APPROVED"})
	require.Equal(t, 200, st, body)
	require.Eventually(t, func() bool {
		st, _ := send(number(32, 3))
		return st == 202
	}, 10*time.Second, 50*time.Millisecond, "approved again")
}

// TestTemplateFailuresHoldSendsBack: what the sender and the conversations
// report when WhatsApp refuses a template (TemplateFailed) holds later
// sends of it back with 422 until an admin's sync (or a status webhook)
// says it is usable; only admins may sync.
func TestTemplateFailuresHoldSendsBack(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	admin := l.admin()
	_, supervisor := l.user(actors.RoleSupervisor)
	l.templatesSynced(admin)
	ctx := context.Background()
	phone := l.cfg.WhatsAppPhoneNumberID
	order := func(to string) (int, map[string]any) {
		return l.api("POST", "/api/whatsapp/messages/template", admin, templateSend(to, "order_update", "en_US", comp("body", text("#42"))))
	}
	welcome := func(to string) (int, map[string]any) {
		return l.api("POST", "/api/whatsapp/messages/template", admin, templateSend(to, "welcome", "en"))
	}

	require.NoError(t, l.e.templates.TemplateFailed(ctx, phone, "order_update", "en_US", actors.WhatsAppError{Code: 132000,
		Title: "Number of parameters does not match the expected number of params"}))
	require.NoError(t, l.e.templates.TemplateFailed(ctx, phone, "welcome", "en", actors.WhatsAppError{Code: 132001}))
	st, body := order(number(33, 1))
	require.Equal(t, 422, st, body)
	assert.Equal(t, "TEMPLATE_NOT_APPROVED", body["code"])
	assert.Contains(t, body["message"], "132000")
	st, body = welcome(number(33, 2))
	require.Equal(t, 422, st, body)
	assert.Equal(t, "TEMPLATE_NOT_FOUND", body["code"], "132001 removes the template in that language")
	_, body = l.api("GET", "/api/whatsapp/templates?name=order_update", admin, nil)
	m := body["data"].(map[string]any)["items"].([]any)[0].(map[string]any)
	assert.Equal(t, false, m["usable"])
	assert.EqualValues(t, 132000, m["failedCode"])

	for _, token := range []string{supervisor} {
		st, body := l.api("POST", "/api/whatsapp/templates/sync", token, nil)
		assert.Equal(t, 403, st, body)
	}
	st, body = l.api("POST", "/api/whatsapp/templates/sync", admin, nil)
	require.Equal(t, 200, st, body)
	res := body["data"].(map[string]any)
	assert.EqualValues(t, len(l.sandbox().Templates()), res["total"])
	assert.EqualValues(t, 1, res["byStatus"].(map[string]any)["PAUSED"])
	assert.EqualValues(t, 1, res["byStatus"].(map[string]any)["DISABLED"])
	st, body = order(number(33, 3))
	assert.Equal(t, 202, st, "usable again after the sync: %v", body)
	st, body = welcome(number(33, 4))
	assert.Equal(t, 202, st, "back after the sync: %v", body)

	// 132015 pauses it in the registry at once.
	require.NoError(t, l.e.templates.TemplateFailed(ctx, phone, "order_update", "en_US", actors.WhatsAppError{Code: 132015, Title: "Template is Paused"}))
	st, body = order(number(33, 5))
	require.Equal(t, 422, st, body)
	assert.Equal(t, "TEMPLATE_NOT_APPROVED", body["code"])
	assert.Equal(t, "PAUSED", body["errors"].([]any)[0].(map[string]any)["code"])
	for _, i := range []int{1, 2, 5} {
		assert.Empty(t, sentTo(l.sandbox(), number(33, i)[1:]))
	}
}

// TestLateTemplateFailureMarksTheTemplate: WhatsApp accepts a template
// send, then reports it failed with a template code (a failed status
// webhook); the conversation hands the code to the template registry, and
// later sends of that template are refused before they reach WhatsApp.
func TestLateTemplateFailureMarksTheTemplate(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	admin := l.admin()
	l.templatesSynced(admin)
	phone := l.cfg.WhatsAppPhoneNumberID
	order := func(to string) (int, map[string]any) {
		return l.api("POST", "/api/whatsapp/messages/template", admin, templateSend(to, "order_update", "en_US", comp("body", text("#42"))))
	}
	to := number(34, 1)
	st, body := order(to)
	require.Equal(t, 202, st, body)
	id := body["data"].(map[string]any)["message"].(map[string]any)["id"].(string)
	var wamid string
	require.Eventually(t, func() bool {
		sent := sentTo(l.sandbox(), to[1:])
		if len(sent) == 1 {
			wamid = sent[0].WaMessageID
		}
		return wamid != ""
	}, 10*time.Second, 20*time.Millisecond, "the first send reaches WhatsApp")

	late := failedStatusBody(phone, to[1:], wamid, 132016, time.Now())
	require.Equal(t, 200, l.webhook(late, webhook.Sign(late, testAppSecret)))
	require.Eventually(t, func() bool { return l.messageStatus(id) == actors.StatusFailed }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		_, body := l.api("GET", "/api/whatsapp/templates?name=order_update", admin, nil)
		m := body["data"].(map[string]any)["items"].([]any)[0].(map[string]any)
		return m["status"] == "DISABLED" && m["usable"] == false
	}, 10*time.Second, 20*time.Millisecond, "132016 in a late failure disables the template in the registry")

	st, body = order(number(34, 2))
	require.Equal(t, 422, st, body)
	assert.Equal(t, "TEMPLATE_NOT_APPROVED", body["code"])
	assert.Empty(t, sentTo(l.sandbox(), number(34, 2)[1:]), "refused before WhatsApp")
}
