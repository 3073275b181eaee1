package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

const userCols = `id, email, email_skeleton, name, role, password_hash, phone, disabled, token_version, created_at, updated_at`

// SQL the user methods run; package constants so the plan test checks the
// exact text.
const (
	qInsertUser = `INSERT INTO users (` + userCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUserByID   = `SELECT ` + userCols + ` FROM users WHERE id = ?`
	// qUserByEmail is served by the UNIQUE index on users(email).
	qUserByEmail = `SELECT ` + userCols + ` FROM users WHERE email = ?`
	// qUserBySkeleton is served by the UNIQUE index users_email_skeleton.
	qUserBySkeleton  = `SELECT ` + userCols + ` FROM users WHERE email_skeleton = ?`
	qSetUserSkeleton = `UPDATE users SET email_skeleton = ? WHERE id = ?`
	// qSetUserRole bumps the token version only when the role changes.
	qSetUserRole  = `UPDATE users SET token_version = token_version + (role <> ?1), role = ?1, updated_at = ?2 WHERE id = ?3 RETURNING ` + userCols
	qSetUserPhone = `UPDATE users SET phone = ?, updated_at = ? WHERE id = ? RETURNING ` + userCols
	// qSetUserDisabled bumps the token version when it disables (?1 = 1).
	qSetUserDisabled = `UPDATE users SET token_version = token_version + ?1, disabled = ?1, updated_at = ?2 WHERE id = ?3 RETURNING ` + userCols
	qSetUserPassword = `UPDATE users SET password_hash = ?, token_version = token_version + 1, updated_at = ? WHERE id = ? RETURNING ` + userCols
	qListUsers       = `SELECT ` + userCols + ` FROM users ORDER BY created_at, id`
	qListUsersFor    = `SELECT ` + userCols + ` FROM users WHERE role = ? ORDER BY created_at, id`
	// qListUsersPage and qCountUsers page the admin's user list; the
	// search is a LIKE on name and email. Both walk the users_created index
	// (the users of one contact centre are few: hundreds, not millions).
	qListUsersPage       = `SELECT ` + userCols + ` FROM users ORDER BY created_at, id LIMIT ? OFFSET ?`
	qCountUsers          = `SELECT count(*) FROM users`
	userLike             = `(name LIKE ? ESCAPE '\' OR email LIKE ? ESCAPE '\')`
	qListUsersPageSearch = `SELECT ` + userCols + ` FROM users WHERE ` + userLike + ` ORDER BY created_at, id LIMIT ? OFFSET ?`
	qCountUsersSearch    = `SELECT count(*) FROM users WHERE ` + userLike
)

func scanUser(row interface{ Scan(...any) error }) (actors.User, error) {
	var u actors.User
	var role string
	var created, updated int64
	if err := row.Scan(&u.ID, &u.Email, &u.EmailSkeleton, &u.Name, &role, &u.PasswordHash, &u.Phone, &u.Disabled, &u.TokenVersion, &created, &updated); err != nil {
		return actors.User{}, mapErr(err)
	}
	u.Role = actors.Role(role)
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(updated)
	return u, nil
}

// CreateUser inserts u; ErrDuplicate when the id, email or email skeleton
// is taken. An empty EmailSkeleton is stored as the email.
func (s *Store) CreateUser(ctx context.Context, u actors.User) error {
	skeleton := u.EmailSkeleton
	if skeleton == "" {
		skeleton = u.Email
	}
	_, err := s.exec(ctx, nil, qInsertUser,
		u.ID, u.Email, skeleton, u.Name, string(u.Role), u.PasswordHash, u.Phone, u.Disabled, u.TokenVersion, millis(u.CreatedAt), millis(u.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return nil
}

// UserByID returns the user or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (actors.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, qUserByID, id))
	if err != nil {
		return actors.User{}, fmt.Errorf("user %s: %w", id, err)
	}
	return u, nil
}

// UserByEmail looks up by email as stored (lower-cased by the caller);
// ErrNotFound when absent.
func (s *Store) UserByEmail(ctx context.Context, email string) (actors.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, qUserByEmail, email))
	if err != nil {
		// The address is personal data; the error names the operation only.
		return actors.User{}, fmt.Errorf("user by email: %w", err)
	}
	return u, nil
}

// UserByEmailSkeleton looks up by email skeleton; ErrNotFound when absent.
func (s *Store) UserByEmailSkeleton(ctx context.Context, skeleton string) (actors.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, qUserBySkeleton, skeleton))
	if err != nil {
		return actors.User{}, fmt.Errorf("user by email skeleton: %w", err)
	}
	return u, nil
}

// SetUserEmailSkeleton replaces a user's email skeleton; ErrNotFound when
// the user is absent, ErrDuplicate when another user has that skeleton.
func (s *Store) SetUserEmailSkeleton(ctx context.Context, id, skeleton string) error {
	n, err := s.exec(ctx, nil, qSetUserSkeleton, skeleton, id)
	if err != nil {
		return fmt.Errorf("set email skeleton of user %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("set email skeleton of user %s: %w", id, actors.ErrNotFound)
	}
	return nil
}

// SetUserRole changes the role and UpdatedAt and returns the stored user;
// a role that differs from the stored one also bumps TokenVersion.
// ErrNotFound when absent.
func (s *Store) SetUserRole(ctx context.Context, id string, role actors.Role, at time.Time) (actors.User, error) {
	u, err := s.updateUser(ctx, qSetUserRole, string(role), millis(at), id)
	if err != nil {
		return actors.User{}, fmt.Errorf("set role of user %s: %w", id, err)
	}
	return u, nil
}

// SetUserDisabled sets Disabled and UpdatedAt and returns the stored user;
// disabling also bumps TokenVersion. ErrNotFound when absent.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, at time.Time) (actors.User, error) {
	u, err := s.updateUser(ctx, qSetUserDisabled, disabled, millis(at), id)
	if err != nil {
		return actors.User{}, fmt.Errorf("set disabled of user %s: %w", id, err)
	}
	return u, nil
}

// SetUserPassword replaces the password hash, bumps TokenVersion, sets
// UpdatedAt and returns the stored user; ErrNotFound when absent.
func (s *Store) SetUserPassword(ctx context.Context, id, passwordHash string, at time.Time) (actors.User, error) {
	u, err := s.updateUser(ctx, qSetUserPassword, passwordHash, millis(at), id)
	if err != nil {
		return actors.User{}, fmt.Errorf("set password of user %s: %w", id, err)
	}
	return u, nil
}

// updateUser runs one UPDATE ... RETURNING of a user in a transaction.
func (s *Store) updateUser(ctx context.Context, query string, args ...any) (actors.User, error) {
	var u actors.User
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, query, args...))
		return err
	})
	return u, err
}

// SetUserPhone sets the phone ("" clears it) and UpdatedAt and returns the
// stored user; ErrNotFound when absent.
func (s *Store) SetUserPhone(ctx context.Context, id, phone string, at time.Time) (actors.User, error) {
	var u actors.User
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, qSetUserPhone, phone, millis(at), id))
		return err
	})
	if err != nil {
		return actors.User{}, fmt.Errorf("set phone of user %s: %w", id, err)
	}
	return u, nil
}

// ListUsers returns users ordered by CreatedAt then ID; role "" means all.
func (s *Store) ListUsers(ctx context.Context, role actors.Role) ([]actors.User, error) {
	var rows *sql.Rows
	var err error
	if role == "" {
		rows, err = s.r.QueryContext(ctx, qListUsers)
	} else {
		rows, err = s.r.QueryContext(ctx, qListUsersFor, string(role))
	}
	if err != nil {
		return nil, fmt.Errorf("list users %q: %w", role, mapErr(err))
	}
	defer rows.Close()
	users := []actors.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users %q: %w", role, err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users %q: %w", role, mapErr(err))
	}
	return users, nil
}

// ListUsersPage returns one page of users ordered by CreatedAt then ID and
// the total matching f, both read in one transaction.
func (s *Store) ListUsersPage(ctx context.Context, f actors.UserFilter) ([]actors.User, int, error) {
	limit, offset := pageWindow(f.Page, f.Limit)
	list, count, args := qListUsersPage, qCountUsers, []any(nil)
	if f.Search != "" {
		p := likePattern(f.Search)
		list, count, args = qListUsersPageSearch, qCountUsersSearch, []any{p, p}
	}
	var out []actors.User
	var total int
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, count, args...).Scan(&total); err != nil {
			return mapErr(err)
		}
		out = make([]actors.User, 0, min(limit, max(total-offset, 0)))
		if offset >= total {
			return nil
		}
		rows, err := tx.QueryContext(ctx, list, append(args, limit, offset)...)
		if err != nil {
			return mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			out = append(out, u)
		}
		return mapErr(rows.Err())
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list users (page %d, limit %d): %w", f.Page, f.Limit, err)
	}
	return out, total, nil
}

// errNoRow reports whether err is the ErrNotFound mapErr makes of sql.ErrNoRows.
func errNoRow(err error) bool { return errors.Is(err, actors.ErrNotFound) }
