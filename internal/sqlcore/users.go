package sqlcore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

const userCols = `u.id, u.username, u.source, u.directory, u.dn, u.stable_id, u.first_name, u.last_name, u.email,
	u.is_active, u.is_staff, u.is_superuser, u.verdict, u.verdict_reason, u.flags, u.profile, u.password_hash,
	u.created_at, u.updated_at, u.last_login_at, u.last_synced_at,
	EXISTS (SELECT 1 FROM photos p WHERE p.user_id = u.id)`

func scanUser(row Row) (*ldapbridge.User, error) {
	var u ldapbridge.User
	var flags, profile []byte
	err := row.Scan(&u.ID, &u.Username, &u.Source, &u.Directory, &u.DN, &u.StableID, &u.FirstName, &u.LastName, &u.Email,
		&u.IsActive, &u.IsStaff, &u.IsSuperuser, &u.Verdict, &u.VerdictReason, &flags, &profile, &u.PasswordHash,
		at(&u.CreatedAt), at(&u.UpdatedAt), atNull(&u.LastLoginAt), atNull(&u.LastSyncedAt), &u.HasPhoto)
	if err != nil {
		return nil, err
	}
	u.Flags, u.Profile = map[string]bool{}, map[string]string{}
	if err := json.Unmarshal(flags, &u.Flags); err != nil {
		return nil, fmt.Errorf("user %q: flags column: %w", u.Username, err)
	}
	if err := json.Unmarshal(profile, &u.Profile); err != nil {
		return nil, fmt.Errorf("user %q: profile column: %w", u.Username, err)
	}
	return &u, nil
}

// users reads the users a query selects.
func (s *Store) users(ctx context.Context, q string, args ...any) ([]*ldapbridge.User, error) {
	out := []*ldapbridge.User{}
	err := s.each(ctx, q, nil, func(r Rows) error {
		u, err := scanUser(r)
		out = append(out, u)
		return err
	}, args...)
	return out, err
}

// oneUser reads the user selected by where, with its group lists.
func (s *Store) oneUser(ctx context.Context, what, where string, args ...any) (*ldapbridge.User, error) {
	found, err := s.users(ctx, `SELECT `+userCols+` FROM users u WHERE `+where+` LIMIT 2`, args...)
	switch {
	case err != nil:
		return nil, s.d.Wrap(err, what)
	case len(found) == 0:
		return nil, s.d.NotFound(what)
	case len(found) > 1:
		return nil, fmt.Errorf("%s: %s: %w", s.d.Name, what, ldapbridge.ErrAmbiguous)
	}
	u := found[0]
	u.DirectGroups, u.Groups = []string{}, []string{}
	u.LocalGroups = []string{}
	var name, source string
	var direct bool
	// UNION (not UNION ALL) makes the recursion stop on cycles. CROSS JOIN
	// makes SQLite start from the user's few groups and look each up by
	// id, instead of walking every group in name order (PostgreSQL plans
	// it as a plain join).
	err = s.each(ctx, `WITH RECURSIVE eff(id) AS (
	SELECT group_id FROM user_groups WHERE user_id = $1
	UNION
	SELECT gg.parent_id FROM group_groups gg JOIN eff ON gg.child_id = eff.id
)
SELECT g.name, g.source, EXISTS (SELECT 1 FROM user_groups ug WHERE ug.user_id = $1 AND ug.group_id = g.id)
FROM eff CROSS JOIN groups g WHERE g.id = eff.id
ORDER BY g.name`, []any{&name, &source, &direct}, func(Rows) error {
		u.Groups = append(u.Groups, name)
		if source == ldapbridge.SourceLocal {
			u.LocalGroups = append(u.LocalGroups, name)
		}
		if direct {
			u.DirectGroups = append(u.DirectGroups, name)
		}
		return nil
	}, u.ID)
	return u, s.d.Wrap(err, what)
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
// The condition repeats the partial index's own (a non-empty stable_id) so the
// planner can use users_stable_id_key (SQLite, and PostgreSQL's generic
// plan of a prepared statement, cannot infer it from `stable_id = $1`).
func (s *Store) UserByStableID(ctx context.Context, stableID string) (*ldapbridge.User, error) {
	return s.userBy(ctx, fmt.Sprintf("user with stable id %q", stableID), `u.stable_id = $1 AND u.stable_id <> ''`, stableID)
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
		return nil, s.d.errorf("user by field %q: unknown field — use username, email, first_name, last_name or dn", field)
	}
	return s.userBy(ctx, fmt.Sprintf("user with %s %q", field, value), cond, value)
}

// userBy is oneUser for a string value; "" matches nobody.
func (s *Store) userBy(ctx context.Context, what, cond, value string) (*ldapbridge.User, error) {
	if value == "" {
		return nil, s.d.NotFound(what)
	}
	return s.oneUser(ctx, what, cond, value)
}

// likeEscaper escapes LIKE wildcards so a search matches them literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListUsers returns the users matching q, sorted by username in byte order.
func (s *Store) ListUsers(ctx context.Context, q ldapbridge.UserQuery) ([]*ldapbridge.User, error) {
	if q.Limit < 0 || q.Offset < 0 {
		return nil, s.d.errorf("list users: limit %d and offset %d must not be negative", q.Limit, q.Offset)
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
	if q.Directory != "" {
		where = append(where, `u.directory = `+arg(q.Directory))
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
	stmt += ` ORDER BY u.username LIMIT ` + arg(noLimit(q.Limit)) + ` OFFSET ` + arg(int64(q.Offset))
	out, err := s.users(ctx, stmt, args...)
	if err != nil {
		return nil, s.d.Wrap(err, "list users")
	}
	return out, nil
}

// InsertUser inserts a user from UserArgs; a taken username or stable id
// inserts nothing instead of failing, so a caller's transaction stays usable.
const InsertUser = `INSERT INTO users (username, source, dn, stable_id, first_name, last_name, email,
		is_active, is_staff, is_superuser, flags, profile, password_hash,
		last_login_at, last_synced_at, created_at, updated_at, verdict, verdict_reason, directory)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17, $18, $19)
	ON CONFLICT DO NOTHING`

// UserArgs validates u and returns the parameters $1 to $19 of InsertUser
// (t is the creation time), or of updateUser (t is the update time). $19
// is the directory ("" is DefaultDirectory); updateUser never changes it.
func (d *Dialect) UserArgs(u *ldapbridge.User, what string, t time.Time) ([]any, error) {
	if u.Username == "" {
		return nil, d.errorf("%s: username is empty", what)
	}
	if u.Source != ldapbridge.SourceLDAP && u.Source != ldapbridge.SourceLocal {
		return nil, d.errorf("%s: source %q must be %q or %q", what, u.Source, ldapbridge.SourceLDAP, ldapbridge.SourceLocal)
	}
	flags, profile := u.Flags, u.Profile
	if flags == nil {
		flags = map[string]bool{}
	}
	if profile == nil {
		profile = map[string]string{}
	}
	fb, err := json.Marshal(flags)
	if err != nil {
		return nil, d.errorf("%s: flags: %w", what, err)
	}
	pb, err := json.Marshal(profile)
	if err != nil {
		return nil, d.errorf("%s: profile: %w", what, err)
	}
	verdict := u.Verdict
	switch verdict {
	case "":
		verdict = ldapbridge.VerdictOK
	case ldapbridge.VerdictOK, ldapbridge.VerdictRequireGroup, ldapbridge.VerdictDenyGroup, ldapbridge.VerdictInactive, ldapbridge.VerdictRemoved:
	default:
		return nil, d.errorf("%s: verdict %q is not one of ok, require_group, deny_group, inactive, removed", what, verdict)
	}
	return []any{u.Username, u.Source, u.DN, u.StableID, u.FirstName, u.LastName, u.Email,
		u.IsActive, u.IsStaff, u.IsSuperuser, string(fb), string(pb), u.PasswordHash,
		d.nullTime(u.LastLoginAt), d.nullTime(u.LastSyncedAt), d.Time(t), verdict, u.VerdictReason, DirectoryOf(u)}, nil
}

// DirectoryOf is the directory u is stored under: u.Directory, or
// DefaultDirectory when it is "".
func DirectoryOf(u *ldapbridge.User) string {
	if u.Directory == "" {
		return ldapbridge.DefaultDirectory
	}
	return u.Directory
}

const upsertPhoto = `INSERT INTO photos (user_id, data) VALUES ($1, $2)
ON CONFLICT (user_id) DO UPDATE SET data = excluded.data`

// CreateUser inserts u with its profile, flags and photo (when len(u.Photo)
// > 0), and sets u.ID, u.CreatedAt, u.UpdatedAt and u.HasPhoto.
func (s *Store) CreateUser(ctx context.Context, u *ldapbridge.User) error {
	what := fmt.Sprintf("create user %q", u.Username)
	t := Now()
	args, err := s.d.UserArgs(u, what, t)
	if err != nil {
		return err
	}
	var id int64
	err = s.inTx(ctx, func(tx *Store) error {
		var err error
		id, err = tx.db.Insert(ctx, InsertUser, args...)
		if errors.Is(err, sql.ErrNoRows) {
			return s.d.Conflict(what, "the username or stable id is taken")
		}
		if err == nil && len(u.Photo) > 0 {
			_, err = tx.db.Exec(ctx, upsertPhoto, id, u.Photo)
		}
		return s.d.Wrap(err, what)
	})
	if err != nil {
		return err
	}
	u.ID, u.CreatedAt, u.UpdatedAt, u.HasPhoto = id, t, t, len(u.Photo) > 0
	return nil
}

// updateUser writes the row unless another user holds the new username or
// the stable id in the same directory. The directory column never changes.
const updateUser = `UPDATE users SET username = $1, source = $2, dn = $3, stable_id = $4, first_name = $5,
	last_name = $6, email = $7, is_active = $8, is_staff = $9, is_superuser = $10, flags = $11, profile = $12,
	password_hash = $13, last_login_at = $14, last_synced_at = $15, updated_at = $16, verdict = $17, verdict_reason = $18
WHERE id = $20 AND NOT EXISTS (SELECT 1 FROM users c WHERE c.id <> $20 AND (c.username = $1 OR ($4 <> '' AND c.stable_id = $4 AND c.stable_id <> '' AND c.directory = $19)))`

// UpdateUser writes every field of u, found by u.ID, and sets u.UpdatedAt.
// The photo is replaced when len(u.Photo) > 0, cleared when u.HasPhoto is
// false, and kept otherwise.
func (s *Store) UpdateUser(ctx context.Context, u *ldapbridge.User) error {
	what := fmt.Sprintf("update user id %d (%q)", u.ID, u.Username)
	t := Now()
	args, err := s.d.UserArgs(u, what, t)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx *Store) error {
		n, err := tx.db.Exec(ctx, updateUser, append(args, u.ID)...)
		if err == nil && n == 0 {
			var clash bool
			if err = tx.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id <> $1
				AND (username = $2 OR ($3 <> '' AND stable_id = $3 AND stable_id <> '' AND directory = $4)))`, u.ID, u.Username, u.StableID, DirectoryOf(u)).Scan(&clash); err == nil {
				if clash {
					return s.d.Conflict(what, "another user has this username or stable id")
				}
				return s.d.NotFound(what)
			}
		}
		if err == nil {
			err = tx.dropStaleVerifier(ctx, u)
		}
		switch {
		case err != nil:
		case len(u.Photo) > 0:
			_, err = tx.db.Exec(ctx, upsertPhoto, u.ID, u.Photo)
		case !u.HasPhoto:
			_, err = tx.db.Exec(ctx, `DELETE FROM photos WHERE user_id = $1`, u.ID)
		}
		return s.d.Wrap(err, what)
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
	n, err := s.db.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	return s.d.mustAffect(n, err, fmt.Sprintf("delete user id %d", id))
}

// Photo returns the user's photo bytes, or ErrNotFound.
func (s *Store) Photo(ctx context.Context, userID int64) ([]byte, error) {
	var data []byte
	err := s.db.QueryRow(ctx, `SELECT data FROM photos WHERE user_id = $1`, userID).Scan(&data)
	if err != nil {
		return nil, s.d.Wrap(err, fmt.Sprintf("photo of user id %d", userID))
	}
	return data, nil
}

// RecordLogin sets the user's last_login_at to at (kept at ms precision).
func (s *Store) RecordLogin(ctx context.Context, userID int64, at time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE users SET last_login_at = $1 WHERE id = $2`, s.d.Time(at), userID)
	return s.d.mustAffect(n, err, fmt.Sprintf("record login of user id %d", userID))
}
