package template

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Backoff of Run after a failed sync.
const (
	firstRetry = time.Second
	maxRetry   = 5 * time.Minute
)

// SyncResult is what one sync stored.
type SyncResult struct {
	BusinessAccountID string         `json:"businessAccountId"`
	Total             int            `json:"total"`
	ByStatus          map[string]int `json:"byStatus"`
	SyncedAt          time.Time      `json:"syncedAt"`
}

// Sync lists the account's templates at Meta and makes them the registry's
// whole content in one replacement (a failure leaves it as it was). Syncs
// never overlap: one started meanwhile waits for this one. A sync replaces
// what webhooks and failed sends marked with Meta's word on each template.
func (r *Registry) Sync(ctx context.Context) (SyncResult, error) {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	started := r.now()
	ts, err := r.lister.MessageTemplates(ctx, r.waba)
	if err == nil {
		ts = dedupe(ts, r.waba)
		err = r.store.ReplaceTemplates(ctx, r.waba, ts, r.now().UTC().Truncate(time.Millisecond))
	}
	if err != nil {
		r.syncs.WithLabelValues("error").Inc()
		return SyncResult{}, fmt.Errorf("sync templates of %s: %w", r.waba, err)
	}
	r.syncs.WithLabelValues("ok").Inc()
	res := SyncResult{BusinessAccountID: r.waba, Total: len(ts), ByStatus: map[string]int{}, SyncedAt: r.now().UTC()}
	for _, t := range ts {
		res.ByStatus[t.Status]++
	}
	r.log.Info("templates synced", zap.Int("count", len(ts)), zap.Int("approved", res.ByStatus[actors.TemplateApproved]),
		zap.Duration("duration", r.now().Sub(started)))
	return res, nil
}

// dedupe keeps the first template of each (name, language) with both set,
// as the account's (a listing should never repeat one, but the store's key
// must be unique).
func dedupe(ts []actors.Template, waba string) []actors.Template {
	seen := make(map[string]bool, len(ts))
	out := ts[:0]
	for _, t := range ts {
		t.Language = normalizeLanguage(t.Language)
		k := t.Name + "\x00" + t.Language
		if t.Name == "" || t.Language == "" || seen[k] {
			continue
		}
		seen[k] = true
		t.BusinessAccountID = waba
		t.Status = strings.ToUpper(t.Status)
		out = append(out, t)
	}
	return out
}

// RequestSync asks Run for a sync soon (no sooner than MinGap after the
// last one); requests made before it starts are one request. It never
// blocks.
func (r *Registry) RequestSync() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run syncs at once, then every Interval and whenever RequestSync asks,
// until ctx ends. A failed sync is logged and retried with a backoff from
// 1s to 5m; the registry keeps its last content meanwhile.
func (r *Registry) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	backoff := time.Duration(0)
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-r.wake:
			if gap := r.minGap - r.now().Sub(last); !last.IsZero() && gap > 0 {
				timer.Reset(gap)
				continue
			}
		}
		timer.Stop() // no stale tick remains (Go 1.23 timers)
		last = r.now()
		if _, err := r.Sync(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			backoff = min(max(2*backoff, firstRetry), maxRetry)
			r.log.Error("template sync failed; the registry keeps its last content", zap.Duration("retry_in", backoff), zap.Error(err))
			timer.Reset(backoff)
			continue
		}
		backoff = 0
		if r.interval > 0 {
			timer.Reset(r.interval)
		}
	}
}
