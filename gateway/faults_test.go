package gateway_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway"
	"github.com/wacc/engine/persistence/sqlitestore"
)

var errEOF = io.EOF

// flakyAppend fails audit appends while failing is set, as an unreachable
// database would, and counts attempts.
type flakyAppend struct {
	failing  atomic.Bool
	attempts atomic.Int64
}

type flakyStore struct {
	*sqlitestore.Store
	f *flakyAppend
}

func (f *flakyAppend) wrap(s *sqlitestore.Store) gateway.Store { return flakyStore{s, f} }

func (s flakyStore) AppendAudit(ctx context.Context, recs []actors.AuditRecord) error {
	s.f.attempts.Add(1)
	if s.f.failing.Load() {
		return errors.Join(actors.ErrUnavailable, errors.New("injected outage"))
	}
	return s.Store.AppendAudit(ctx, recs)
}
