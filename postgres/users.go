package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ldapbridge/ldapbridge"
)

const userCols = `u.id, u.username, u.source, u.dn, u.stable_id, u.first_name, u.last_name, u.email,
	u.is_active, u.is_staff, u.is_superuser, u.flags, u.profile, u.password_hash,
	u.created_at, u.updated_at, u.last_login_at, u.last_synced_at,
	EXISTS (SELECT 1 FROM photos p WHERE p.user_id = u.id)`

func scanUser(row pgx.Row) (*ldapbridge.User, error) {
	var (
		u                  ldapbridge.User
		flags, profile     []byte
		lastLogin, lastSyn *time.Time
	)
	err := row.Scan(&u.ID, &u.Username, &u.Source, &u.DN, &u.StableID, &u.FirstName, &u.LastName, &u.Email,
		&u.IsActive, &u.IsStaff, &u.IsSuperuser, &flags, &profile, &u.PasswordHash,
		&u.CreatedAt, &u.UpdatedAt, &lastLogin, &lastSyn, &u.HasPhoto)
	if err != nil {
		return nil, err
	}
	u.Flags = map[string]bool{}
	if err := json.Unmarshal(flags, &u.Flags); err != nil {
		return nil, fmt.Errorf("user %q: flags column: %w", u.Username, err)
	}
	u.Profile = map[string]string{}
	if err := json.Unmarshal(profile, &u.Profile); err != nil {
		return nil, fmt.Errorf("user %q: profile column: %w", u.Username, err)
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	u.LastLoginAt, u.LastSyncedAt = utcPtr(lastLogin), utcPtr(lastSyn)
	return &u, nil
}

// oneUser reads the user selected by where, with its group lists.
func (s *Store) oneUser(ctx context.Context, what, where string, args ...any) (*ldapbridge.User, error) {
	rows, err := s.q.Query(ctx, `SELECT `+userCols+` FROM users u WHERE `+where+` LIMIT 2`, args...)
	if err != nil {
		return nil, wrap(err, what)
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ldapbridge.User, error) { return scanUser(r) })
	if err != nil {
		return nil, wrap(err, what)
	}
	switch len(found) {
	case 0:
		return nil, notFound(what)
	case 1:
	default:
		return nil, fmt.Errorf("postgres: %s: %w", what, ldapbridge.ErrAmbiguous)
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
	SELECT group_id FROM user_groups WHERE user_id = $1
	UNION
	SELECT gg.parent_id FROM group_groups gg JOIN eff ON gg.child_id = eff.id
)
SELECT g.name, EXISTS (SELECT 1 FROM user_groups ug WHERE ug.user_id = $1 AND ug.group_id = g.id)
FROM groups g JOIN eff ON g.id = eff.id
ORDER BY g.name`

func (s *Store) fillGroups(ctx context.Context, u *ldapbridge.User) error {
	rows, err := s.q.Query(ctx, effectiveGroups, u.ID)
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

// User returns the user with exactly this username (byte comparison).
func (s *Store) User(ctx context.Context, username string) (*ldapbridge.User, error) {
	return s.oneUser(ctx, fmt.Sprintf("user %q", username), `u.username = $1`, username)
}

// UserByID returns the user with this id.
func (s *Store) UserByID(ctx context.Context, id int64) (*ldapbridge.User, error) {
	return s.oneUser(ctx, fmt.Sprintf("user id %d", id), `u.id = $1`, id)
}

// UserByStableID returns the user with this directory identity; "" matches nobody.
func (s *Store) UserByStableID(ctx context.Context, stableID string) (*ldapbridge.User, error) {
	what := fmt.Sprintf("user with stable id %q", stableID)
	if stableID == "" {
		return nil, notFound(what)
	}
	return s.oneUser(ctx, what, `u.stable_id = $1`, stableID)
}

// userFields maps the fields UserByField accepts to their conditions.
var userFields = map[string]string{
	"username":   `u.username = $1`,
	"first_name": `u.first_name = $1`,
	"last_name":  `u.last_name = $1`,
	"email":      `lower(u.email) = lower($1)`,
	"dn":         `lower(u.dn) = lower($1)`,
}

// UserByField returns the one user whose field equals value; email and dn
// compare case-insensitively. An empty value matches nobody.
func (s *Store) UserByField(ctx context.Context, field, value string) (*ldapbridge.User, error) {
	cond, ok := userFields[field]
	if !ok {
		return nil, fmt.Errorf("postgres: user by field %q: unknown field — use username, email, first_name, last_name or dn", field)
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
		return nil, fmt.Errorf("postgres: list users: limit %d and offset %d must not be negative", q.Limit, q.Offset)
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.Source != "" {
		where = append(where, `u.source = `+arg(q.Source))
	}
	if q.Search != "" {
		p := arg("%" + likeEscaper.Replace(strings.ToLower(q.Search)) + "%")
		var ors []string
		for _, col := range []string{"username", "first_name", "last_name", "email"} {
			ors = append(ors, `lower(u.`+col+`) LIKE `+p+` ESCAPE '\'`)
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if q.Group != "" {
		where = append(where, `u.id IN (SELECT ug.user_id FROM user_groups ug JOIN groups g ON g.id = ug.group_id WHERE g.name = `+arg(q.Group)+`)`)
	}
	stmt := `SELECT ` + userCols + ` FROM users u`
	if len(where) > 0 {
		stmt += ` WHERE ` + strings.Join(where, " AND ")
	}
	var limit *int64 // NULL: no limit
	if q.Limit > 0 {
		l := int64(q.Limit)
		limit = &l
	}
	stmt += ` ORDER BY u.username LIMIT ` + arg(limit) + ` OFFSET ` + arg(int64(q.Offset))
	rows, err := s.q.Query(ctx, stmt, args...)
	if err != nil {
		return nil, wrap(err, "list users")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ldapbridge.User, error) { return scanUser(r) })
	if err != nil {
		return nil, wrap(err, "list users")
	}
	if out == nil {
		out = []*ldapbridge.User{}
	}
	return out, nil
}

// userValues validates u and encodes its JSON columns.
func userValues(u *ldapbridge.User, what string) (flags, profile string, err error) {
	if u.Username == "" {
		return "", "", fmt.Errorf("postgres: %s: username is empty", what)
	}
	if u.Source != ldapbridge.SourceLDAP && u.Source != ldapbridge.SourceLocal {
		return "", "", fmt.Errorf("postgres: %s: source %q must be %q or %q", what, u.Source, ldapbridge.SourceLDAP, ldapbridge.SourceLocal)
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
		return "", "", fmt.Errorf("postgres: %s: flags: %w", what, err)
	}
	pb, err := json.Marshal(p)
	if err != nil {
		return "", "", fmt.Errorf("postgres: %s: profile: %w", what, err)
	}
	return string(fb), string(pb), nil
}

// photoArg is the photo parameter: NULL when there is none to write.
func photoArg(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// insertUser inserts the user and its photo in one statement; a taken
// username or stable id yields no row instead of an error, so a caller's
// transaction stays usable.
const insertUser = `WITH u AS (
	INSERT INTO users (username, source, dn, stable_id, first_name, last_name, email,
		is_active, is_staff, is_superuser, flags, profile, password_hash,
		created_at, updated_at, last_login_at, last_synced_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13, $14, $14, $15, $16)
	ON CONFLICT DO NOTHING
	RETURNING id
), p AS (
	INSERT INTO photos (user_id, data) SELECT id, $17 FROM u WHERE $17::bytea IS NOT NULL
)
SELECT id FROM u`

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
	err = s.q.QueryRow(ctx, insertUser, u.Username, u.Source, u.DN, u.StableID, u.FirstName, u.LastName, u.Email,
		u.IsActive, u.IsStaff, u.IsSuperuser, flags, profile, u.PasswordHash,
		t, msPtr(u.LastLoginAt), msPtr(u.LastSyncedAt), photoArg(u.Photo)).Scan(&id)
	if err == pgx.ErrNoRows {
		return conflict(what, "the username or stable id is taken")
	}
	if err != nil {
		return wrap(err, what)
	}
	u.ID, u.CreatedAt, u.UpdatedAt, u.HasPhoto = id, t, t, len(u.Photo) > 0
	return nil
}

// updateUser writes the row and its photo in one statement, unless another
// user holds the new username or stable id.
const updateUser = `WITH clash AS (
	SELECT 1 FROM users WHERE id <> $16 AND (username = $1 OR ($4 <> '' AND stable_id = $4)) LIMIT 1
), upd AS (
	UPDATE users SET username = $1, source = $2, dn = $3, stable_id = $4, first_name = $5,
		last_name = $6, email = $7, is_active = $8, is_staff = $9, is_superuser = $10,
		flags = $11::jsonb, profile = $12::jsonb, password_hash = $13, updated_at = $14,
		last_login_at = $15, last_synced_at = $17
	WHERE id = $16 AND NOT EXISTS (SELECT 1 FROM clash)
	RETURNING id
), put AS (
	INSERT INTO photos (user_id, data) SELECT id, $18 FROM upd WHERE $18::bytea IS NOT NULL
	ON CONFLICT (user_id) DO UPDATE SET data = excluded.data
), del AS (
	DELETE FROM photos WHERE user_id IN (SELECT id FROM upd) AND $19::boolean
)
SELECT EXISTS (SELECT 1 FROM upd), EXISTS (SELECT 1 FROM clash)`

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
	clear := len(u.Photo) == 0 && !u.HasPhoto
	var updated, clashed bool
	err = s.q.QueryRow(ctx, updateUser, u.Username, u.Source, u.DN, u.StableID, u.FirstName, u.LastName, u.Email,
		u.IsActive, u.IsStaff, u.IsSuperuser, flags, profile, u.PasswordHash,
		t, msPtr(u.LastLoginAt), u.ID, msPtr(u.LastSyncedAt), photoArg(u.Photo), clear).Scan(&updated, &clashed)
	switch {
	case err != nil:
		return wrap(err, what)
	case clashed:
		return conflict(what, "another user has this username or stable id")
	case !updated:
		return notFound(what)
	}
	u.UpdatedAt = t
	if len(u.Photo) > 0 {
		u.HasPhoto = true
	}
	return nil
}

// DeleteUser removes the user with its photo and memberships.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	tag, err := s.q.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	return mustAffect(tag, err, fmt.Sprintf("delete user id %d", id))
}

// Photo returns the user's photo bytes, or ErrNotFound.
func (s *Store) Photo(ctx context.Context, userID int64) ([]byte, error) {
	var data []byte
	err := s.q.QueryRow(ctx, `SELECT data FROM photos WHERE user_id = $1`, userID).Scan(&data)
	if err != nil {
		return nil, wrap(err, fmt.Sprintf("photo of user id %d", userID))
	}
	return data, nil
}

// RecordLogin sets the user's last_login_at to at (kept at ms precision).
func (s *Store) RecordLogin(ctx context.Context, userID int64, at time.Time) error {
	tag, err := s.q.Exec(ctx, `UPDATE users SET last_login_at = $1 WHERE id = $2`, ms(at), userID)
	return mustAffect(tag, err, fmt.Sprintf("record login of user id %d", userID))
}
