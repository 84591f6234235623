package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

const userCols = `u.id, u.username, u.source, u.dn, u.stable_id, u.first_name, u.last_name, u.email,
	u.is_active, u.is_staff, u.is_superuser, u.flags, u.profile, u.password_hash,
	u.created_at, u.updated_at, u.last_login_at, u.last_synced_at,
	EXISTS (SELECT 1 FROM photos p WHERE p.user_id = u.id)`

type scanner interface{ Scan(dest ...any) error }

func scanUser(row scanner) (*ldapbridge.User, error) {
	var (
		u                  ldapbridge.User
		flags, profile     string
		created, updated   int64
		lastLogin, lastSyn sql.NullInt64
	)
	err := row.Scan(&u.ID, &u.Username, &u.Source, &u.DN, &u.StableID, &u.FirstName, &u.LastName, &u.Email,
		&u.IsActive, &u.IsStaff, &u.IsSuperuser, &flags, &profile, &u.PasswordHash,
		&created, &updated, &lastLogin, &lastSyn, &u.HasPhoto)
	if err != nil {
		return nil, err
	}
	u.Flags = map[string]bool{}
	if err := json.Unmarshal([]byte(flags), &u.Flags); err != nil {
		return nil, fmt.Errorf("user %q: flags column: %w", u.Username, err)
	}
	u.Profile = map[string]string{}
	if err := json.Unmarshal([]byte(profile), &u.Profile); err != nil {
		return nil, fmt.Errorf("user %q: profile column: %w", u.Username, err)
	}
	u.CreatedAt, u.UpdatedAt = fromMS(created), fromMS(updated)
	u.LastLoginAt, u.LastSyncedAt = fromNullMS(lastLogin), fromNullMS(lastSyn)
	return &u, nil
}

// oneUser reads the user selected by where, with its group lists.
func (s *Store) oneUser(ctx context.Context, what, where string, args ...any) (*ldapbridge.User, error) {
	rows, err := s.query(ctx, `SELECT `+userCols+` FROM users u WHERE `+where+` LIMIT 2`, args...)
	if err != nil {
		return nil, wrap(err, what)
	}
	defer rows.Close()
	var found []*ldapbridge.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap(err, what)
		}
		found = append(found, u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, what)
	}
	rows.Close()
	switch len(found) {
	case 0:
		return nil, notFound(what)
	case 1:
	default:
		return nil, fmt.Errorf("sqlite: %s: %w", what, ldapbridge.ErrAmbiguous)
	}
	u := found[0]
	if err := s.fillGroups(ctx, u); err != nil {
		return nil, wrap(err, what)
	}
	return u, nil
}

// effectiveGroups lists a user's groups, nested included, with whether each
// is direct. UNION (not UNION ALL) makes the recursion stop on cycles.
const effectiveGroups = `WITH RECURSIVE eff(id) AS (
	SELECT group_id FROM user_groups WHERE user_id = ?1
	UNION
	SELECT gg.parent_id FROM group_groups gg JOIN eff ON gg.child_id = eff.id
)
SELECT g.name, EXISTS (SELECT 1 FROM user_groups ug WHERE ug.user_id = ?1 AND ug.group_id = g.id)
FROM groups g JOIN eff ON g.id = eff.id
ORDER BY g.name`

func (s *Store) fillGroups(ctx context.Context, u *ldapbridge.User) error {
	rows, err := s.query(ctx, effectiveGroups, u.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	u.DirectGroups, u.Groups = []string{}, []string{}
	for rows.Next() {
		var name string
		var direct bool
		if err := rows.Scan(&name, &direct); err != nil {
			return err
		}
		u.Groups = append(u.Groups, name)
		if direct {
			u.DirectGroups = append(u.DirectGroups, name)
		}
	}
	return rows.Err()
}

// User returns the user with exactly this username.
func (s *Store) User(ctx context.Context, username string) (*ldapbridge.User, error) {
	return s.oneUser(ctx, fmt.Sprintf("user %q", username), `u.username = ?`, username)
}

// UserByID returns the user with this id.
func (s *Store) UserByID(ctx context.Context, id int64) (*ldapbridge.User, error) {
	return s.oneUser(ctx, fmt.Sprintf("user id %d", id), `u.id = ?`, id)
}

// UserByStableID returns the user with this directory identity; "" matches nobody.
func (s *Store) UserByStableID(ctx context.Context, stableID string) (*ldapbridge.User, error) {
	what := fmt.Sprintf("user with stable id %q", stableID)
	if stableID == "" {
		return nil, notFound(what)
	}
	return s.oneUser(ctx, what, `u.stable_id = ?`, stableID)
}

// userFields maps the fields UserByField accepts to their conditions.
var userFields = map[string]string{
	"username":   `u.username = ?`,
	"first_name": `u.first_name = ?`,
	"last_name":  `u.last_name = ?`,
	"email":      `lower(u.email) = lower(?)`,
	"dn":         `lower(u.dn) = lower(?)`,
}

// UserByField returns the one user whose field equals value; email and dn
// compare case-insensitively. An empty value matches nobody.
func (s *Store) UserByField(ctx context.Context, field, value string) (*ldapbridge.User, error) {
	cond, ok := userFields[field]
	if !ok {
		return nil, fmt.Errorf("sqlite: user by field %q: unknown field — use username, email, first_name, last_name or dn", field)
	}
	what := fmt.Sprintf("user with %s %q", field, value)
	if value == "" {
		return nil, notFound(what)
	}
	return s.oneUser(ctx, what, cond, value)
}

// likeEscaper escapes LIKE wildcards so a search matches them literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListUsers returns the users matching q, sorted by username in byte order.
func (s *Store) ListUsers(ctx context.Context, q ldapbridge.UserQuery) ([]*ldapbridge.User, error) {
	if q.Limit < 0 || q.Offset < 0 {
		return nil, fmt.Errorf("sqlite: list users: limit %d and offset %d must not be negative", q.Limit, q.Offset)
	}
	var where []string
	var args []any
	if q.Source != "" {
		where = append(where, `u.source = ?`)
		args = append(args, q.Source)
	}
	if q.Search != "" {
		pat := "%" + likeEscaper.Replace(strings.ToLower(q.Search)) + "%"
		var ors []string
		for _, col := range []string{"username", "first_name", "last_name", "email"} {
			ors = append(ors, `lower(u.`+col+`) LIKE ? ESCAPE '\'`)
			args = append(args, pat)
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if q.Group != "" {
		where = append(where, `u.id IN (SELECT ug.user_id FROM user_groups ug JOIN groups g ON g.id = ug.group_id WHERE g.name = ?)`)
		args = append(args, q.Group)
	}
	stmt := `SELECT ` + userCols + ` FROM users u`
	if len(where) > 0 {
		stmt += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := int64(-1)
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	stmt += ` ORDER BY u.username LIMIT ? OFFSET ?`
	args = append(args, limit, q.Offset)
	rows, err := s.query(ctx, stmt, args...)
	if err != nil {
		return nil, wrap(err, "list users")
	}
	defer rows.Close()
	out := []*ldapbridge.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap(err, "list users")
		}
		out = append(out, u)
	}
	return out, wrap(rows.Err(), "list users")
}

// userValues validates u and encodes its JSON columns.
func userValues(u *ldapbridge.User, what string) (flags, profile string, err error) {
	if u.Username == "" {
		return "", "", fmt.Errorf("sqlite: %s: username is empty", what)
	}
	if u.Source != ldapbridge.SourceLDAP && u.Source != ldapbridge.SourceLocal {
		return "", "", fmt.Errorf("sqlite: %s: source %q must be %q or %q", what, u.Source, ldapbridge.SourceLDAP, ldapbridge.SourceLocal)
	}
	f, p := u.Flags, u.Profile
	if f == nil {
		f = map[string]bool{}
	}
	if p == nil {
		p = map[string]string{}
	}
	fb, err := json.Marshal(f)
	if err != nil {
		return "", "", fmt.Errorf("sqlite: %s: flags: %w", what, err)
	}
	pb, err := json.Marshal(p)
	if err != nil {
		return "", "", fmt.Errorf("sqlite: %s: profile: %w", what, err)
	}
	return string(fb), string(pb), nil
}

const insertUser = `INSERT INTO users (username, source, dn, stable_id, first_name, last_name, email,
	is_active, is_staff, is_superuser, flags, profile, password_hash,
	created_at, updated_at, last_login_at, last_synced_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const upsertPhoto = `INSERT INTO photos (user_id, data) VALUES (?, ?)
ON CONFLICT (user_id) DO UPDATE SET data = excluded.data`

// CreateUser inserts u with its profile, flags and photo (when len(u.Photo)
// > 0), and sets u.ID, u.CreatedAt, u.UpdatedAt and u.HasPhoto.
func (s *Store) CreateUser(ctx context.Context, u *ldapbridge.User) error {
	what := fmt.Sprintf("create user %q", u.Username)
	flags, profile, err := userValues(u, what)
	if err != nil {
		return err
	}
	t := now()
	var id int64
	err = s.inTx(ctx, func(tx *Store) error {
		res, err := tx.exec(ctx, insertUser, u.Username, u.Source, u.DN, u.StableID, u.FirstName, u.LastName, u.Email,
			u.IsActive, u.IsStaff, u.IsSuperuser, flags, profile, u.PasswordHash,
			toMS(t), toMS(t), toNullMS(u.LastLoginAt), toNullMS(u.LastSyncedAt))
		if err != nil {
			return wrap(err, what)
		}
		if id, err = res.LastInsertId(); err != nil {
			return wrap(err, what)
		}
		if len(u.Photo) > 0 {
			if _, err := tx.exec(ctx, upsertPhoto, id, u.Photo); err != nil {
				return wrap(err, what+": photo")
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	u.ID, u.CreatedAt, u.UpdatedAt, u.HasPhoto = id, t, t, len(u.Photo) > 0
	return nil
}

const updateUser = `UPDATE users SET username = ?, source = ?, dn = ?, stable_id = ?, first_name = ?,
	last_name = ?, email = ?, is_active = ?, is_staff = ?, is_superuser = ?, flags = ?, profile = ?,
	password_hash = ?, updated_at = ?, last_login_at = ?, last_synced_at = ?
WHERE id = ?`

// UpdateUser writes every field of u, found by u.ID, and sets u.UpdatedAt.
// The photo is replaced when len(u.Photo) > 0, cleared when u.HasPhoto is
// false, and kept otherwise.
func (s *Store) UpdateUser(ctx context.Context, u *ldapbridge.User) error {
	what := fmt.Sprintf("update user id %d (%q)", u.ID, u.Username)
	flags, profile, err := userValues(u, what)
	if err != nil {
		return err
	}
	t := now()
	err = s.inTx(ctx, func(tx *Store) error {
		res, err := tx.exec(ctx, updateUser, u.Username, u.Source, u.DN, u.StableID, u.FirstName, u.LastName, u.Email,
			u.IsActive, u.IsStaff, u.IsSuperuser, flags, profile, u.PasswordHash,
			toMS(t), toNullMS(u.LastLoginAt), toNullMS(u.LastSyncedAt), u.ID)
		if err := mustAffect(res, err, what); err != nil {
			return err
		}
		switch {
		case len(u.Photo) > 0:
			_, err = tx.exec(ctx, upsertPhoto, u.ID, u.Photo)
		case !u.HasPhoto:
			_, err = tx.exec(ctx, `DELETE FROM photos WHERE user_id = ?`, u.ID)
		}
		return wrap(err, what+": photo")
	})
	if err != nil {
		return err
	}
	u.UpdatedAt = t
	if len(u.Photo) > 0 {
		u.HasPhoto = true
	}
	return nil
}

// DeleteUser removes the user with its photo and memberships.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	res, err := s.exec(ctx, `DELETE FROM users WHERE id = ?`, id)
	return mustAffect(res, err, fmt.Sprintf("delete user id %d", id))
}

// Photo returns the user's photo bytes, or ErrNotFound.
func (s *Store) Photo(ctx context.Context, userID int64) ([]byte, error) {
	var data []byte
	err := s.queryRow(ctx, `SELECT data FROM photos WHERE user_id = ?`, userID).Scan(&data)
	if err != nil {
		return nil, wrap(err, fmt.Sprintf("photo of user id %d", userID))
	}
	return data, nil
}

// RecordLogin sets the user's last_login_at to at (kept at ms precision).
func (s *Store) RecordLogin(ctx context.Context, userID int64, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, toMS(at), userID)
	return mustAffect(res, err, fmt.Sprintf("record login of user id %d", userID))
}
