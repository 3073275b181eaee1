package template

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Store is where the registry keeps templates.
type Store interface {
	actors.TemplateStore
}

// Lister lists a business account's templates at Meta
// (whatsapp.Client.MessageTemplates).
type Lister interface {
	MessageTemplates(ctx context.Context, wabaID string) ([]actors.Template, error)
}

// Options configure a Registry.
type Options struct {
	Store  Store
	Lister Lister
	// BusinessAccountID is the WhatsApp Business Account whose templates
	// the registry keeps; every business number sends from it.
	BusinessAccountID string
	// Interval is the time between two periodic syncs; 0 syncs only at
	// start, on template webhooks and on demand.
	Interval time.Duration
	// MinGap is the least time between two syncs a webhook asks for
	// (a burst of webhooks makes one sync); default 5s.
	MinGap time.Duration
	Log    *zap.Logger
	// Registry receives the registry's metrics; nil registers none.
	Registry prometheus.Registerer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Registry is the engine's copy of one business account's message
// templates: synced from Meta (Run, Sync), kept current by template
// webhooks (ApplyTemplateEvent) and by the failures of sends
// (TemplateFailed), and asked before every template send (Resolve).
type Registry struct {
	store    Store
	lister   Lister
	waba     string
	interval time.Duration
	minGap   time.Duration
	log      *zap.Logger
	now      func() time.Time

	// syncMu serializes syncs: Run's and an admin's never overlap.
	syncMu sync.Mutex
	// wake asks Run for a sync (webhooks); it holds at most one request.
	wake chan struct{}

	syncs  *prometheus.CounterVec
	marked *prometheus.CounterVec
}

// New returns a registry; Run keeps it synced.
func New(o Options) *Registry {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinGap <= 0 {
		o.MinGap = 5 * time.Second
	}
	r := &Registry{store: o.Store, lister: o.Lister, waba: o.BusinessAccountID, interval: o.Interval, minGap: o.MinGap, now: o.Now,
		log:  o.Log.With(zap.String("component", "templates"), zap.String("business_account_id", o.BusinessAccountID)),
		wake: make(chan struct{}, 1),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "engine_template_syncs_total",
			Help: "Syncs of the template registry from Meta, by outcome (ok, error)."}, []string{"outcome"}),
		marked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "engine_templates_marked_unusable_total",
			Help: "Templates marked unusable by a send's failure, by Cloud API error code."}, []string{"code"}),
	}
	if o.Registry != nil {
		o.Registry.MustRegister(r.syncs, r.marked)
	}
	return r
}

// BusinessAccountID is the account whose templates the registry keeps.
func (r *Registry) BusinessAccountID() string { return r.waba }

// Resolution is what the registry knows of one template a send names.
type Resolution struct {
	// Synced is false while the account was never synced: the registry
	// cannot tell, and the send is not checked.
	Synced bool
	// Found says the template exists in the language asked; Template is
	// then it.
	Found    bool
	Template actors.Template
	// Languages are the languages the template exists in, when not in the
	// one asked (none: no template of that name).
	Languages []string
}

// Resolve looks up the template name in language that a send from the
// business number phoneNumberID names.
func (r *Registry) Resolve(ctx context.Context, phoneNumberID, name, language string) (Resolution, error) {
	t, err := r.store.Template(ctx, r.waba, name, normalizeLanguage(language))
	switch {
	case err == nil:
		return Resolution{Synced: true, Found: true, Template: t}, nil
	case !errors.Is(err, actors.ErrNotFound):
		return Resolution{}, fmt.Errorf("resolve template %s/%s for %s: %w", name, language, phoneNumberID, err)
	}
	if _, err := r.store.TemplateSync(ctx, r.waba); errors.Is(err, actors.ErrNotFound) {
		return Resolution{}, nil
	} else if err != nil {
		return Resolution{}, fmt.Errorf("resolve template %s/%s for %s: %w", name, language, phoneNumberID, err)
	}
	others, _, err := r.store.ListTemplates(ctx, actors.TemplateFilter{BusinessAccountID: r.waba, Name: name, Page: 1, Limit: 100})
	if err != nil {
		return Resolution{}, fmt.Errorf("resolve template %s/%s for %s: %w", name, language, phoneNumberID, err)
	}
	res := Resolution{Synced: true}
	for _, o := range others {
		res.Languages = append(res.Languages, o.Language)
	}
	sort.Strings(res.Languages)
	return res, nil
}

// List returns one page of the account's templates (f's account is the
// registry's) and the record of its last sync (ErrNotFound inside is
// reported as a zero TemplateSync).
func (r *Registry) List(ctx context.Context, f actors.TemplateFilter) ([]actors.Template, int, actors.TemplateSync, error) {
	f.BusinessAccountID = r.waba
	ts, total, err := r.store.ListTemplates(ctx, f)
	if err != nil {
		return nil, 0, actors.TemplateSync{}, err
	}
	sync, err := r.store.TemplateSync(ctx, r.waba)
	if err != nil && !errors.Is(err, actors.ErrNotFound) {
		return nil, 0, actors.TemplateSync{}, err
	}
	if err != nil {
		sync = actors.TemplateSync{BusinessAccountID: r.waba}
	}
	return ts, total, sync, nil
}

// normalizeLanguage writes Meta's en-US as en_US, the form templates are
// keyed by.
func normalizeLanguage(lang string) string {
	return strings.ReplaceAll(strings.TrimSpace(lang), "-", "_")
}
