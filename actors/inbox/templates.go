package inbox

import (
	"context"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// TemplateEvents applies template webhooks (the template registry).
type TemplateEvents interface {
	ApplyTemplateEvent(ctx context.Context, ev actors.TemplateEvent) error
}

// applyTemplates applies the template events of entry e and reports
// whether all were applied; the entry is retried otherwise.
func (d *Dispatcher) applyTemplates(ctx context.Context, e actors.InboxEntry, evs []actors.TemplateEvent) bool {
	if d.templates == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	for _, ev := range evs {
		if err := d.templates.ApplyTemplateEvent(ctx, ev); err != nil {
			d.log.Warn("apply template webhook; the entry will be retried", zap.String("entry", e.ID), zap.String("template", ev.Name), zap.Error(err))
			return false
		}
	}
	return true
}
