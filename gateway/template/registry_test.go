package template

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/sqlitestore"
)

const testWABA = "102290129340398"

// fakeMeta is the Lister: Meta's listing, as set by the test.
type fakeMeta struct {
	mu    sync.Mutex
	ts    []actors.Template
	err   error
	calls int
}

func (f *fakeMeta) MessageTemplates(_ context.Context, wabaID string) ([]actors.Template, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	out := make([]actors.Template, len(f.ts))
	copy(out, f.ts)
	return out, nil
}

func (f *fakeMeta) set(err error, names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
	f.ts = nil
	for _, n := range names {
		f.ts = append(f.ts, testTemplate(n))
	}
}

func (f *fakeMeta) setStatus(name, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.ts {
		if f.ts[i].Name == name {
			f.ts[i].Status = status
		}
	}
}

func (f *fakeMeta) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// failingStore fails UpdateTemplate and DeleteTemplate when fail is set.
type failingStore struct {
	Store
	fail bool
}

func (s *failingStore) UpdateTemplate(ctx context.Context, wabaID, name, language string, u actors.TemplateUpdate) error {
	if s.fail {
		return actors.ErrUnavailable
	}
	return s.Store.UpdateTemplate(ctx, wabaID, name, language, u)
}

type fixture struct {
	r     *Registry
	meta  *fakeMeta
	store *failingStore
	reg   *prometheus.Registry
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "engine.db"), zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	f := &fixture{meta: &fakeMeta{}, store: &failingStore{Store: s}, reg: prometheus.NewRegistry()}
	o.Store, o.Lister, o.BusinessAccountID, o.Log, o.Registry = f.store, f.meta, testWABA, zaptest.NewLogger(t), f.reg
	f.r = New(o)
	return f
}

func (f *fixture) get(t *testing.T, name, lang string) actors.Template {
	t.Helper()
	res, err := f.r.Resolve(t.Context(), "100000000000001", name, lang)
	require.NoError(t, err)
	require.True(t, res.Found, "%s/%s in the registry", name, lang)
	return res.Template
}

func TestSyncReplacesAndCounts(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := t.Context()
	res, err := f.r.Resolve(ctx, "100000000000001", "plain", "en")
	require.NoError(t, err)
	assert.False(t, res.Synced, "never synced: the registry cannot tell")

	f.meta.set(nil, "plain", "order_update", "carousel")
	f.meta.setStatus("carousel", actors.TemplatePaused)
	got, err := f.r.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, testWABA, got.BusinessAccountID)
	assert.Equal(t, 3, got.Total)
	assert.Equal(t, map[string]int{actors.TemplateApproved: 2, actors.TemplatePaused: 1}, got.ByStatus)
	assert.False(t, f.get(t, "carousel", "en").Usable())

	// Meta drops a template: the next sync drops it too.
	f.meta.set(nil, "plain")
	_, err = f.r.Sync(ctx)
	require.NoError(t, err)
	res, err = f.r.Resolve(ctx, "100000000000001", "order_update", "en_US")
	require.NoError(t, err)
	assert.Equal(t, Resolution{Synced: true}, res)

	// A failed listing keeps the last content.
	f.meta.set(errors.New("graph down"))
	_, err = f.r.Sync(ctx)
	require.ErrorContains(t, err, "graph down")
	assert.True(t, f.get(t, "plain", "en").Usable())
	assert.Equal(t, 1.0, testutil.ToFloat64(f.r.syncs.WithLabelValues("error")))
	assert.Equal(t, 2.0, testutil.ToFloat64(f.r.syncs.WithLabelValues("ok")))

	ts, total, rec, err := f.r.List(ctx, actors.TemplateFilter{Page: 1, Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	assert.Equal(t, "plain", ts[0].Name)
	assert.Equal(t, 1, rec.Count)
	assert.False(t, rec.SyncedAt.IsZero())
}

func TestSyncKeepsOneOfEachKey(t *testing.T) {
	f := newFixture(t, Options{})
	twice := testTemplate("plain")
	hyphen := testTemplate("order_update")
	hyphen.Language = "en-US"
	noName := testTemplate("flow")
	noName.Name = ""
	f.meta.ts = []actors.Template{testTemplate("plain"), twice, hyphen, noName}
	got, err := f.r.Sync(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, got.Total)
	assert.Equal(t, "en_US", f.get(t, "order_update", "en_US").Language)
}

func TestResolve(t *testing.T) {
	f := newFixture(t, Options{})
	order := testTemplate("order_update")
	spanish := testTemplate("order_update")
	spanish.Language = "es"
	f.meta.ts = []actors.Template{order, spanish, testTemplate("plain")}
	_, err := f.r.Sync(t.Context())
	require.NoError(t, err)
	tests := []struct {
		name     string
		template string
		language string
		want     Resolution
	}{
		{name: "unknown name", template: "nope", language: "en", want: Resolution{Synced: true}},
		{name: "unknown language", template: "order_update", language: "fr", want: Resolution{Synced: true, Languages: []string{"en_US", "es"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.r.Resolve(t.Context(), "100000000000001", tt.template, tt.language)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.Equal(t, "es", f.get(t, "order_update", "es").Language)
	assert.Equal(t, "en_US", f.get(t, "order_update", "en-US").Language, "Meta's en-US is en_US")
}

func TestApplyTemplateEvent(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := t.Context()
	f.meta.set(nil, "plain", "order_update")
	_, err := f.r.Sync(ctx)
	require.NoError(t, err)
	status := func(event, reason string) actors.TemplateEvent {
		return actors.TemplateEvent{BusinessAccountID: testWABA, Field: actors.FieldTemplateStatus, Name: "plain", Language: "en", Event: event, Reason: reason}
	}
	steps := []struct {
		name       string
		event      actors.TemplateEvent
		wantStatus string
		wantReason string
		wantUsable bool
	}{
		{name: "paused", event: status("PAUSED", "NONE"), wantStatus: actors.TemplatePaused},
		{name: "flagged changes nothing", event: status("FLAGGED", ""), wantStatus: actors.TemplatePaused},
		{name: "reinstated", event: status("REINSTATED", ""), wantStatus: actors.TemplateApproved, wantUsable: true},
		{name: "disabled with a reason", event: status("DISABLED", "LOW_QUALITY"), wantStatus: actors.TemplateDisabled, wantReason: "LOW_QUALITY"},
		{name: "another account's event", event: actors.TemplateEvent{BusinessAccountID: "999", Field: actors.FieldTemplateStatus, Name: "plain", Language: "en",
			Event: "APPROVED"}, wantStatus: actors.TemplateDisabled, wantReason: "LOW_QUALITY"},
		{name: "approved", event: status("APPROVED", "NONE"), wantStatus: actors.TemplateApproved, wantUsable: true},
	}
	for _, st := range steps {
		require.NoError(t, f.r.ApplyTemplateEvent(ctx, st.event), st.name)
		got := f.get(t, "plain", "en")
		assert.Equal(t, st.wantStatus, got.Status, st.name)
		assert.Equal(t, st.wantReason, got.Reason, st.name)
		assert.Equal(t, st.wantUsable, got.Usable(), st.name)
	}

	require.NoError(t, f.r.ApplyTemplateEvent(ctx, actors.TemplateEvent{BusinessAccountID: testWABA, Field: actors.FieldTemplateQuality,
		Name: "order_update", Language: "en-US", Quality: "red"}))
	assert.Equal(t, actors.QualityRed, f.get(t, "order_update", "en_US").Quality)

	require.NoError(t, f.r.ApplyTemplateEvent(ctx, actors.TemplateEvent{BusinessAccountID: testWABA, Field: actors.FieldTemplateStatus,
		Name: "brand_new", Language: "en", Event: "APPROVED"}), "a template the registry does not hold yet")

	select {
	case <-f.r.wake:
	default:
		t.Fatal("a template event asks for a sync")
	}

	f.store.fail = true
	err = f.r.ApplyTemplateEvent(ctx, status("PAUSED", ""))
	require.ErrorIs(t, err, actors.ErrUnavailable, "a store failure is reported so the webhook is applied again")
}

func TestTemplateFailed(t *testing.T) {
	tests := []struct {
		name string
		code int
		// wantGone says the template is no longer in the registry.
		wantGone   bool
		wantStatus string
	}{
		{name: "132015 paused", code: ErrCodePaused, wantStatus: actors.TemplatePaused},
		{name: "132016 disabled", code: ErrCodeDisabled, wantStatus: actors.TemplateDisabled},
		{name: "132001 does not exist", code: ErrCodeMissing, wantGone: true},
		{name: "132000 parameter count", code: ErrCodeParameterCount, wantStatus: actors.TemplateApproved},
		{name: "132005 text too long", code: ErrCodeTextTooLong, wantStatus: actors.TemplateApproved},
		{name: "132007 format policy", code: ErrCodeFormatPolicy, wantStatus: actors.TemplateApproved},
		{name: "132012 parameter format", code: ErrCodeParameterFormat, wantStatus: actors.TemplateApproved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			ctx := t.Context()
			f.meta.set(nil, "order_update", "plain")
			_, err := f.r.Sync(ctx)
			require.NoError(t, err)

			require.NoError(t, f.r.TemplateFailed(ctx, "100000000000001", "order_update", "en-US", actors.WhatsAppError{Code: tt.code, Title: "title"}))
			res, err := f.r.Resolve(ctx, "100000000000001", "order_update", "en_US")
			require.NoError(t, err)
			if tt.wantGone {
				assert.False(t, res.Found)
			} else {
				require.True(t, res.Found)
				assert.False(t, res.Template.Usable(), "later sends are refused")
				assert.Equal(t, tt.wantStatus, res.Template.Status)
				assert.Equal(t, tt.code, res.Template.FailedCode)
				assert.Contains(t, res.Template.Reason, "title")
			}
			assert.True(t, f.get(t, "plain", "en").Usable(), "other templates are untouched")
			assert.Equal(t, 1.0, testutil.ToFloat64(f.r.marked.WithLabelValues(strconv.Itoa(tt.code))))

			// Meta's listing says it is fine: the next sync makes it usable.
			_, err = f.r.Sync(ctx)
			require.NoError(t, err)
			assert.True(t, f.get(t, "order_update", "en_US").Usable())
		})
	}

	t.Run("a status webhook makes a flagged template usable", func(t *testing.T) {
		f := newFixture(t, Options{})
		ctx := t.Context()
		f.meta.set(nil, "plain")
		_, err := f.r.Sync(ctx)
		require.NoError(t, err)
		require.NoError(t, f.r.TemplateFailed(ctx, "100000000000001", "plain", "en", actors.WhatsAppError{Code: ErrCodePaused}))
		require.False(t, f.get(t, "plain", "en").Usable())
		require.NoError(t, f.r.ApplyTemplateEvent(ctx, actors.TemplateEvent{BusinessAccountID: testWABA, Field: actors.FieldTemplateStatus,
			Name: "plain", Language: "en", Event: "APPROVED"}))
		got := f.get(t, "plain", "en")
		assert.True(t, got.Usable())
		assert.Zero(t, got.FailedCode)
	})
	t.Run("unknown templates, no code and store failures", func(t *testing.T) {
		f := newFixture(t, Options{})
		ctx := t.Context()
		f.meta.set(nil, "plain")
		_, err := f.r.Sync(ctx)
		require.NoError(t, err)
		require.NoError(t, f.r.TemplateFailed(ctx, "1", "nope", "en", actors.WhatsAppError{Code: ErrCodePaused}))
		require.NoError(t, f.r.TemplateFailed(ctx, "1", "plain", "en", actors.WhatsAppError{}))
		assert.True(t, f.get(t, "plain", "en").Usable(), "no code marks nothing")
		f.store.fail = true
		require.ErrorIs(t, f.r.TemplateFailed(ctx, "1", "plain", "en", actors.WhatsAppError{Code: ErrCodePaused}), actors.ErrUnavailable)
		var none *Registry
		require.NoError(t, none.TemplateFailed(ctx, "1", "plain", "en", actors.WhatsAppError{Code: ErrCodePaused}), "no registry records nothing")
	})
}

func TestRunSyncsAtStartOnRequestAndPeriodically(t *testing.T) {
	f := newFixture(t, Options{MinGap: 10 * time.Millisecond})
	f.meta.set(errors.New("not yet"))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	// The first sync fails; the retry (after a second) succeeds.
	require.Eventually(t, func() bool { return f.meta.callCount() >= 1 }, 5*time.Second, 5*time.Millisecond)
	f.meta.set(nil, "plain")
	require.Eventually(t, func() bool {
		res, err := f.r.Resolve(t.Context(), "1", "plain", "en")
		return err == nil && res.Found
	}, 5*time.Second, 10*time.Millisecond, "the retry syncs")

	// A webhook asks for a sync.
	calls := f.meta.callCount()
	f.meta.set(nil, "plain", "order_update")
	f.r.RequestSync()
	require.Eventually(t, func() bool {
		res, err := f.r.Resolve(t.Context(), "1", "order_update", "en_US")
		return err == nil && res.Found
	}, 5*time.Second, 10*time.Millisecond, "the requested sync ran")
	assert.Greater(t, f.meta.callCount(), calls)
}

func TestRunSyncsEveryInterval(t *testing.T) {
	f := newFixture(t, Options{Interval: 20 * time.Millisecond})
	f.meta.set(nil, "plain")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx) }()
	require.Eventually(t, func() bool { return f.meta.callCount() >= 3 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}
