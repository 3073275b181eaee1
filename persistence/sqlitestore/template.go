package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

var _ actors.TemplateStore = (*Store)(nil)

const templateCols = `waba_id, name, language, id, status, category, quality, parameter_format, components, reason, failed_code, updated_at`

// SQL of the template registry. Every query walks the primary key
// (waba_id, name, language): an account holds at most a few thousand
// templates, and the list's order is the key's.
const (
	qDeleteTemplatesOf  = `DELETE FROM templates WHERE waba_id = ?`
	qInsertTemplate     = `INSERT INTO templates (` + templateCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUpsertTemplateSync = `INSERT INTO template_syncs (waba_id, synced_at, count) VALUES (?, ?, ?)
		ON CONFLICT (waba_id) DO UPDATE SET synced_at = excluded.synced_at, count = excluded.count`
	qTemplate     = `SELECT ` + templateCols + ` FROM templates WHERE waba_id = ? AND name = ? AND language = ?`
	qTemplateSync = `SELECT waba_id, synced_at, count FROM template_syncs WHERE waba_id = ?`
	// Empty filter values match every row.
	templateFilter = ` FROM templates WHERE waba_id = ?1 AND (?2 = '' OR status = ?2) AND (?3 = '' OR name = ?3)
		AND (?4 = '' OR language = ?4) AND (?5 = '' OR category = ?5)`
	qListTemplates  = `SELECT ` + templateCols + templateFilter + ` ORDER BY name, language LIMIT ?6 OFFSET ?7`
	qCountTemplates = `SELECT count(*)` + templateFilter
	// A status replaces reason and failed_code with it; a failure without
	// a status sets them alone; quality is independent.
	qUpdateTemplate = `UPDATE templates SET
		status = CASE WHEN ?1 <> '' THEN ?1 ELSE status END,
		reason = CASE WHEN ?1 <> '' OR ?3 <> 0 THEN ?2 ELSE reason END,
		failed_code = CASE WHEN ?1 <> '' OR ?3 <> 0 THEN ?3 ELSE failed_code END,
		quality = CASE WHEN ?4 <> '' THEN ?4 ELSE quality END,
		updated_at = ?5
		WHERE waba_id = ?6 AND name = ?7 AND language = ?8`
	qDeleteTemplate = `DELETE FROM templates WHERE waba_id = ? AND name = ? AND language = ?`
)

// ReplaceTemplates swaps wabaID's templates for ts and records the sync, in
// one transaction.
func (s *Store) ReplaceTemplates(ctx context.Context, wabaID string, ts []actors.Template, at time.Time) error {
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, qDeleteTemplatesOf, wabaID); err != nil {
			return mapErr(err)
		}
		stmt, err := tx.PrepareContext(ctx, qInsertTemplate)
		if err != nil {
			return mapErr(err)
		}
		defer stmt.Close()
		for _, t := range ts {
			comps, err := json.Marshal(componentsOrEmpty(t.Components))
			if err != nil {
				return fmt.Errorf("template %s/%s: %w", t.Name, t.Language, err)
			}
			if _, err := stmt.ExecContext(ctx, wabaID, t.Name, t.Language, t.ID, t.Status, t.Category, t.Quality, t.ParameterFormat,
				string(comps), t.Reason, t.FailedCode, millis(at)); err != nil {
				return fmt.Errorf("template %s/%s: %w", t.Name, t.Language, mapErr(err))
			}
		}
		_, err = tx.ExecContext(ctx, qUpsertTemplateSync, wabaID, millis(at), len(ts))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("replace templates of %s: %w", wabaID, err)
	}
	return nil
}

func componentsOrEmpty(cs []actors.TemplateComponent) []actors.TemplateComponent {
	if cs == nil {
		return []actors.TemplateComponent{}
	}
	return cs
}

// Template returns one template, or ErrNotFound.
func (s *Store) Template(ctx context.Context, wabaID, name, language string) (actors.Template, error) {
	t, err := scanTemplate(s.r.QueryRowContext(ctx, qTemplate, wabaID, name, language))
	if err != nil {
		return actors.Template{}, fmt.Errorf("template %s/%s of %s: %w", name, language, wabaID, err)
	}
	return t, nil
}

// ListTemplates returns one page of f's templates, by name then language,
// and the total, from one snapshot.
func (s *Store) ListTemplates(ctx context.Context, f actors.TemplateFilter) ([]actors.Template, int, error) {
	limit, offset := pageWindow(f.Page, f.Limit)
	args := []any{f.BusinessAccountID, f.Status, f.Name, f.Language, f.Category}
	out := []actors.Template{}
	var total int
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, qCountTemplates, args...).Scan(&total); err != nil {
			return mapErr(err)
		}
		if offset >= total {
			return nil
		}
		rows, err := tx.QueryContext(ctx, qListTemplates, append(args, limit, offset)...)
		if err != nil {
			return mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTemplate(rows)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return mapErr(rows.Err())
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list templates of %s: %w", f.BusinessAccountID, err)
	}
	return out, total, nil
}

// UpdateTemplate applies u to one template in one statement.
func (s *Store) UpdateTemplate(ctx context.Context, wabaID, name, language string, u actors.TemplateUpdate) error {
	n, err := s.exec(ctx, nil, qUpdateTemplate, u.Status, u.Reason, u.FailedCode, u.Quality, millis(u.At), wabaID, name, language)
	if err == nil && n == 0 {
		err = actors.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("update template %s/%s of %s: %w", name, language, wabaID, err)
	}
	return nil
}

// DeleteTemplate removes one template; a missing one is no error.
func (s *Store) DeleteTemplate(ctx context.Context, wabaID, name, language string) error {
	if _, err := s.exec(ctx, nil, qDeleteTemplate, wabaID, name, language); err != nil {
		return fmt.Errorf("delete template %s/%s of %s: %w", name, language, wabaID, err)
	}
	return nil
}

// TemplateSync returns the record of wabaID's last sync, or ErrNotFound.
func (s *Store) TemplateSync(ctx context.Context, wabaID string) (actors.TemplateSync, error) {
	var ts actors.TemplateSync
	var at int64
	if err := s.r.QueryRowContext(ctx, qTemplateSync, wabaID).Scan(&ts.BusinessAccountID, &at, &ts.Count); err != nil {
		return actors.TemplateSync{}, fmt.Errorf("template sync of %s: %w", wabaID, mapErr(err))
	}
	ts.SyncedAt = fromMillis(at)
	return ts, nil
}

func scanTemplate(row interface{ Scan(...any) error }) (actors.Template, error) {
	var t actors.Template
	var comps string
	var updated int64
	if err := row.Scan(&t.BusinessAccountID, &t.Name, &t.Language, &t.ID, &t.Status, &t.Category, &t.Quality, &t.ParameterFormat,
		&comps, &t.Reason, &t.FailedCode, &updated); err != nil {
		return actors.Template{}, mapErr(err)
	}
	if err := json.Unmarshal([]byte(comps), &t.Components); err != nil {
		return actors.Template{}, fmt.Errorf("decode components of template %s/%s: %w", t.Name, t.Language, err)
	}
	t.UpdatedAt = fromMillis(updated)
	return t, nil
}
