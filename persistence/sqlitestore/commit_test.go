package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// insertUserJob is a committer job writing one user row.
func insertUserJob(id string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, qInsertUser, id, id+"@example.com", id+"@example.com", id, string(actors.RoleAgent), "h", "", false, 0, 1, 1)
		return mapErr(err)
	}
}

func userExists(t *testing.T, s *Store, id string) bool {
	t.Helper()
	_, err := s.UserByID(context.Background(), id)
	if errors.Is(err, actors.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

// batchOf holds the committer with a job that waits for release, then
// submits jobs one after the other so that they queue in order behind it,
// releases, and returns each job's answer. The queued jobs share one batch.
func batchOf(t *testing.T, s *Store, ctxs []context.Context, jobs ...func(context.Context, *sql.Tx) error) []error {
	t.Helper()
	release := make(chan struct{})
	holding := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		assert.NoError(t, s.wc.do(context.Background(), func(context.Context, *sql.Tx) error {
			close(holding)
			<-release
			return nil
		}))
	}()
	<-holding
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		ctx := context.Background()
		if ctxs != nil && ctxs[i] != nil {
			ctx = ctxs[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.wc.do(ctx, j)
		}()
		require.Eventually(t, func() bool { return len(s.wc.jobs) == i+1 }, 5*time.Second, time.Millisecond)
	}
	close(release)
	wg.Wait()
	return errs
}

func TestCommitterFailingJobLeavesTheOthersOfItsBatch(t *testing.T) {
	s := openTemp(t)
	require.NoError(t, s.wc.do(t.Context(), insertUserJob("taken")))

	errs := batchOf(t, s, nil, insertUserJob("a"), insertUserJob("taken"), insertUserJob("b"))
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], actors.ErrDuplicate)
	require.NoError(t, errs[2])
	assert.True(t, userExists(t, s, "a"))
	assert.True(t, userExists(t, s, "b"))
}

func TestCommitterJobWritesAreAllOrNothing(t *testing.T) {
	s := openTemp(t)
	// The second job writes one row, then fails: its row must not stay.
	half := func(ctx context.Context, tx *sql.Tx) error {
		if err := insertUserJob("half")(ctx, tx); err != nil {
			return err
		}
		return errors.New("changed my mind")
	}
	errs := batchOf(t, s, nil, insertUserJob("a"), half, insertUserJob("b"))
	require.NoError(t, errs[0])
	require.EqualError(t, errs[1], "changed my mind")
	require.NoError(t, errs[2])
	assert.False(t, userExists(t, s, "half"))
	assert.True(t, userExists(t, s, "a"))
	assert.True(t, userExists(t, s, "b"))
}

func TestCommitterPanickingJobFailsAlone(t *testing.T) {
	s := openTemp(t)
	boom := func(ctx context.Context, tx *sql.Tx) error {
		if err := insertUserJob("boom")(ctx, tx); err != nil {
			return err
		}
		panic("bug")
	}
	errs := batchOf(t, s, nil, insertUserJob("a"), boom)
	require.NoError(t, errs[0])
	require.ErrorContains(t, errs[1], "write panicked: bug")
	assert.False(t, userExists(t, s, "boom"))
	assert.True(t, userExists(t, s, "a"))
	// Alone in its batch, too.
	require.ErrorContains(t, s.wc.do(t.Context(), boom), "write panicked")
	assert.False(t, userExists(t, s, "boom"))
}

// When SQLite rolls the whole transaction back by itself (here a job does
// it), jobs that had succeeded in the batch are not committed and must hear
// so, and the committer goes on.
func TestCommitterLostTransactionFailsTheWholeBatch(t *testing.T) {
	s := openTemp(t)
	lose := func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "ROLLBACK"); err != nil {
			return err
		}
		return errors.New("disk I/O error")
	}
	errs := batchOf(t, s, nil, insertUserJob("a"), lose, insertUserJob("b"))
	for i, err := range errs {
		require.Error(t, err, "job %d", i)
	}
	assert.False(t, userExists(t, s, "a"))
	assert.False(t, userExists(t, s, "b"))

	require.NoError(t, s.wc.do(t.Context(), insertUserJob("after")))
	assert.True(t, userExists(t, s, "after"))
}

func TestCommitterSkipsAJobWhoseCallerGaveUpBeforeItsTurn(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	gone := func(ctx context.Context, tx *sql.Tx) error {
		cancel() // the caller gives up while the batch before it runs
		return insertUserJob("a")(ctx, tx)
	}
	errs := batchOf(t, s, []context.Context{nil, ctx, nil}, gone, insertUserJob("skipped"), insertUserJob("b"))
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], context.Canceled)
	require.NoError(t, errs[2])
	assert.False(t, userExists(t, s, "skipped"))
	assert.True(t, userExists(t, s, "a"))
	assert.True(t, userExists(t, s, "b"))
}

func TestCommitterAfterCloseRefusesWrites(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir()+"/engine.db", nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	err = s.CreateUser(t.Context(), actors.User{ID: "late", Email: "late@example.com", Role: actors.RoleAgent})
	require.ErrorIs(t, err, errStoreClosed)
}

// Many concurrent writers are all answered, each with its own outcome, and
// share commits.
func TestCommitterConcurrentWriters(t *testing.T) {
	s := openTemp(t)
	const n = 400
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every 10th writes an id another writer also writes.
			id := fmt.Sprintf("u%03d", i)
			if i%10 == 9 {
				id = fmt.Sprintf("u%03d", i-1)
			}
			errs[i] = s.wc.do(t.Context(), insertUserJob(id))
		}()
	}
	wg.Wait()
	dups := 0
	for i, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, actors.ErrDuplicate, "writer %d", i)
			dups++
		}
	}
	assert.Equal(t, n/10, dups)
	users, err := s.ListUsers(t.Context(), "")
	require.NoError(t, err)
	assert.Len(t, users, n-n/10)
}

// AppendMessageAndSave is one transaction here: a stale conversation leaves
// no message behind.
func TestAppendMessageAndSaveIsAllOrNothing(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := actors.Conversation{ID: "c1", CustomerID: "cu1", PhoneNumberID: "pn1", WaID: "491511", State: actors.StateNew,
		Version: 1, CreatedAt: at, UpdatedAt: at}
	require.NoError(t, s.CreateConversation(ctx, c))
	m := actors.Message{ID: "m1", ConversationID: "c1", Direction: actors.DirectionInbound, Type: "text", Text: "hi",
		Status: "received", WaMessageID: "wamid.1", Seq: 1, CreatedAt: at, UpdatedAt: at}
	stale := c // version 1 again: not the next
	require.ErrorIs(t, s.AppendMessageAndSave(ctx, m, stale), actors.ErrConflict)
	_, err := s.MessageByWaID(ctx, "wamid.1")
	require.ErrorIs(t, err, actors.ErrNotFound, "the message of a rejected save is not stored")

	next := c
	next.Version, next.Seq = 2, 1
	require.NoError(t, s.AppendMessageAndSave(ctx, m, next))
	_, err = s.MessageByWaID(ctx, "wamid.1")
	require.NoError(t, err)
}
