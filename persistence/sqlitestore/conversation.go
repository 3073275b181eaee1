package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

var _ actors.ConversationsStore = (*Store)(nil)

const conversationCols = `id, customer_id, phone_number_id, wa_id, state, assignee_id,
	last_inbound_at, last_outbound_at, expires_at, next_timer_at, warned_at,
	unread, seq, version, created_at, updated_at, closed_at`

// SQL the conversation methods run. ListConversations picks one variant per
// filter shape, each driven by the index that shape needs (see plan_test.go):
// a customer's conversations by conversations_customer with the other
// filters checked per row (a business number alone, which no endpoint asks
// for, by an ordered walk of conversations_updated), an assignee's (or the unassigned, assignee_id ”)
// by conversations_assignee, states alone by conversations_state, no filter
// by conversations_updated. One state is an equality, so the index hands
// rows over in list order and the page stops early; several states travel as
// one JSON array argument (the SQL stays constant whatever their number) and
// their matches are sorted, which is cheap for the open states the inbox
// views ask for.
const (
	qInsertConversation = `INSERT INTO conversations (` + conversationCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`
	qConversation     = `SELECT ` + conversationCols + ` FROM conversations WHERE id = ?`
	qOpenConversation = `SELECT ` + conversationCols + ` FROM conversations
		WHERE phone_number_id = ? AND wa_id = ? AND state != 'closed'`
	// qSaveConversation is the version check and the write in one statement;
	// the last two arguments are the new version and the expected stored one.
	qSaveConversation = `UPDATE conversations
		SET customer_id = ?, phone_number_id = ?, wa_id = ?, state = ?, assignee_id = ?,
		    last_inbound_at = ?, last_outbound_at = ?, expires_at = ?, next_timer_at = ?, warned_at = ?,
		    unread = ?, seq = ?, created_at = ?, updated_at = ?, closed_at = ?, version = ?
		WHERE id = ? AND version = ?`
	// qSaveConversationHot is the save of a conversation whose other
	// columns did not change (an inbound or outbound message, a read, a
	// timer): it writes only the columns that move with its messages and
	// applies only if the rest are as given (and the version is the
	// expected one). SQLite rewrites the index entries of an index only
	// when the UPDATE sets one of its columns, so this leaves
	// conversations_open_pair alone, which the full save rewrites every
	// time (see TestSaveConversationWritesFewerIndexEntries). Arguments:
	// the set columns, then id, the expected version, and the guards.
	qSaveConversationHot = `UPDATE conversations
		SET last_inbound_at = ?, last_outbound_at = ?, expires_at = ?, next_timer_at = ?, warned_at = ?,
		    unread = ?, seq = ?, updated_at = ?, version = ?
		WHERE id = ? AND version = ?
		  AND customer_id = ? AND phone_number_id = ? AND wa_id = ? AND state = ? AND assignee_id = ?
		  AND created_at = ? AND closed_at IS ?`
	qConversationExists = `SELECT 1 FROM conversations WHERE id = ?`

	conversationOrder = ` ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`
	inStates          = `state IN (SELECT value FROM json_each(?))`

	qListConversations  = `SELECT ` + conversationCols + ` FROM conversations` + conversationOrder
	qCountConversations = `SELECT count(*) FROM conversations`

	qListConversationsByStates  = `SELECT ` + conversationCols + ` FROM conversations WHERE ` + inStates + conversationOrder
	qCountConversationsByStates = `SELECT count(*) FROM conversations WHERE ` + inStates

	// One state: an ordered walk of the index, no sort.
	qListConversationsByState  = `SELECT ` + conversationCols + ` FROM conversations WHERE state = ?` + conversationOrder
	qCountConversationsByState = `SELECT count(*) FROM conversations WHERE state = ?`

	qListConversationsByAssigneeState = `SELECT ` + conversationCols + ` FROM conversations INDEXED BY conversations_assignee
		WHERE assignee_id = ? AND state = ?` + conversationOrder
	qCountConversationsByAssigneeState = `SELECT count(*) FROM conversations INDEXED BY conversations_assignee
		WHERE assignee_id = ? AND state = ?`

	qListConversationsByAssignee = `SELECT ` + conversationCols + ` FROM conversations INDEXED BY conversations_assignee
		WHERE assignee_id = ?` + conversationOrder
	qCountConversationsByAssignee = `SELECT count(*) FROM conversations INDEXED BY conversations_assignee
		WHERE assignee_id = ?`

	qListConversationsByAssigneeStates = `SELECT ` + conversationCols + ` FROM conversations INDEXED BY conversations_assignee
		WHERE assignee_id = ? AND ` + inStates + conversationOrder
	qCountConversationsByAssigneeStates = `SELECT count(*) FROM conversations INDEXED BY conversations_assignee
		WHERE assignee_id = ? AND ` + inStates

	// A customer has few conversations: walk them all through the index and
	// check the optional filters per row. Arguments: customer, hasStates,
	// states JSON, hasAssignee, assignee, business number (” for any),
	// business number again.
	customerFilter = ` WHERE customer_id = ?
		AND (? = 0 OR ` + inStates + `)
		AND (? = 0 OR assignee_id = ?)
		AND (? = '' OR phone_number_id = ?)`
	qListConversationsByCustomer = `SELECT ` + conversationCols + ` FROM conversations INDEXED BY conversations_customer` +
		customerFilter + conversationOrder
	qCountConversationsByCustomer = `SELECT count(*) FROM conversations INDEXED BY conversations_customer` + customerFilter

	// A business number without a customer: no endpoint asks for it, so no
	// index serves it (one would cost every conversation save); the list
	// walks conversations_updated in order and checks each row. Arguments:
	// business number, hasStates, states JSON, hasAssignee, assignee.
	numberFilter = ` WHERE phone_number_id = ?
		AND (? = 0 OR ` + inStates + `)
		AND (? = 0 OR assignee_id = ?)`
	qListConversationsByNumber = `SELECT ` + conversationCols + ` FROM conversations INDEXED BY conversations_updated` +
		numberFilter + conversationOrder
	qCountConversationsByNumber = `SELECT count(*) FROM conversations` + numberFilter

	// The terms "next_timer_at IS NOT NULL AND state != 'closed'" repeat the
	// partial index's condition so the planner may use it.
	qDueConversations = `SELECT ` + conversationCols + ` FROM conversations
		WHERE next_timer_at IS NOT NULL AND state != 'closed' AND next_timer_at <= ?
		ORDER BY next_timer_at, id LIMIT ?`
	qNextTimer = `SELECT min(next_timer_at) FROM conversations
		WHERE next_timer_at IS NOT NULL AND state != 'closed'`
	// Reads only the open states' entries of conversations_state (which
	// carries assignee_id for this), never the closed history.
	qCountOpenByAssignee = `SELECT assignee_id, count(*) FROM conversations INDEXED BY conversations_state
		WHERE state IN ('new', 'active') GROUP BY assignee_id`
)

func scanConversation(row interface{ Scan(...any) error }) (actors.Conversation, error) {
	var c actors.Conversation
	var lastIn, lastOut, expires, next, warned, closed sql.NullInt64
	var created, updated int64
	if err := row.Scan(&c.ID, &c.CustomerID, &c.PhoneNumberID, &c.WaID, &c.State, &c.AssigneeID,
		&lastIn, &lastOut, &expires, &next, &warned,
		&c.Unread, &c.Seq, &c.Version, &created, &updated, &closed); err != nil {
		return actors.Conversation{}, mapErr(err)
	}
	c.LastInboundAt, c.LastOutboundAt = fromNullMillis(lastIn), fromNullMillis(lastOut)
	c.ExpiresAt, c.NextTimerAt, c.WarnedAt = fromNullMillis(expires), fromNullMillis(next), fromNullMillis(warned)
	c.CreatedAt, c.UpdatedAt, c.ClosedAt = fromMillis(created), fromMillis(updated), fromNullMillis(closed)
	return c, nil
}

func scanConversations(rows *sql.Rows, capacity int) ([]actors.Conversation, error) {
	defer rows.Close()
	out := make([]actors.Conversation, 0, capacity)
	for rows.Next() {
		c, err := scanConversation(rows)
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

// CreateConversation inserts c with Version 1. ErrDuplicate when the id is
// taken or another conversation of the same (PhoneNumberID, WaID) is not
// closed. A fenced c (Epoch not 0) is inserted only while Epoch is its
// key's epoch, checked in the same committer job; else ErrFenced.
func (s *Store) CreateConversation(ctx context.Context, c actors.Conversation) error {
	if c.Epoch != 0 {
		err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if err := s.checkEpochTx(ctx, tx, c.PhoneNumberID, c.WaID, c.Epoch); err != nil {
				return err
			}
			_, err := tx.StmtContext(ctx, s.st.insertConversation).ExecContext(ctx, conversationInsertArgs(c)...)
			return mapErr(err)
		})
		if err != nil {
			return fmt.Errorf("create conversation %s: %w", c.ID, err)
		}
		return nil
	}
	if _, err := s.exec(ctx, s.st.insertConversation, "", conversationInsertArgs(c)...); err != nil {
		return fmt.Errorf("create conversation %s: %w", c.ID, err)
	}
	return nil
}

// conversationInsertArgs are the arguments of qInsertConversation for c.
func conversationInsertArgs(c actors.Conversation) []any {
	return []any{c.ID, c.CustomerID, c.PhoneNumberID, c.WaID, c.State, c.AssigneeID,
		nullMillis(c.LastInboundAt), nullMillis(c.LastOutboundAt), nullMillis(c.ExpiresAt),
		nullMillis(c.NextTimerAt), nullMillis(c.WarnedAt),
		c.Unread, c.Seq, millis(c.CreatedAt), millis(c.UpdatedAt), nullMillis(c.ClosedAt)}
}

// Conversation returns the conversation or ErrNotFound.
func (s *Store) Conversation(ctx context.Context, id string) (actors.Conversation, error) {
	c, err := scanConversation(s.r.QueryRowContext(ctx, qConversation, id))
	if err != nil {
		return actors.Conversation{}, fmt.Errorf("conversation %s: %w", id, err)
	}
	return c, nil
}

// OpenConversation returns the (phoneNumberID, waID) conversation that is not
// closed, or ErrNotFound.
func (s *Store) OpenConversation(ctx context.Context, phoneNumberID, waID string) (actors.Conversation, error) {
	c, err := scanConversation(s.st.openConversation.QueryRowContext(ctx, phoneNumberID, waID))
	if err != nil {
		// waID is a phone number; the error names the business number only.
		return actors.Conversation{}, fmt.Errorf("open conversation on %s: %w", phoneNumberID, err)
	}
	return c, nil
}

// SaveConversation stores c if the stored Version is c.Version-1, in one
// conditional UPDATE. ErrConflict (nothing changed) on any other stored
// version, ErrNotFound when absent, ErrDuplicate when the save would leave
// two open conversations of one (PhoneNumberID, WaID), ErrFenced (nothing
// changed, checked in the same committer job) when c.Epoch is set and is not
// its key's epoch.
func (s *Store) SaveConversation(ctx context.Context, c actors.Conversation) error {
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.checkEpochTx(ctx, tx, c.PhoneNumberID, c.WaID, c.Epoch); err != nil {
			return err
		}
		return s.saveConversationTx(ctx, tx, c)
	})
	if err != nil {
		return fmt.Errorf("save conversation %s: %w", c.ID, err)
	}
	return nil
}

// saveConversationTx is SaveConversation's write, in tx: the columns that
// move with messages only, when that is all that changed, else the whole
// row (a state change, an assignment, a close), which also tells a stale
// version or a missing conversation apart.
func (s *Store) saveConversationTx(ctx context.Context, tx *sql.Tx, c actors.Conversation) error {
	res, err := tx.StmtContext(ctx, s.st.saveConversationHot).ExecContext(ctx,
		nullMillis(c.LastInboundAt), nullMillis(c.LastOutboundAt), nullMillis(c.ExpiresAt),
		nullMillis(c.NextTimerAt), nullMillis(c.WarnedAt), c.Unread, c.Seq, millis(c.UpdatedAt), c.Version,
		c.ID, c.Version-1,
		c.CustomerID, c.PhoneNumberID, c.WaID, c.State, c.AssigneeID, millis(c.CreatedAt), nullMillis(c.ClosedAt))
	if err != nil {
		return mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return mapErr(err)
	}
	return s.saveWholeConversationTx(ctx, tx, c)
}

// saveWholeConversationTx writes every column of c, if the stored version
// is c.Version-1.
func (s *Store) saveWholeConversationTx(ctx context.Context, tx *sql.Tx, c actors.Conversation) error {
	res, err := tx.StmtContext(ctx, s.st.saveConversation).ExecContext(ctx,
		c.CustomerID, c.PhoneNumberID, c.WaID, c.State, c.AssigneeID,
		nullMillis(c.LastInboundAt), nullMillis(c.LastOutboundAt), nullMillis(c.ExpiresAt),
		nullMillis(c.NextTimerAt), nullMillis(c.WarnedAt),
		c.Unread, c.Seq, millis(c.CreatedAt), millis(c.UpdatedAt), nullMillis(c.ClosedAt),
		c.Version, c.ID, c.Version-1)
	if ok, err := updated(ctx, tx, res, err, qConversationExists, c.ID); ok || err != nil {
		return err
	}
	return fmt.Errorf("version %d is not the next: %w", c.Version, actors.ErrConflict)
}

// ListConversations returns one page, most recently updated first, and the
// total matching f; both from one snapshot.
func (s *Store) ListConversations(ctx context.Context, f actors.ConversationFilter) ([]actors.Conversation, int, error) {
	limit, offset := pageWindow(f.Page, f.Limit)
	list, count, args, err := conversationQueries(f)
	if err != nil {
		return nil, 0, fmt.Errorf("list conversations: %w", err)
	}
	var out []actors.Conversation
	var total int
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, count, args...).Scan(&total); err != nil {
			return mapErr(err)
		}
		if offset >= total {
			out = []actors.Conversation{}
			return nil
		}
		rows, err := tx.QueryContext(ctx, list, append(args, limit, offset)...)
		if err != nil {
			return mapErr(err)
		}
		out, err = scanConversations(rows, min(limit, total-offset))
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list conversations: %w", err)
	}
	return out, total, nil
}

// conversationQueries picks the list and count SQL for f's shape and their
// shared arguments (LIMIT and OFFSET follow them in the list query).
func conversationQueries(f actors.ConversationFilter) (list, count string, args []any, err error) {
	var states string
	if len(f.States) > 0 {
		b, err := json.Marshal(f.States)
		if err != nil {
			return "", "", nil, fmt.Errorf("encode states: %w", err)
		}
		states = string(b)
	}
	assignee, byAssignee := f.AssigneeID, f.AssigneeID != "" || f.Unassigned
	if f.Unassigned {
		assignee = ""
	}
	oneState := len(f.States) == 1
	switch {
	case f.CustomerID != "":
		return qListConversationsByCustomer, qCountConversationsByCustomer,
			[]any{f.CustomerID, boolInt(states != ""), states, boolInt(byAssignee), assignee, f.PhoneNumberID, f.PhoneNumberID}, nil
	case f.PhoneNumberID != "":
		return qListConversationsByNumber, qCountConversationsByNumber,
			[]any{f.PhoneNumberID, boolInt(states != ""), states, boolInt(byAssignee), assignee}, nil
	case byAssignee && oneState:
		return qListConversationsByAssigneeState, qCountConversationsByAssigneeState, []any{assignee, f.States[0]}, nil
	case byAssignee && states != "":
		return qListConversationsByAssigneeStates, qCountConversationsByAssigneeStates, []any{assignee, states}, nil
	case byAssignee:
		return qListConversationsByAssignee, qCountConversationsByAssignee, []any{assignee}, nil
	case oneState:
		return qListConversationsByState, qCountConversationsByState, []any{f.States[0]}, nil
	case states != "":
		return qListConversationsByStates, qCountConversationsByStates, []any{states}, nil
	default:
		return qListConversations, qCountConversations, nil, nil
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// DueConversations returns up to limit open conversations whose NextTimerAt
// is set and not after at, earliest first (ties by id).
func (s *Store) DueConversations(ctx context.Context, at time.Time, limit int) ([]actors.Conversation, error) {
	if limit < 1 {
		return []actors.Conversation{}, nil
	}
	rows, err := s.r.QueryContext(ctx, qDueConversations, millis(at), limit)
	if err != nil {
		return nil, fmt.Errorf("due conversations: %w", mapErr(err))
	}
	out, err := scanConversations(rows, min(limit, 64))
	if err != nil {
		return nil, fmt.Errorf("due conversations: %w", err)
	}
	return out, nil
}

// NextTimer returns the earliest NextTimerAt of open conversations; ok is
// false when none is set.
func (s *Store) NextTimer(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	if err := s.r.QueryRowContext(ctx, qNextTimer).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("next timer: %w", mapErr(err))
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return fromMillis(at.Int64), true, nil
}

// CountOpenByAssignee counts conversations in state new or active per
// assignee (unassigned ones under ""); assignees without any are absent.
func (s *Store) CountOpenByAssignee(ctx context.Context) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, qCountOpenByAssignee)
	if err != nil {
		return nil, fmt.Errorf("count open conversations by assignee: %w", mapErr(err))
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("count open conversations by assignee: %w", err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count open conversations by assignee: %w", mapErr(err))
	}
	return out, nil
}
