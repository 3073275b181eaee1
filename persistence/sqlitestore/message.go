package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wacc/engine/actors"
)

// ErrBadCursor means a ListMessages cursor was not one the store handed
// out.
var ErrBadCursor = fmt.Errorf("message cursor: %w", actors.ErrBadCursor)

const messageCols = `id, conversation_id, direction, type, text, content, status, wa_message_id,
	seq, error, raw, created_at, updated_at, media`

// messageReadCols are messageCols and the pricing a status set later.
const messageReadCols = messageCols + `, pricing_billable, pricing_model, pricing_category, pricing_type`

// SQL the message and pending-status methods run.
const (
	qInsertMessage = `INSERT INTO messages (` + messageCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// The partial unique index messages_wamid serves this because the
	// query repeats its condition.
	qMessageByWaID = `SELECT ` + messageReadCols + ` FROM messages WHERE wa_message_id = ? AND wa_message_id != ''`

	// qUpdateMessageStatus moves forward only: the stored status's rank
	// (statusRankSQL, the same order as actors.StatusRank) must be below
	// the new one's, which the caller computes. A status that moves ends
	// the message's send claim (0014_send_claim). Arguments: status,
	// error, wamid, wamid, at, id, new rank.
	qUpdateMessageStatus = `UPDATE messages
		SET status = ?, error = ?,
		    wa_message_id = CASE WHEN ? != '' THEN ? ELSE wa_message_id END,
		    updated_at = ?, send_owner = NULL, send_claimed_at = NULL, send_lease_until = NULL
		WHERE id = ? AND ` + statusRankSQL + ` < ?`
	statusRankSQL = `(CASE status
		WHEN 'queued' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3
		WHEN 'read' THEN 4 WHEN 'failed' THEN 5 ELSE 0 END)`
	qMessageExists = `SELECT 1 FROM messages WHERE id = ?`

	// Keyset pages over messages_conversation, newest first: the cursor is
	// the (created_at, id) of the last message handed out.
	qListMessages = `SELECT ` + messageReadCols + ` FROM messages
		WHERE conversation_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ?`
	qListMessagesBefore = `SELECT ` + messageReadCols + ` FROM messages
		WHERE conversation_id = ? AND (created_at, id) < (?, ?)
		ORDER BY created_at DESC, id DESC LIMIT ?`

	pendingCols = `wa_message_id, status, phone_number_id, recipient_id, ts, errors, biz_opaque, raw`
	// The first of a (wamid, status) pair is kept.
	qInsertPendingStatus = `INSERT OR IGNORE INTO pending_statuses (` + pendingCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	// Delete and read in one statement; RETURNING has no order, so the
	// rowid comes back for sorting.
	qHasPendingStatus    = `SELECT 1 FROM pending_statuses WHERE wa_message_id = ? LIMIT 1`
	qTakePendingStatuses = `DELETE FROM pending_statuses WHERE wa_message_id = ? RETURNING rowid, ` + pendingCols
	// qPendingStatuses is the read side alone, kept for the plan test: it
	// shows the order the index delivers.
	qPendingStatuses = `SELECT rowid, ` + pendingCols + ` FROM pending_statuses
		WHERE wa_message_id = ? ORDER BY ts, rowid`
)

func (s *Store) scanMessage(row interface{ Scan(...any) error }) (actors.Message, error) {
	var m actors.Message
	var content, raw []byte
	var werr, media, model, category, typ sql.NullString
	var billable sql.NullBool
	var created, updated int64
	if err := row.Scan(&m.ID, &m.ConversationID, &m.Direction, &m.Type, &m.Text, &content, &m.Status,
		&m.WaMessageID, &m.Seq, &werr, &raw, &created, &updated, &media, &billable, &model, &category, &typ); err != nil {
		return actors.Message{}, mapErr(err)
	}
	if err := s.openMessage(&m, &content, &raw); err != nil {
		return actors.Message{}, err
	}
	if billable.Valid {
		m.Pricing = &actors.Pricing{Billable: billable.Bool, Model: model.String, Category: category.String, Type: typ.String}
	}
	if len(content) > 0 {
		m.Content = content
	}
	if len(raw) > 0 {
		m.Raw = raw
	}
	if werr.Valid {
		m.Error = new(actors.WhatsAppError)
		if err := json.Unmarshal([]byte(werr.String), m.Error); err != nil {
			return actors.Message{}, fmt.Errorf("decode error of message %s: %w", m.ID, err)
		}
	}
	if media.Valid {
		m.Media = new(actors.MessageMedia)
		if err := json.Unmarshal([]byte(media.String), m.Media); err != nil {
			return actors.Message{}, fmt.Errorf("decode media of message %s: %w", m.ID, err)
		}
	}
	m.CreatedAt, m.UpdatedAt = fromMillis(created), fromMillis(updated)
	return m, nil
}

// encodeError renders a WhatsApp error as the JSON the error column keeps;
// nil is NULL.
func encodeError(e *actors.WhatsAppError) (sql.NullString, error) {
	if e == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("encode error: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// encodeMessageMedia renders a message's medium as the JSON the media
// column keeps; nil is NULL.
func encodeMessageMedia(mm *actors.MessageMedia) (sql.NullString, error) {
	if mm == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(mm)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("encode media: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// messageArgs are the arguments of qInsertMessage for m.
func (s *Store) messageArgs(m actors.Message) ([]any, error) {
	werr, err := encodeError(m.Error)
	if err != nil {
		return nil, err
	}
	media, err := encodeMessageMedia(m.Media)
	if err != nil {
		return nil, err
	}
	text, content, raw := s.sealMessage(m)
	return []any{m.ID, m.ConversationID, m.Direction, m.Type, text, blob(content), m.Status, m.WaMessageID,
		m.Seq, werr, blob(raw), millis(m.CreatedAt), millis(m.UpdatedAt), media}, nil
}

// blob keeps nil as NULL and anything else as its exact bytes.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// AppendMessage inserts m; ErrDuplicate when its id or WaMessageID is
// already stored.
func (s *Store) AppendMessage(ctx context.Context, m actors.Message) error {
	args, err := s.messageArgs(m)
	if err != nil {
		return fmt.Errorf("append message %s: %w", m.ID, err)
	}
	if _, err := s.exec(ctx, s.st.insertMessage, "", args...); err != nil {
		return fmt.Errorf("append message %s: %w", m.ID, err)
	}
	return nil
}

// AppendMessageAndSave inserts m and saves c in one job of the committer:
// both or neither; neither when c.Epoch is not the key's epoch (ErrFenced).
func (s *Store) AppendMessageAndSave(ctx context.Context, m actors.Message, c actors.Conversation) error {
	args, err := s.messageArgs(m)
	if err != nil {
		return fmt.Errorf("append message %s: %w", m.ID, err)
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.checkEpochTx(ctx, tx, c.PhoneNumberID, c.WaID, c.Epoch); err != nil {
			return fmt.Errorf("append message %s: %w", m.ID, err)
		}
		if _, err := tx.StmtContext(ctx, s.st.insertMessage).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("append message %s: %w", m.ID, mapErr(err))
		}
		if err := s.saveConversationTx(ctx, tx, c); err != nil {
			return fmt.Errorf("save conversation %s: %w", c.ID, err)
		}
		return nil
	})
}

// MessageByWaID returns the message with that wamid, or ErrNotFound (always
// for "").
func (s *Store) MessageByWaID(ctx context.Context, waMessageID string) (actors.Message, error) {
	m, err := s.scanMessage(s.st.messageByWaID.QueryRowContext(ctx, waMessageID))
	if err != nil {
		return actors.Message{}, fmt.Errorf("message by wamid %s: %w", waMessageID, err)
	}
	return m, nil
}

// UpdateMessageStatus moves message id to status (with werr, and
// waMessageID when not empty) in one conditional UPDATE, only if status
// ranks above the stored one. It reports whether it changed anything;
// ErrNotFound when the message is absent.
func (s *Store) UpdateMessageStatus(ctx context.Context, id, status, waMessageID string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	e, err := encodeError(werr)
	if err != nil {
		return false, fmt.Errorf("update status of message %s: %w", id, err)
	}
	changed := false
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		changed, err = s.updateStatusTx(ctx, tx, id, status, e, waMessageID, at)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("update status of message %s: %w", id, err)
	}
	return changed, nil
}

// updateStatusTx is UpdateMessageStatus's write, in tx.
func (s *Store) updateStatusTx(ctx context.Context, tx *sql.Tx, id, status string, e sql.NullString, waMessageID string, at time.Time) (bool, error) {
	res, err := tx.StmtContext(ctx, s.st.updateMessageStatus).ExecContext(ctx,
		status, e, waMessageID, waMessageID, millis(at), id, actors.StatusRank(status))
	return updated(ctx, tx, res, err, qMessageExists, id)
}

// UpdateMessageStatuses applies changes in order, each as
// UpdateMessageStatus does without a wamid, in one committer job: one
// savepoint of the group commit, all or none. It reports for each change
// whether it changed its message; ErrNotFound, naming the id, when a
// message is absent (then none applies).
func (s *Store) UpdateMessageStatuses(ctx context.Context, changes []actors.StatusChange) ([]bool, error) {
	return s.updateStatuses(ctx, actors.Fence{}, changes)
}

// updateStatuses is UpdateMessageStatuses, fenced by f (unfenced when its
// Epoch is 0).
func (s *Store) updateStatuses(ctx context.Context, f actors.Fence, changes []actors.StatusChange) ([]bool, error) {
	errs := make([]sql.NullString, len(changes))
	for i, c := range changes {
		e, err := encodeError(c.Error)
		if err != nil {
			return nil, fmt.Errorf("update status of message %s: %w", c.MessageID, err)
		}
		errs[i] = e
	}
	changed := make([]bool, len(changes))
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.checkEpochTx(ctx, tx, f.PhoneNumberID, f.WaID, f.Epoch); err != nil {
			return err
		}
		st := tx.StmtContext(ctx, s.st.updateMessageStatus)
		for i, c := range changes {
			res, err := st.ExecContext(ctx, c.Status, errs[i], "", "", millis(c.At), c.MessageID, actors.StatusRank(c.Status))
			if changed[i], err = updated(ctx, tx, res, err, qMessageExists, c.MessageID); err != nil {
				return fmt.Errorf("update status of message %s: %w", c.MessageID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update %d message statuses: %w", len(changes), err)
	}
	return changed, nil
}

// ListMessages returns up to limit messages of a conversation, newest
// first, older than before (empty: from the newest), and the cursor of the
// next page, "" when no older message exists. A cursor the store did not
// hand out is ErrBadCursor.
func (s *Store) ListMessages(ctx context.Context, conversationID, before string, limit int) ([]actors.Message, string, error) {
	limit, _ = pageWindow(1, limit)
	var rows *sql.Rows
	var err error
	if before == "" {
		rows, err = s.r.QueryContext(ctx, qListMessages, conversationID, limit+1)
	} else {
		at, id, cerr := decodeCursor(before)
		if cerr != nil {
			return nil, "", fmt.Errorf("list messages of %s: %w", conversationID, cerr)
		}
		rows, err = s.r.QueryContext(ctx, qListMessagesBefore, conversationID, at, id, limit+1)
	}
	if err != nil {
		return nil, "", fmt.Errorf("list messages of %s: %w", conversationID, mapErr(err))
	}
	defer rows.Close()
	out := make([]actors.Message, 0, min(limit+1, 64))
	for rows.Next() {
		m, err := s.scanMessage(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list messages of %s: %w", conversationID, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list messages of %s: %w", conversationID, mapErr(err))
	}
	if len(out) <= limit {
		return out, "", nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, encodeCursor(millis(last.CreatedAt), last.ID), nil
}

// encodeCursor makes the opaque cursor "<created_at ms>.<id>", base64url.
func encodeCursor(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + "." + id))
}

func decodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %q", ErrBadCursor, c)
	}
	ms, id, ok := strings.Cut(string(b), ".")
	at, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return 0, "", fmt.Errorf("%w: %q", ErrBadCursor, c)
	}
	return at, id, nil
}

// AddPendingStatus keeps a status whose message is not known yet; the
// first of a (wamid, status) pair is kept.
func (s *Store) AddPendingStatus(ctx context.Context, st actors.StatusUpdate) error {
	var errs sql.NullString
	if len(st.Errors) > 0 {
		b, err := json.Marshal(st.Errors)
		if err != nil {
			return fmt.Errorf("add pending status %s of %s: encode errors: %w", st.Status, st.WaMessageID, err)
		}
		errs = sql.NullString{String: string(b), Valid: true}
	}
	if _, err := s.exec(ctx, nil, qInsertPendingStatus, st.WaMessageID, st.Status, st.PhoneNumberID,
		st.RecipientID, millis(st.Timestamp), errs, st.BizOpaqueCallbackData, blob(st.Raw)); err != nil {
		return fmt.Errorf("add pending status %s of %s: %w", st.Status, st.WaMessageID, err)
	}
	return nil
}

// TakePendingStatuses deletes and returns the pending statuses of a wamid,
// oldest first (by Timestamp, then the order they were added), in one
// statement. Pending statuses are rare, and every sent message asks, so a
// read on the reader pool answers the common "none" without a write.
func (s *Store) TakePendingStatuses(ctx context.Context, waMessageID string) ([]actors.StatusUpdate, error) {
	var one int
	switch err := mapErr(s.st.hasPendingStatus.QueryRowContext(ctx, waMessageID).Scan(&one)); {
	case errors.Is(err, actors.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("take pending statuses of %s: %w", waMessageID, err)
	}
	type taken struct {
		rowid int64
		ts    int64
		st    actors.StatusUpdate
	}
	var got []taken
	scanErr := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		got = got[:0]
		rows, err := tx.StmtContext(ctx, s.st.takePendingStatuses).QueryContext(ctx, waMessageID)
		if err != nil {
			return mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			var t taken
			var errs sql.NullString
			var raw []byte
			if err := rows.Scan(&t.rowid, &t.st.WaMessageID, &t.st.Status, &t.st.PhoneNumberID, &t.st.RecipientID,
				&t.ts, &errs, &t.st.BizOpaqueCallbackData, &raw); err != nil {
				return mapErr(err)
			}
			if errs.Valid {
				if err := json.Unmarshal([]byte(errs.String), &t.st.Errors); err != nil {
					return fmt.Errorf("decode errors: %w", err)
				}
			}
			if len(raw) > 0 {
				t.st.Raw = raw
			}
			t.st.Timestamp = fromMillis(t.ts)
			got = append(got, t)
		}
		return mapErr(rows.Err())
	})
	if scanErr != nil {
		return nil, fmt.Errorf("take pending statuses of %s: %w", waMessageID, scanErr)
	}
	slices.SortFunc(got, func(a, b taken) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.rowid, b.rowid))
	})
	out := make([]actors.StatusUpdate, len(got))
	for i, t := range got {
		out[i] = t.st
	}
	return out, nil
}
