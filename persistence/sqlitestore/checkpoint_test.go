package sqlitestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return fi.Size()
}

// The writer never checkpoints (wal_autocheckpoint=0), so the database file
// grows only when the checkpointer copies the log back; Close leaves an
// empty log.
func TestCheckpointerCopiesTheLogBackAndCloseEmptiesIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine.db")
	s, err := Open(t.Context(), path, nil)
	require.NoError(t, err)
	before := fileSize(t, path)

	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := make([]actors.AuditRecord, 2000)
	for i := range recs {
		recs[i] = actors.AuditRecord{ID: fmt.Sprintf("a%05d", i), ActorID: "u1", Action: "login", Outcome: actors.OutcomeSuccess,
			Detail: strings.Repeat("x", 1000), At: at}
	}
	require.NoError(t, s.AppendAudit(context.Background(), recs))
	require.Greater(t, fileSize(t, path+"-wal"), int64(2_000_000), "the records are in the log")

	require.Eventually(t, func() bool { return fileSize(t, path) > before+2_000_000 }, 10*time.Second, 20*time.Millisecond,
		"the checkpointer copies the log into the database file")

	require.NoError(t, s.Close())
	assert.Zero(t, fileSize(t, path+"-wal"), "Close truncates the log")
	assert.Zero(t, fileSize(t, inboxPath(path)+"-wal"), "and the inbox database's")

	s2, err := Open(t.Context(), path, nil)
	require.NoError(t, err)
	defer s2.Close()
	got, total, err := s2.ListAudit(t.Context(), actors.AuditFilter{ActorID: "u1", Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, 2000, total)
	assert.Len(t, got, 1)
}

// An idle store runs no checkpoints: a tick whose log did not change since
// the tick before last costs a stat only. A write is checkpointed.
func TestCheckpointerSkipsAnUnchangedLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine.db")
	s, err := Open(t.Context(), path, nil)
	require.NoError(t, err)
	defer s.Close()
	cp := s.cps[0]
	// Settled: the runs stop growing once the log stopped changing.
	var settled int64
	require.Eventually(t, func() bool {
		n := cp.runs.Load()
		time.Sleep(checkpointIdle + checkpointEvery)
		settled = cp.runs.Load()
		return settled == n
	}, 20*time.Second, time.Millisecond, "no checkpoint while nothing is written")

	require.NoError(t, s.AppendAudit(t.Context(), []actors.AuditRecord{{ID: "a1", ActorID: "u1", Action: "login", Outcome: actors.OutcomeSuccess,
		At: time.Now().UTC()}}))
	require.Eventually(t, func() bool { return cp.runs.Load() > settled }, 10*time.Second, 10*time.Millisecond,
		"a write is checkpointed")
	got, total, err := s.ListAudit(t.Context(), actors.AuditFilter{ActorID: "u1", Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	assert.Len(t, got, 1)
}
