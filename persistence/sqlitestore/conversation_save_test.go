package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// indexesWritten returns the indexes of conversations the program of query
// opens for writing, as SQLite compiled it (EXPLAIN's OpenWrite on an
// index's root page).
func indexesWritten(t *testing.T, db *sql.DB, query string, nargs int) []string {
	t.Helper()
	roots := map[int64]string{}
	rows, err := db.Query(`SELECT name, rootpage FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'conversations'`)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		var root int64
		require.NoError(t, rows.Scan(&name, &root))
		roots[root] = name
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())

	rows, err = db.Query("EXPLAIN "+query, make([]any, nargs)...)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var written []string
	for rows.Next() {
		var addr, p1, p2, p3, p5 int64
		var opcode string
		var p4, comment sql.NullString
		require.NoError(t, rows.Scan(&addr, &opcode, &p1, &p2, &p3, &p4, &p5, &comment))
		if name, ok := roots[p2]; ok && opcode == "OpenWrite" {
			written = append(written, name)
		}
	}
	require.NoError(t, rows.Err())
	slices.Sort(written)
	return written
}

// TestSaveConversationWritesFewerIndexEntries: the full save rewrites the
// entries of every index of conversations; the save of the message
// columns leaves conversations_open_pair (business number, customer,
// state) alone. The other five hold updated_at or next_timer_at, which
// every message moves.
func TestSaveConversationWritesFewerIndexEntries(t *testing.T) {
	s := openTemp(t)
	all := []string{"conversations_assignee", "conversations_customer", "conversations_next_timer",
		"conversations_open_pair", "conversations_state", "conversations_updated", "sqlite_autoindex_conversations_1"}
	full := indexesWritten(t, s.r, qSaveConversation, 18)
	hot := indexesWritten(t, s.r, qSaveConversationHot, 18)
	t.Logf("indexes written: full save %v, message columns %v", full, hot)
	// The primary key's index is opened to find the row, not rewritten
	// (id is not set); the others are rewritten when opened.
	assert.Equal(t, all, full)
	assert.Equal(t, slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == "conversations_open_pair" }), hot)
}

// TestSaveConversationOfMessageColumnsLeavesTheRest: a save that moves only
// the message columns takes the narrow write and leaves every other column
// as stored; a save that changes anything else (state, assignee) writes the
// whole row; a stale version or a missing conversation is refused either
// way, changing nothing.
func TestSaveConversationOfMessageColumnsLeavesTheRest(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	c := actors.Conversation{
		ID: "c1", CustomerID: "cu1", PhoneNumberID: "pn1", WaID: "4915100000001", State: actors.StateNew, AssigneeID: "agent1",
		LastInboundAt: at, ExpiresAt: at.Add(24 * time.Hour), NextTimerAt: at.Add(23 * time.Hour),
		Unread: 1, Seq: 1, Version: 1, CreatedAt: at, UpdatedAt: at,
	}
	require.NoError(t, s.CreateConversation(ctx, c))
	other := c
	other.ID, other.WaID, other.CustomerID = "c2", "4915100000002", "cu2"
	require.NoError(t, s.CreateConversation(ctx, other))
	stored := func(id string) actors.Conversation {
		t.Helper()
		got, err := s.Conversation(ctx, id)
		require.NoError(t, err)
		return got
	}

	// An inbound message: message columns only.
	next := c
	next.Version, next.Seq, next.Unread = 2, 2, 2
	next.LastInboundAt = at.Add(time.Minute)
	next.ExpiresAt, next.NextTimerAt = next.LastInboundAt.Add(24*time.Hour), next.LastInboundAt.Add(23*time.Hour)
	next.UpdatedAt = next.LastInboundAt
	require.NoError(t, s.AppendMessageAndSave(ctx, actors.Message{ID: "m2", ConversationID: "c1", Direction: actors.DirectionInbound,
		Type: "text", Text: "hi", Status: "received", WaMessageID: "wamid.2", Seq: 2, CreatedAt: next.UpdatedAt, UpdatedAt: next.UpdatedAt}, next))
	assert.Equal(t, next, stored("c1"))
	assert.Equal(t, other, stored("c2"), "the other conversation is untouched")

	// An outbound message and a read: still only message columns.
	next.Version, next.Seq, next.LastOutboundAt, next.UpdatedAt = 3, 3, at.Add(2*time.Minute), at.Add(2*time.Minute)
	require.NoError(t, s.SaveConversation(ctx, next))
	next.Version, next.Unread, next.WarnedAt, next.UpdatedAt = 4, 0, at.Add(3*time.Minute), at.Add(3*time.Minute)
	require.NoError(t, s.SaveConversation(ctx, next))
	assert.Equal(t, next, stored("c1"))

	// A state change and a reassignment: the whole row.
	next.Version, next.State, next.AssigneeID, next.UpdatedAt = 5, actors.StateActive, "agent2", at.Add(4*time.Minute)
	require.NoError(t, s.SaveConversation(ctx, next))
	assert.Equal(t, next, stored("c1"))
	next.Version, next.State, next.ClosedAt, next.NextTimerAt, next.UpdatedAt = 6, actors.StateClosed, at.Add(5*time.Minute), time.Time{}, at.Add(5*time.Minute)
	require.NoError(t, s.SaveConversation(ctx, next))
	assert.Equal(t, next, stored("c1"))

	// Stale versions, with message columns only or with more, change
	// nothing; a missing conversation is not found.
	for _, tc := range []struct {
		name   string
		change func(c *actors.Conversation)
	}{
		{"message columns", func(c *actors.Conversation) { c.Unread++ }},
		{"state", func(c *actors.Conversation) { c.State = actors.StateActive }},
	} {
		for _, version := range []int64{next.Version, next.Version + 2} {
			stale := next
			stale.Version = version
			tc.change(&stale)
			require.ErrorIs(t, s.SaveConversation(ctx, stale), actors.ErrConflict, fmt.Sprintf("%s, version %d", tc.name, version))
			assert.Equal(t, next, stored("c1"))
		}
	}
	missing := next
	missing.ID, missing.Version = "absent", 2
	require.ErrorIs(t, s.SaveConversation(ctx, missing), actors.ErrNotFound)
}

// TestInboundCommitWritesFewerPages counts the WAL frames (pages) the
// commit of one inbound message writes (its message row and its
// conversation's save, as AppendMessageAndSave), over 2000 conversations:
// the save of the message columns dirties fewer pages than the whole-row
// UPDATE, whose conversations_open_pair entry is rewritten too. At low
// rates each message is its own commit, so its pages are written (and
// synced) one commit each.
func TestInboundCommitWritesFewerPages(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const convs = 2000
	cs := seedActiveConversations(t, s, convs, at)
	// frames commits one inbound message to conversation i with save and
	// returns the WAL frames the commit wrote.
	n := 0
	frames := func(i int, save func(ctx context.Context, tx *sql.Tx, c actors.Conversation) error) int {
		t.Helper()
		checkpoint(t, s, "TRUNCATE")
		n++
		c := &cs[i]
		c.Version++
		c.Unread++
		c.Seq++
		c.UpdatedAt = at.Add(time.Duration(n) * time.Second)
		c.LastInboundAt, c.ExpiresAt, c.NextTimerAt = c.UpdatedAt, c.UpdatedAt.Add(24*time.Hour), c.UpdatedAt.Add(23*time.Hour)
		args, err := s.messageArgs(actors.Message{ID: fmt.Sprintf("m%06d", n), ConversationID: c.ID, Direction: actors.DirectionInbound,
			Type: "text", Text: "where is my order?", Status: "received", WaMessageID: fmt.Sprintf("wamid.%06d", n), Seq: c.Seq,
			CreatedAt: c.UpdatedAt, UpdatedAt: c.UpdatedAt})
		require.NoError(t, err)
		require.NoError(t, s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.StmtContext(ctx, s.st.insertMessage).ExecContext(ctx, args...); err != nil {
				return err
			}
			return save(ctx, tx, *c)
		}))
		// Checkpoints copy frames but only the next write restarts the log,
		// so its frame count is this commit's.
		return checkpoint(t, s, "PASSIVE")
	}
	var whole, columns int
	const commits = 50
	for k := range commits {
		i := (k * 37) % convs
		whole += frames(i, s.saveWholeConversationTx)
		columns += frames(i+1, s.saveConversationTx)
	}
	t.Logf("WAL frames per inbound message commit over %d conversations: whole row %.1f, message columns %.1f",
		convs, float64(whole)/commits, float64(columns)/commits)
	assert.Less(t, columns, whole)
}

// checkpoint runs a checkpoint of mode on the writer and returns the WAL's
// frame count. The store's own checkpointer may be running one at that
// moment (PASSIVE, which never restarts the log): SQLite then reports the
// checkpoint busy, and it is run again until it ran.
func checkpoint(t *testing.T, s *Store, mode string) int {
	t.Helper()
	for range 500 {
		var busy, logged, done int
		require.NoError(t, s.w.QueryRowContext(t.Context(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logged, &done))
		if busy == 0 && logged >= 0 {
			return logged
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("wal_checkpoint(%s) stayed busy", mode)
	return 0
}
