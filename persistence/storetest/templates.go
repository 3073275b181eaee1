package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// RunTemplates is the contract suite of actors.TemplateStore. open gives a
// fresh, empty store and registers its own cleanup. Beyond the doc comments
// in package actors it pins down:
//
//   - Components round-trip as JSON (Meta's field names); nil and empty are
//     equivalent. UpdatedAt is ReplaceTemplates' at, then UpdateTemplate's.
//   - ListTemplates orders by name, then language, ascending; filters match
//     exactly; the total counts the filtered set.
//   - A reader racing ReplaceTemplates sees the whole old set or the whole
//     new one.
func RunTemplates(t *testing.T, open func(t *testing.T) actors.TemplateStore) {
	runCases(t, open, []caseOf[actors.TemplateStore]{
		{name: "replace then read", check: checkTemplateReplace},
		{name: "replace drops what Meta no longer lists, other accounts untouched", check: checkTemplateReplaceScope},
		{name: "list filters and pages", check: checkTemplateList},
		{name: "update status, failure and quality", check: checkTemplateUpdate},
		{name: "delete", check: checkTemplateDelete},
		{name: "readers never see a mix of two syncs", check: checkTemplateReplaceAtomic},
	})
}

const waba = "102290129340398"

// tmpl is an approved utility template with a header, a body of one
// positional variable, a footer and two buttons.
func tmpl(name, lang string) actors.Template {
	return actors.Template{
		BusinessAccountID: waba, ID: "id-" + name + "-" + lang, Name: name, Language: lang,
		Status: actors.TemplateApproved, Category: actors.CategoryUtility, Quality: actors.QualityGreen,
		ParameterFormat: actors.FormatPositional,
		Components: []actors.TemplateComponent{
			{Type: actors.ComponentHeader, Format: actors.HeaderImage, Example: json.RawMessage(`{"header_handle":["https://x.example/h.png"]}`)},
			{Type: actors.ComponentBody, Text: "Hello {{1}}", Example: json.RawMessage(`{"body_text":[["Asha"]]}`)},
			{Type: actors.ComponentFooter, Text: "Reply STOP to opt out"},
			{Type: actors.ComponentButtons, Buttons: []actors.TemplateButton{
				{Type: actors.ButtonQuickReply, Text: "Stop"},
				{Type: actors.ButtonURL, Text: "Track", URL: "https://x.example/t/{{1}}", Example: json.RawMessage(`["abc"]`)},
			}},
		},
	}
}

// synced is t as ReplaceTemplates at at stores it.
func synced(t actors.Template, at time.Time) actors.Template {
	t.UpdatedAt = at
	return t
}

func requireTemplate(t *testing.T, want, got actors.Template) {
	t.Helper()
	comps := func(cs []actors.TemplateComponent) []actors.TemplateComponent {
		if cs == nil {
			return []actors.TemplateComponent{}
		}
		return cs
	}
	wantComps, err := json.Marshal(comps(want.Components))
	require.NoError(t, err)
	gotComps, err := json.Marshal(comps(got.Components))
	require.NoError(t, err)
	require.JSONEq(t, string(wantComps), string(gotComps), "components")
	want.Components, got.Components = nil, nil
	require.Equal(t, want, got)
}

func templateNames(ts []actors.Template) []string {
	return idsOf(ts, func(x actors.Template) string { return x.Name + "/" + x.Language })
}

func checkTemplateReplace(t *testing.T, ctx context.Context, s actors.TemplateStore) {
	_, err := s.TemplateSync(ctx, waba)
	require.ErrorIs(t, err, actors.ErrNotFound, "never synced")
	_, err = s.Template(ctx, waba, "welcome", "en_US")
	require.ErrorIs(t, err, actors.ErrNotFound)

	at := base.Add(time.Minute)
	named := tmpl("order_named", "en_US")
	named.ParameterFormat = actors.FormatNamed
	named.Components[1] = actors.TemplateComponent{Type: actors.ComponentBody, Text: "Hi {{first_name}}"}
	paused := tmpl("sale", "es")
	paused.Status, paused.Reason, paused.Quality = actors.TemplatePaused, "FIRST_PAUSE", actors.QualityRed
	bare := actors.Template{BusinessAccountID: waba, ID: "9", Name: "bare", Language: "en", Status: actors.TemplatePending, Category: actors.CategoryMarketing}
	all := []actors.Template{tmpl("welcome", "en_US"), tmpl("welcome", "en"), named, paused, bare}
	require.NoError(t, s.ReplaceTemplates(ctx, waba, all, at))

	for _, want := range all {
		got, err := s.Template(ctx, waba, want.Name, want.Language)
		require.NoError(t, err, want.Name)
		requireTemplate(t, synced(want, at), got)
	}
	_, err = s.Template(ctx, waba, "welcome", "fr")
	require.ErrorIs(t, err, actors.ErrNotFound, "unknown language")
	_, err = s.Template(ctx, "999", "welcome", "en_US")
	require.ErrorIs(t, err, actors.ErrNotFound, "other account")
	sync, err := s.TemplateSync(ctx, waba)
	require.NoError(t, err)
	require.Equal(t, actors.TemplateSync{BusinessAccountID: waba, SyncedAt: at, Count: 5}, sync)
}

func checkTemplateReplaceScope(t *testing.T, ctx context.Context, s actors.TemplateStore) {
	other := tmpl("welcome", "en_US")
	other.BusinessAccountID = "777"
	require.NoError(t, s.ReplaceTemplates(ctx, "777", []actors.Template{other}, base))
	require.NoError(t, s.ReplaceTemplates(ctx, waba, []actors.Template{tmpl("a", "en"), tmpl("b", "en")}, base))
	require.NoError(t, s.ReplaceTemplates(ctx, waba, []actors.Template{tmpl("b", "en"), tmpl("c", "en")}, base.Add(time.Hour)))

	got, total, err := s.ListTemplates(ctx, actors.TemplateFilter{BusinessAccountID: waba, Page: 1, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, 2, total)
	require.Equal(t, []string{"b/en", "c/en"}, templateNames(got))
	require.Equal(t, base.Add(time.Hour), got[0].UpdatedAt)
	kept, err := s.Template(ctx, "777", "welcome", "en_US")
	require.NoError(t, err)
	requireTemplate(t, synced(other, base), kept)

	require.NoError(t, s.ReplaceTemplates(ctx, waba, nil, base.Add(2*time.Hour)), "an account with no templates")
	_, total, err = s.ListTemplates(ctx, actors.TemplateFilter{BusinessAccountID: waba, Page: 1, Limit: 10})
	require.NoError(t, err)
	require.Zero(t, total)
	sync, err := s.TemplateSync(ctx, waba)
	require.NoError(t, err)
	require.Equal(t, actors.TemplateSync{BusinessAccountID: waba, SyncedAt: base.Add(2 * time.Hour), Count: 0}, sync)
}

func checkTemplateList(t *testing.T, ctx context.Context, s actors.TemplateStore) {
	var all []actors.Template
	for i, name := range []string{"welcome", "alert", "otp", "promo"} {
		for _, lang := range []string{"en_US", "es", "en"} {
			x := tmpl(name, lang)
			if name == "otp" {
				x.Category = actors.CategoryAuthentication
			}
			if name == "promo" {
				x.Category = actors.CategoryMarketing
				if lang == "es" {
					x.Status = actors.TemplatePaused
				}
			}
			if i == 0 && lang == "en" {
				x.Status = actors.TemplateRejected
			}
			all = append(all, x)
		}
	}
	require.NoError(t, s.ReplaceTemplates(ctx, waba, all, base))
	tests := []struct {
		name      string
		filter    actors.TemplateFilter
		wantNames []string
		wantTotal int
	}{
		{name: "all by name then language", filter: actors.TemplateFilter{Limit: 100},
			wantNames: []string{"alert/en", "alert/en_US", "alert/es", "otp/en", "otp/en_US", "otp/es", "promo/en", "promo/en_US", "promo/es",
				"welcome/en", "welcome/en_US", "welcome/es"}, wantTotal: 12},
		{name: "second page", filter: actors.TemplateFilter{Page: 2, Limit: 5},
			wantNames: []string{"otp/es", "promo/en", "promo/en_US", "promo/es", "welcome/en"}, wantTotal: 12},
		{name: "past the end", filter: actors.TemplateFilter{Page: 4, Limit: 5}, wantNames: []string{}, wantTotal: 12},
		{name: "by status", filter: actors.TemplateFilter{Status: actors.TemplatePaused, Limit: 10}, wantNames: []string{"promo/es"}, wantTotal: 1},
		{name: "by name", filter: actors.TemplateFilter{Name: "otp", Limit: 10}, wantNames: []string{"otp/en", "otp/en_US", "otp/es"}, wantTotal: 3},
		{name: "name is exact", filter: actors.TemplateFilter{Name: "ot", Limit: 10}, wantNames: []string{}, wantTotal: 0},
		{name: "by language", filter: actors.TemplateFilter{Language: "en", Limit: 10},
			wantNames: []string{"alert/en", "otp/en", "promo/en", "welcome/en"}, wantTotal: 4},
		{name: "by category", filter: actors.TemplateFilter{Category: actors.CategoryMarketing, Limit: 10},
			wantNames: []string{"promo/en", "promo/en_US", "promo/es"}, wantTotal: 3},
		{name: "combined", filter: actors.TemplateFilter{Status: actors.TemplateApproved, Language: "en", Category: actors.CategoryUtility, Limit: 10},
			wantNames: []string{"alert/en"}, wantTotal: 1},
		{name: "other account", filter: actors.TemplateFilter{BusinessAccountID: "777", Limit: 10}, wantNames: []string{}, wantTotal: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.filter
			if f.BusinessAccountID == "" {
				f.BusinessAccountID = waba
			}
			if f.Page == 0 {
				f.Page = 1
			}
			got, total, err := s.ListTemplates(ctx, f)
			require.NoError(t, err)
			assert.Equal(t, tt.wantNames, templateNames(got))
			assert.Equal(t, tt.wantTotal, total)
		})
	}
}

func checkTemplateUpdate(t *testing.T, ctx context.Context, s actors.TemplateStore) {
	require.NoError(t, s.ReplaceTemplates(ctx, waba, []actors.Template{tmpl("welcome", "en_US"), tmpl("welcome", "en")}, base))
	get := func() actors.Template {
		t.Helper()
		x, err := s.Template(ctx, waba, "welcome", "en_US")
		require.NoError(t, err)
		return x
	}
	steps := []struct {
		name   string
		update actors.TemplateUpdate
		// want changes the expected template from the previous step's.
		want func(x *actors.Template)
	}{
		{name: "a failure marks it, status kept", update: actors.TemplateUpdate{FailedCode: 132000, Reason: "132000 parameter count", At: base.Add(1 * time.Minute)},
			want: func(x *actors.Template) { x.FailedCode, x.Reason = 132000, "132000 parameter count" }},
		{name: "quality alone", update: actors.TemplateUpdate{Quality: actors.QualityYellow, At: base.Add(2 * time.Minute)},
			want: func(x *actors.Template) { x.Quality = actors.QualityYellow }},
		{name: "a status settles the failure", update: actors.TemplateUpdate{Status: actors.TemplatePaused, Reason: "FIRST_PAUSE", At: base.Add(3 * time.Minute)},
			want: func(x *actors.Template) { x.Status, x.Reason, x.FailedCode = actors.TemplatePaused, "FIRST_PAUSE", 0 }},
		{name: "a status with the failure that caused it", update: actors.TemplateUpdate{Status: actors.TemplateDisabled, Reason: "132016 disabled", FailedCode: 132016,
			At: base.Add(4 * time.Minute)},
			want: func(x *actors.Template) {
				x.Status, x.Reason, x.FailedCode = actors.TemplateDisabled, "132016 disabled", 132016
			}},
		{name: "approved again", update: actors.TemplateUpdate{Status: actors.TemplateApproved, Quality: actors.QualityGreen, At: base.Add(5 * time.Minute)},
			want: func(x *actors.Template) {
				x.Status, x.Reason, x.FailedCode, x.Quality = actors.TemplateApproved, "", 0, actors.QualityGreen
			}},
	}
	want := synced(tmpl("welcome", "en_US"), base)
	for _, st := range steps {
		require.NoError(t, s.UpdateTemplate(ctx, waba, "welcome", "en_US", st.update), st.name)
		st.want(&want)
		want.UpdatedAt = st.update.At
		requireTemplate(t, want, get())
	}
	other, err := s.Template(ctx, waba, "welcome", "en")
	require.NoError(t, err)
	requireTemplate(t, synced(tmpl("welcome", "en"), base), other)

	err = s.UpdateTemplate(ctx, waba, "welcome", "fr", actors.TemplateUpdate{Status: actors.TemplatePaused, At: base})
	require.ErrorIs(t, err, actors.ErrNotFound)
	err = s.UpdateTemplate(ctx, "777", "welcome", "en_US", actors.TemplateUpdate{Status: actors.TemplatePaused, At: base})
	require.ErrorIs(t, err, actors.ErrNotFound)
}

func checkTemplateDelete(t *testing.T, ctx context.Context, s actors.TemplateStore) {
	require.NoError(t, s.ReplaceTemplates(ctx, waba, []actors.Template{tmpl("welcome", "en_US"), tmpl("welcome", "en")}, base))
	require.NoError(t, s.DeleteTemplate(ctx, waba, "welcome", "en_US"))
	_, err := s.Template(ctx, waba, "welcome", "en_US")
	require.ErrorIs(t, err, actors.ErrNotFound)
	_, err = s.Template(ctx, waba, "welcome", "en")
	require.NoError(t, err, "the other language stays")
	require.NoError(t, s.DeleteTemplate(ctx, waba, "welcome", "en_US"), "deleting a missing template")
	_, total, err := s.ListTemplates(ctx, actors.TemplateFilter{BusinessAccountID: waba, Page: 1, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, 1, total)
}

// checkTemplateReplaceAtomic alternates two syncs of different sets while
// readers list and look up: every answer is one whole set.
func checkTemplateReplaceAtomic(t *testing.T, ctx context.Context, s actors.TemplateStore) {
	set := func(prefix string) []actors.Template {
		var ts []actors.Template
		for i := 0; i < 30; i++ {
			ts = append(ts, tmpl(fmt.Sprintf("%s%02d", prefix, i), "en"))
		}
		return ts
	}
	a, b := set("a"), set("b")
	require.NoError(t, s.ReplaceTemplates(ctx, waba, a, base))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, total, err := s.ListTemplates(ctx, actors.TemplateFilter{BusinessAccountID: waba, Page: 1, Limit: 100})
				problem := ""
				switch {
				case err != nil:
					problem = "list: " + err.Error()
				case total != 30 || len(got) != 30:
					problem = fmt.Sprintf("saw %d templates (total %d), want 30", len(got), total)
				case got[0].Name[0] != got[29].Name[0]:
					problem = fmt.Sprintf("saw a mix: %s ... %s", got[0].Name, got[29].Name)
				}
				if problem != "" {
					mu.Lock()
					problems = append(problems, problem)
					mu.Unlock()
					return
				}
			}
		}()
	}
	for i := 1; i <= 10; i++ {
		next := b
		if i%2 == 0 {
			next = a
		}
		require.NoError(t, s.ReplaceTemplates(ctx, waba, next, base.Add(time.Duration(i)*time.Minute)))
	}
	close(stop)
	wg.Wait()
	require.Empty(t, problems)
	got, total, err := s.ListTemplates(ctx, actors.TemplateFilter{BusinessAccountID: waba, Page: 1, Limit: 100})
	require.NoError(t, err)
	require.Equal(t, 30, total)
	require.Equal(t, "a00", got[0].Name, "the last sync wins")
}
