package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

const notificationCols = `id, user_id, kind, title, body, conversation_id, created_at, read_at`

// SQL the notification methods run: a user's notifications walk
// notifications_user, the unread ones the partial index notifications_unread.
const (
	// A notification whose id is stored already is skipped (a retried
	// batch is harmless).
	qInsertNotification = `INSERT OR IGNORE INTO notifications (` + notificationCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

	notificationOrder = ` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`

	qListNotifications  = `SELECT ` + notificationCols + ` FROM notifications WHERE user_id = ?` + notificationOrder
	qCountNotifications = `SELECT count(*) FROM notifications WHERE user_id = ?`

	qListUnreadNotifications = `SELECT ` + notificationCols + ` FROM notifications INDEXED BY notifications_unread
		WHERE user_id = ? AND read_at IS NULL` + notificationOrder
	qCountUnreadNotifications = `SELECT count(*) FROM notifications INDEXED BY notifications_unread
		WHERE user_id = ? AND read_at IS NULL`

	// Selected ids: one primary-key lookup each, however many unread
	// notifications the user has.
	qMarkNotificationsRead = `UPDATE notifications INDEXED BY sqlite_autoindex_notifications_1 SET read_at = ?
		WHERE user_id = ? AND read_at IS NULL AND id IN (SELECT value FROM json_each(?))`
	qMarkAllNotificationsRead = `UPDATE notifications INDEXED BY notifications_unread SET read_at = ?
		WHERE user_id = ? AND read_at IS NULL`
)

// AddNotifications stores ns in one transaction.
func (s *Store) AddNotifications(ctx context.Context, ns []actors.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		stmt := tx.StmtContext(ctx, s.st.insertNotification)
		defer stmt.Close()
		for _, n := range ns {
			if _, err := stmt.ExecContext(ctx, n.ID, n.UserID, n.Kind, n.Title, n.Body, n.ConversationID,
				millis(n.CreatedAt), nullMillis(n.ReadAt)); err != nil {
				return fmt.Errorf("notification %s: %w", n.ID, mapErr(err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add %d notifications: %w", len(ns), err)
	}
	return nil
}

// ListNotifications returns one page of a user's notifications, newest
// first, and the total; unreadOnly leaves read ones out. Page and total come
// from one snapshot.
func (s *Store) ListNotifications(ctx context.Context, userID string, unreadOnly bool, page, limit int) ([]actors.Notification, int, error) {
	limit, offset := pageWindow(page, limit)
	list, count := qListNotifications, qCountNotifications
	if unreadOnly {
		list, count = qListUnreadNotifications, qCountUnreadNotifications
	}
	out := []actors.Notification{}
	var total int
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, count, userID).Scan(&total); err != nil {
			return mapErr(err)
		}
		if offset >= total {
			return nil
		}
		rows, err := tx.QueryContext(ctx, list, userID, limit, offset)
		if err != nil {
			return mapErr(err)
		}
		defer rows.Close()
		out = make([]actors.Notification, 0, min(limit, total-offset))
		for rows.Next() {
			var n actors.Notification
			var created int64
			var read sql.NullInt64
			if err := rows.Scan(&n.ID, &n.UserID, &n.Kind, &n.Title, &n.Body, &n.ConversationID, &created, &read); err != nil {
				return mapErr(err)
			}
			n.CreatedAt, n.ReadAt = fromMillis(created), fromNullMillis(read)
			out = append(out, n)
		}
		return mapErr(rows.Err())
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list notifications of %s: %w", userID, err)
	}
	return out, total, nil
}

// MarkNotificationsRead marks the user's unread notifications among ids (all
// of them when ids is empty) read at at, in one statement, and returns how
// many changed. Read ones keep their ReadAt; other users' are never touched.
func (s *Store) MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error) {
	var n int64
	var err error
	if len(ids) == 0 {
		n, err = s.exec(ctx, nil, qMarkAllNotificationsRead, millis(at), userID)
	} else {
		b, jerr := json.Marshal(ids)
		if jerr != nil {
			return 0, fmt.Errorf("mark notifications of %s read: %w", userID, jerr)
		}
		n, err = s.exec(ctx, nil, qMarkNotificationsRead, millis(at), userID, string(b))
	}
	if err != nil {
		return 0, fmt.Errorf("mark notifications of %s read: %w", userID, err)
	}
	return int(n), nil
}
