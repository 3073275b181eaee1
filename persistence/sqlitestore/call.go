package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wacc/engine/actors"
)

var _ actors.CallStore = (*Store)(nil)

const callCols = `id, customer_id, agent_id, conversation_id, from_phone, to_phone, caller_id, record, state, status,
	exotel_sid, duration_sec, recording_url, reason, time_limit, time_out, deadline_at, next_lookup_at,
	lookup_attempts, connect_started_at, last_event_at, answered_at, ended_at, started_at, version,
	created_at, updated_at`

// SQL of the call store. A call is read and written by its primary key;
// the partial unique index calls_live_agent holds one row per agent with a
// live call (state != 'closed'), so "one live call per agent" is checked by
// SQLite in the same statement that writes the call. Queries on live calls
// repeat the index's condition so the planner may use it.
const (
	// qInsertCall's arguments are callArgs, version being set to 1.
	qInsertCall = `INSERT INTO calls (` + callCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qCallByID = `SELECT ` + callCols + ` FROM calls WHERE id = ?`
	// qSaveCall is the version check and the write in one statement; its
	// arguments are callArgs rotated (every column but id, then id) and the
	// expected stored version.
	qSaveCall = `UPDATE calls SET customer_id = ?, agent_id = ?, conversation_id = ?, from_phone = ?, to_phone = ?,
		caller_id = ?, record = ?, state = ?, status = ?, exotel_sid = ?, duration_sec = ?, recording_url = ?,
		reason = ?, time_limit = ?, time_out = ?, deadline_at = ?, next_lookup_at = ?, lookup_attempts = ?,
		connect_started_at = ?, last_event_at = ?, answered_at = ?, ended_at = ?, started_at = ?, version = ?,
		created_at = ?, updated_at = ?
		WHERE id = ? AND version = ?`
	qCallExists      = `SELECT 1 FROM calls WHERE id = ?`
	qCallByExotelSid = `SELECT ` + callCols + ` FROM calls WHERE exotel_sid = ? AND exotel_sid != ''`
	qLiveCalls       = `SELECT ` + callCols + ` FROM calls INDEXED BY calls_live_started
		WHERE state != 'closed' ORDER BY started_at, id`
	qLiveCallOfAgent = `SELECT ` + callCols + ` FROM calls INDEXED BY calls_live_agent
		WHERE agent_id = ? AND state != 'closed'`
	// qLiveCallIDOfAgent tells, after a write failed on a unique index,
	// whether another live call of the agent took it.
	qLiveCallIDOfAgent = `SELECT id FROM calls INDEXED BY calls_live_agent
		WHERE agent_id = ? AND state != 'closed' AND id != ?`
	// Newest first, keyset paged on (started_at, id); the first page has no
	// cursor.
	qCallsOfCustomer = `SELECT ` + callCols + ` FROM calls WHERE customer_id = ?
		ORDER BY started_at DESC, id DESC LIMIT ?`
	qCallsOfCustomerAfter = `SELECT ` + callCols + ` FROM calls WHERE customer_id = ? AND (started_at, id) < (?, ?)
		ORDER BY started_at DESC, id DESC LIMIT ?`
	// The same for a conversation, through the partial index
	// calls_conversation_started (so "" matches no call).
	qCallsOfConversation = `SELECT ` + callCols + ` FROM calls INDEXED BY calls_conversation_started
		WHERE conversation_id = ? AND conversation_id != ''
		ORDER BY started_at DESC, id DESC LIMIT ?`
	qCallsOfConversationAfter = `SELECT ` + callCols + ` FROM calls INDEXED BY calls_conversation_started
		WHERE conversation_id = ? AND conversation_id != '' AND (started_at, id) < (?, ?)
		ORDER BY started_at DESC, id DESC LIMIT ?`
)

// callArgs are the arguments of qInsertCall for c.
func callArgs(c actors.Call) []any {
	return []any{c.ID, c.CustomerID, c.AgentID, c.ConversationID, c.From, c.To, c.CallerID, c.Record, c.State,
		c.Status, c.ExotelSid, c.DurationSec, c.RecordingURL, c.Reason, c.TimeLimit, c.TimeOut,
		nullMillis(c.DeadlineAt), nullMillis(c.NextLookupAt), c.LookupAttempts, nullMillis(c.ConnectStartedAt),
		nullMillis(c.LastEventAt), nullMillis(c.AnsweredAt), nullMillis(c.EndedAt), millis(c.StartedAt),
		c.Version, millis(c.CreatedAt), millis(c.UpdatedAt)}
}

func scanCall(row interface{ Scan(...any) error }) (actors.Call, error) {
	var c actors.Call
	var deadline, nextLookup, connectStarted, lastEvent, answered, ended sql.NullInt64
	var started, created, updated int64
	if err := row.Scan(&c.ID, &c.CustomerID, &c.AgentID, &c.ConversationID, &c.From, &c.To, &c.CallerID, &c.Record,
		&c.State, &c.Status, &c.ExotelSid, &c.DurationSec, &c.RecordingURL, &c.Reason, &c.TimeLimit, &c.TimeOut,
		&deadline, &nextLookup, &c.LookupAttempts, &connectStarted, &lastEvent, &answered, &ended, &started,
		&c.Version, &created, &updated); err != nil {
		return actors.Call{}, mapErr(err)
	}
	c.DeadlineAt, c.NextLookupAt = fromNullMillis(deadline), fromNullMillis(nextLookup)
	c.ConnectStartedAt, c.LastEventAt = fromNullMillis(connectStarted), fromNullMillis(lastEvent)
	c.AnsweredAt, c.EndedAt = fromNullMillis(answered), fromNullMillis(ended)
	c.StartedAt, c.CreatedAt, c.UpdatedAt = fromMillis(started), fromMillis(created), fromMillis(updated)
	return c, nil
}

func scanCalls(rows *sql.Rows) ([]actors.Call, error) {
	defer rows.Close()
	out := []actors.Call{}
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}

// CreateCall inserts c with Version 1: one INSERT, in which SQLite checks
// the id (actors.ErrDuplicate), the Exotel CallSid (actors.ErrDuplicate) and,
// for a live call, that its agent has no other live call
// (actors.ErrConflict).
func (s *Store) CreateCall(ctx context.Context, c actors.Call) error {
	c.Version = 1
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, s.st.insertCall).ExecContext(ctx, callArgs(c)...)
		return callWriteErr(ctx, tx, c, err)
	})
	if err != nil {
		return fmt.Errorf("create call %s: %w", c.ID, err)
	}
	return nil
}

// callWriteErr maps the error of a write of c inside tx: a unique index
// refusing a live call whose agent has another live call is
// actors.ErrConflict; any other unique or primary-key violation (the id,
// the CallSid) is actors.ErrDuplicate.
func callWriteErr(ctx context.Context, tx *sql.Tx, c actors.Call, err error) error {
	if code, _, ok := sqliteCode(err); !ok || code != codeConstraintUnique || !c.Live() {
		return mapErr(err)
	}
	var other string
	switch qerr := tx.QueryRowContext(ctx, qLiveCallIDOfAgent, c.AgentID, c.ID).Scan(&other); {
	case qerr == nil:
		return fmt.Errorf("agent %s has live call %s: %w", c.AgentID, other, actors.ErrConflict)
	case errors.Is(qerr, sql.ErrNoRows):
		return mapErr(err)
	default:
		return fmt.Errorf("%w (finding the live call of agent %s: %w)", mapErr(err), c.AgentID, mapErr(qerr))
	}
}

// Call returns the call or actors.ErrNotFound.
func (s *Store) Call(ctx context.Context, id string) (actors.Call, error) {
	c, err := scanCall(s.st.callByID.QueryRowContext(ctx, id))
	if err != nil {
		return actors.Call{}, fmt.Errorf("call %s: %w", id, err)
	}
	return c, nil
}

// CallByExotelSid returns the call Exotel knows as sid, or
// actors.ErrNotFound (always for "").
func (s *Store) CallByExotelSid(ctx context.Context, sid string) (actors.Call, error) {
	c, err := scanCall(s.r.QueryRowContext(ctx, qCallByExotelSid, sid))
	if err != nil {
		return actors.Call{}, fmt.Errorf("call by exotel sid %s: %w", sid, err)
	}
	return c, nil
}

// SaveCall stores c if the stored Version is c.Version-1, in one
// conditional UPDATE: actors.ErrConflict (nothing changed) on any other
// stored version or when c is live and its agent has another live call,
// actors.ErrNotFound when absent. A save closing the call takes it out of
// calls_live_agent in the same statement, freeing the agent.
func (s *Store) SaveCall(ctx context.Context, c actors.Call) error {
	args := callArgs(c)
	args = append(append(slices.Clone(args[1:]), args[0]), c.Version-1)
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.st.saveCall).ExecContext(ctx, args...)
		if err != nil {
			return callWriteErr(ctx, tx, c, err)
		}
		if ok, err := updated(ctx, tx, res, nil, qCallExists, c.ID); ok || err != nil {
			return err
		}
		return fmt.Errorf("version %d is not the next: %w", c.Version, actors.ErrConflict)
	})
	if err != nil {
		return fmt.Errorf("save call %s: %w", c.ID, err)
	}
	return nil
}

// LiveCalls returns every call not closed, oldest StartedAt first (then by
// id), walking the partial index calls_live_started.
func (s *Store) LiveCalls(ctx context.Context) ([]actors.Call, error) {
	rows, err := s.r.QueryContext(ctx, qLiveCalls)
	if err != nil {
		return nil, fmt.Errorf("live calls: %w", mapErr(err))
	}
	out, err := scanCalls(rows)
	if err != nil {
		return nil, fmt.Errorf("live calls: %w", err)
	}
	return out, nil
}

// LiveCallOfAgent returns the agent's live call, or actors.ErrNotFound.
func (s *Store) LiveCallOfAgent(ctx context.Context, agentID string) (actors.Call, error) {
	c, err := scanCall(s.r.QueryRowContext(ctx, qLiveCallOfAgent, agentID))
	if err != nil {
		return actors.Call{}, fmt.Errorf("live call of agent %s: %w", agentID, err)
	}
	return c, nil
}

// CallsOfCustomer returns up to limit calls of the customer, newest first
// (StartedAt, then ID, descending), after the cursor (afterStartedAt,
// afterID); a zero afterStartedAt asks for the first page. A limit below 1
// gives an empty page.
func (s *Store) CallsOfCustomer(ctx context.Context, customerID string, afterStartedAt time.Time, afterID string, limit int) ([]actors.Call, error) {
	out, err := s.callsPage(ctx, qCallsOfCustomer, qCallsOfCustomerAfter, customerID, afterStartedAt, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("calls of customer %s: %w", customerID, err)
	}
	return out, nil
}

// CallsOfConversation returns up to limit calls started from the
// conversation, paged as CallsOfCustomer, walking the partial index
// calls_conversation_started; "" names no conversation (an empty page).
func (s *Store) CallsOfConversation(ctx context.Context, conversationID string, afterStartedAt time.Time, afterID string, limit int) ([]actors.Call, error) {
	out, err := s.callsPage(ctx, qCallsOfConversation, qCallsOfConversationAfter, conversationID, afterStartedAt, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("calls of conversation %s: %w", conversationID, err)
	}
	return out, nil
}

// callsPage runs first (key, limit) for the first page (a zero
// afterStartedAt) or after (key, afterStartedAt, afterID, limit) for a
// later one; a limit below 1 gives an empty page without a query.
func (s *Store) callsPage(ctx context.Context, first, after, key string, afterStartedAt time.Time, afterID string, limit int) ([]actors.Call, error) {
	if limit < 1 {
		return []actors.Call{}, nil
	}
	var rows *sql.Rows
	var err error
	if afterStartedAt.IsZero() {
		rows, err = s.r.QueryContext(ctx, first, key, limit)
	} else {
		rows, err = s.r.QueryContext(ctx, after, key, millis(afterStartedAt), afterID, limit)
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return scanCalls(rows)
}
