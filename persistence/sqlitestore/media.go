package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/wacc/engine/actors"
)

var _ actors.MediaStore = (*Store)(nil)

const mediaCols = `id, filename, mime_type, size, sha256, status, error, wa_media_id, wa_phone_number_id, wa_uploaded_at,
	uploader_id, conversation_id, message_id, attempts, created_at, updated_at`

// SQL of the media store. A medium is read and written by its primary key;
// CountMediaBySHA256 walks media_sha256 and MediaByStatus
// media_status_updated, which delivers the oldest first.
const (
	qInsertMedia = `INSERT INTO media (` + mediaCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qMediaByID   = `SELECT ` + mediaCols + ` FROM media WHERE id = ?`
	// qSaveMedia's arguments are mediaArgs rotated: every column but id,
	// then id.
	qSaveMedia = `UPDATE media SET filename = ?, mime_type = ?, size = ?, sha256 = ?, status = ?, error = ?,
		wa_media_id = ?, wa_phone_number_id = ?, wa_uploaded_at = ?, uploader_id = ?, conversation_id = ?,
		message_id = ?, attempts = ?, created_at = ?, updated_at = ? WHERE id = ?`
	qDeleteMedia        = `DELETE FROM media WHERE id = ?`
	qCountMediaBySHA256 = `SELECT count(*) FROM media WHERE sha256 = ?`
	qMediaByStatus      = `SELECT ` + mediaCols + ` FROM media WHERE status = ? ORDER BY updated_at, id LIMIT ?`
	qSetMessageMedia    = `UPDATE messages SET media = ?, updated_at = ? WHERE id = ?`
)

// mediaArgs are the arguments of qInsertMedia for m.
func mediaArgs(m actors.Media) []any {
	return []any{m.ID, m.Filename, m.MimeType, m.Size, m.SHA256, m.Status, m.Error, m.WaMediaID, m.WaPhoneNumberID,
		nullMillis(m.WaUploadedAt), m.UploaderID, m.ConversationID, m.MessageID, m.Attempts,
		millis(m.CreatedAt), millis(m.UpdatedAt)}
}

func scanMedia(row interface{ Scan(...any) error }) (actors.Media, error) {
	var m actors.Media
	var uploaded sql.NullInt64
	var created, updated int64
	if err := row.Scan(&m.ID, &m.Filename, &m.MimeType, &m.Size, &m.SHA256, &m.Status, &m.Error, &m.WaMediaID,
		&m.WaPhoneNumberID, &uploaded, &m.UploaderID, &m.ConversationID, &m.MessageID, &m.Attempts,
		&created, &updated); err != nil {
		return actors.Media{}, mapErr(err)
	}
	m.WaUploadedAt = fromNullMillis(uploaded)
	m.CreatedAt, m.UpdatedAt = fromMillis(created), fromMillis(updated)
	return m, nil
}

// CreateMedia inserts m; ErrDuplicate when its id is taken.
func (s *Store) CreateMedia(ctx context.Context, m actors.Media) error {
	if _, err := s.exec(ctx, s.st.insertMedia, "", mediaArgs(m)...); err != nil {
		return fmt.Errorf("create media %s: %w", m.ID, err)
	}
	return nil
}

// Media returns the medium or ErrNotFound.
func (s *Store) Media(ctx context.Context, id string) (actors.Media, error) {
	m, err := scanMedia(s.st.mediaByID.QueryRowContext(ctx, id))
	if err != nil {
		return actors.Media{}, fmt.Errorf("media %s: %w", id, err)
	}
	return m, nil
}

// SaveMedia replaces the stored medium m.ID; ErrNotFound when absent.
func (s *Store) SaveMedia(ctx context.Context, m actors.Media) error {
	args := mediaArgs(m)
	n, err := s.exec(ctx, s.st.saveMedia, "", append(slices.Clone(args[1:]), args[0])...)
	if err != nil {
		return fmt.Errorf("save media %s: %w", m.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("save media %s: %w", m.ID, actors.ErrNotFound)
	}
	return nil
}

// DeleteMedia removes the record; ErrNotFound when absent.
func (s *Store) DeleteMedia(ctx context.Context, id string) error {
	n, err := s.exec(ctx, nil, qDeleteMedia, id)
	if err != nil {
		return fmt.Errorf("delete media %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete media %s: %w", id, actors.ErrNotFound)
	}
	return nil
}

// CountMediaBySHA256 counts the records whose bytes are sha. It reads on
// the reader pool: a write committed before the call is seen.
func (s *Store) CountMediaBySHA256(ctx context.Context, sha string) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, qCountMediaBySHA256, sha).Scan(&n); err != nil {
		return 0, fmt.Errorf("count media by sha256 %s: %w", sha, mapErr(err))
	}
	return n, nil
}

// SetMessageMedia replaces the medium of message messageID and sets its
// UpdatedAt to at; ErrNotFound when there is no such message.
func (s *Store) SetMessageMedia(ctx context.Context, messageID string, mm actors.MessageMedia, at time.Time) error {
	media, err := encodeMessageMedia(&mm)
	if err != nil {
		return fmt.Errorf("set media of message %s: %w", messageID, err)
	}
	n, err := s.exec(ctx, nil, qSetMessageMedia, media, millis(at), messageID)
	if err != nil {
		return fmt.Errorf("set media of message %s: %w", messageID, err)
	}
	if n == 0 {
		return fmt.Errorf("set media of message %s: %w", messageID, actors.ErrNotFound)
	}
	return nil
}

// MediaByStatus returns up to limit media in status, oldest UpdatedAt
// first (then by id); an empty slice when there are none.
func (s *Store) MediaByStatus(ctx context.Context, status string, limit int) ([]actors.Media, error) {
	if limit < 1 {
		return []actors.Media{}, nil
	}
	rows, err := s.r.QueryContext(ctx, qMediaByStatus, status, limit)
	if err != nil {
		return nil, fmt.Errorf("media in status %s: %w", status, mapErr(err))
	}
	defer rows.Close()
	out := []actors.Media{}
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return nil, fmt.Errorf("media in status %s: %w", status, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("media in status %s: %w", status, mapErr(err))
	}
	return out, nil
}
