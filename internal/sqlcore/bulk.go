package sqlcore

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ldapbridge/ldapbridge"
)

// Copier is a DB that bulk-loads rows into a table in one round trip
// (PostgreSQL's COPY, pgx.Conn.CopyFrom). Each value must be of the Go
// type the column's codec takes (int64 or nil, string, bool, time.Time).
type Copier interface {
	CopyFrom(ctx context.Context, table string, cols []string, rows [][]any) (int64, error)
}

// bulkInsert inserts rows (each of len(cols) values) into table the
// cheapest way the database offers: COPY where the DB is a Copier,
// multi-row INSERTs of anonymous parameters where the dialect wants them
// (AnonParams: SQLite), else multi-row INSERTs of numbered ones
// (insertRows).
func (s *Store) bulkInsert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if c, ok := s.db.(Copier); ok {
		_, err := c.CopyFrom(ctx, table, cols, rows)
		return err
	}
	if s.d.AnonParams > 0 {
		return s.insertAnon(ctx, table, cols, rows, "", nil)
	}
	return s.insertRows(ctx, table, strings.Join(cols, ", "), len(cols), rows)
}

// insertAnon inserts rows with multi-row INSERTs of anonymous parameters
// (Dialect.AnonParams), as many rows per statement as the limit allows.
// Statements come in three sizes only (full, 16 rows, 1 row), so a driver
// that keeps its prepared statements (SQLite's write connection) keeps
// three per table, not one per remainder. suffix ends each statement
// ("ON CONFLICT ..."); with fn, each row it returns ("RETURNING ...") is
// scanned into dest and handed to fn.
func (s *Store) insertAnon(ctx context.Context, table string, cols []string, rows [][]any, suffix string, fn func() error, dest ...any) error {
	width := len(cols)
	full := max(1, s.d.AnonParams/width)
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	one := "(" + strings.Repeat("?, ", width-1) + "?)"
	queries := map[int]string{}
	args := make([]any, 0, min(full, len(rows))*width)
	for start := 0; start < len(rows); {
		n := 1
		switch left := len(rows) - start; {
		case left >= full:
			n = full
		case left >= 16:
			n = 16
		}
		q, ok := queries[n]
		if !ok {
			q = head + strings.Repeat(one+", ", n-1) + one + suffix
			queries[n] = q
		}
		args = args[:0]
		for _, r := range rows[start : start+n] {
			args = append(args, r...)
		}
		start += n
		var err error
		if fn == nil {
			_, err = s.db.Exec(ctx, q, args...)
		} else {
			err = s.each(ctx, q, dest, func(Rows) error { return fn() }, args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// appendJSONString appends s as a JSON string. Bytes that are not UTF-8
// become U+FFFD, as encoding/json writes them.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONStrings appends ss as a JSON list of strings ([] for none).
func appendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// syncedUserCols are the columns CreateSyncedUsers writes: InsertUser's
// ($16 twice: created_at and updated_at) and the sync hash.
var syncedUserCols = []string{"username", "source", "dn", "stable_id", "first_name", "last_name", "email",
	"is_active", "is_staff", "is_superuser", "flags", "profile", "password_hash",
	"last_login_at", "last_synced_at", "created_at", "updated_at", "verdict", "verdict_reason", "directory", "sync_hash"}

// CreateSyncedUsers creates users as CreateUser does and records hashes[i]
// as the sync hash of users[i] (as SetSyncHash), with one multi-row
// INSERT per few hundred users where the dialect wants anonymous
// parameters (AnonParams), else user by user. A taken username or stable id fails the whole call with
// an ErrConflict error; the caller rolls back (a sync then writes the
// batch user by user, which names the user). It runs in the caller's
// transaction when s is one.
func (s *Store) CreateSyncedUsers(ctx context.Context, users []*ldapbridge.User, hashes []string) error {
	if len(users) != len(hashes) {
		return s.d.errorf("create synced users: %d users but %d hashes", len(users), len(hashes))
	}
	if len(users) == 0 {
		return nil
	}
	t := Now()
	rows := make([][]any, len(users))
	for i, u := range users {
		args, err := s.d.UserArgs(u, fmt.Sprintf("create user %q", u.Username), t)
		if err != nil {
			return err
		}
		// InsertUser's $16 is both created_at and updated_at.
		rows[i] = append(append(args[:16:16], args[15:]...), hashes[i])
	}
	return s.inTx(ctx, func(tx *Store) error {
		if s.d.AnonParams == 0 {
			for i, u := range users {
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
				if err := tx.SetSyncHash(ctx, u.ID, hashes[i]); err != nil {
					return err
				}
			}
			return nil
		}
		ids := make(map[string]int64, len(users))
		var id int64
		var name string
		err := tx.insertAnon(ctx, "users", syncedUserCols, rows, " ON CONFLICT DO NOTHING RETURNING id, username",
			func() error { ids[name] = id; return nil }, &id, &name)
		if err != nil {
			return s.d.Wrap(err, "create synced users")
		}
		for i, u := range users {
			id, ok := ids[u.Username]
			if !ok {
				return s.d.Conflict(fmt.Sprintf("create user %q", u.Username), "the username or stable id is taken")
			}
			u.ID, u.CreatedAt, u.UpdatedAt, u.HasPhoto = id, t, t, len(u.Photo) > 0
			if len(u.Photo) == 0 {
				continue
			}
			// The photo's trigger clears the sync hash: set it again.
			if _, err := tx.db.Exec(ctx, upsertPhoto, id, u.Photo); err != nil {
				return s.d.Wrap(err, fmt.Sprintf("create user %q", u.Username))
			}
			if err := tx.SetSyncHash(ctx, id, hashes[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// CreateSyncedGroups inserts new directory groups (Source ldap, each with
// its Directory) in bulk and sets their ID, Source, Directory, CreatedAt
// and UpdatedAt, where the dialect wants anonymous parameters
// (AnonParams), else group by group with UpsertGroup. A group whose name,
// DN or stable id is taken fails the whole call with an ErrConflict error
// and the caller rolls back: a sync then writes its groups one by one with
// UpsertGroup, which says why. It runs in the caller's transaction when s
// is one.
func (s *Store) CreateSyncedGroups(ctx context.Context, gs []*ldapbridge.Group) error {
	if len(gs) == 0 {
		return nil
	}
	if s.d.AnonParams == 0 {
		for _, g := range gs {
			if err := s.UpsertGroup(ctx, g); err != nil {
				return err
			}
		}
		return nil
	}
	if err := CheckSyncedGroups(s.d, gs); err != nil {
		return err
	}
	t := Now()
	rows := make([][]any, len(gs))
	for i, g := range gs {
		dir := g.Directory
		if dir == "" {
			dir = ldapbridge.DefaultDirectory
		}
		rows[i] = []any{g.Name, ldapbridge.SourceLDAP, dir, g.DN, g.StableID, s.d.Time(t), s.d.Time(t)}
	}
	ids := make(map[string]int64, len(gs))
	var id int64
	var name string
	err := s.inTx(ctx, func(tx *Store) error {
		return tx.insertAnon(ctx, "groups", []string{"name", "source", "directory", "dn", "stable_id", "created_at", "updated_at"}, rows,
			" ON CONFLICT DO NOTHING RETURNING id, name", func() error { ids[name] = id; return nil }, &id, &name)
	})
	if err != nil {
		return s.d.Wrap(err, "create synced groups")
	}
	for _, g := range gs {
		id, ok := ids[g.Name]
		if !ok {
			return s.d.Conflict(fmt.Sprintf("create group %q", g.Name), "the name or stable id is taken")
		}
		g.ID, g.Source, g.CreatedAt, g.UpdatedAt = id, ldapbridge.SourceLDAP, t, t
		if g.Directory == "" {
			g.Directory = ldapbridge.DefaultDirectory
		}
	}
	return nil
}

// CheckSyncedGroups checks the groups of a CreateSyncedGroups: named
// directory groups, no two with one name or one stable id (UpsertGroup,
// one by one, would make the second update the first).
func CheckSyncedGroups(d *Dialect, gs []*ldapbridge.Group) error {
	seen := make(map[string]bool, 2*len(gs))
	for _, g := range gs {
		what := fmt.Sprintf("create group %q", g.Name)
		if g.Name == "" || (g.Source != "" && g.Source != ldapbridge.SourceLDAP) {
			return d.errorf("%s (dn %q): want a named directory group", what, g.DN)
		}
		if seen["name:"+g.Name] || (g.StableID != "" && seen["stable:"+g.Directory+":"+g.StableID]) {
			return d.Conflict(what, "two groups of the batch share its name or stable id")
		}
		seen["name:"+g.Name], seen["stable:"+g.Directory+":"+g.StableID] = true, true
	}
	return nil
}

// AddSyncedMemberships adds the user edges ms (UserID set) of users a sync
// has just created in the caller's transaction: none of them can exist
// yet, so they are inserted in bulk (bulkInsert: COPY on PostgreSQL)
// without AddMemberships' check that every id names a row; the schema's
// foreign keys still refuse an id that names nothing (ErrNotFound).
func (s *Store) AddSyncedMemberships(ctx context.Context, ms []ldapbridge.Membership) error {
	rows := make([][]any, len(ms))
	vals := make([]any, 2*len(ms))
	for i, m := range ms {
		if m.GroupID == 0 || m.UserID == 0 || m.ChildGroupID != 0 {
			return s.d.errorf("add synced memberships: membership %+v: want a user edge", m)
		}
		vals[2*i], vals[2*i+1] = m.UserID, m.GroupID
		rows[i] = vals[2*i : 2*i+2 : 2*i+2]
	}
	return s.d.Wrap(s.bulkInsert(ctx, "user_groups", []string{"user_id", "group_id"}, rows), "add synced memberships")
}
