package sqlcore

import (
	"context"
	"fmt"
	"strconv"
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

// jsonChunk is the most rows one JSON-list INSERT carries: big enough that
// a sync's thousands of changes take a few statements, small enough that
// the list's text stays a few megabytes.
const jsonChunk = 4000

// bulkInsert inserts rows (each of len(cols) values) into table the
// cheapest way the database offers: COPY where the DB is a Copier, one
// JSON list parameter per chunk where the dialect reads them (JSONRows:
// modernc's SQLite binds each parameter at a cost that grows with the
// statement's parameter count, so a multi-row VALUES list of many
// parameters is slow there), else multi-row INSERTs (insertRows). Values
// are nil, int64, int, bool, float64 or string.
func (s *Store) bulkInsert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if c, ok := s.db.(Copier); ok {
		_, err := c.CopyFrom(ctx, table, cols, rows)
		return err
	}
	if !s.d.JSONRows {
		return s.insertRows(ctx, table, strings.Join(cols, ", "), len(cols), rows)
	}
	var sel strings.Builder
	for i := range cols {
		if i > 0 {
			sel.WriteString(", ")
		}
		fmt.Fprintf(&sel, "x.value ->> %d", i)
	}
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") SELECT " + sel.String() + " FROM json_each($1) x"
	var buf []byte
	for start := 0; start < len(rows); start += jsonChunk {
		chunk := rows[start:min(start+jsonChunk, len(rows))]
		buf = appendJSONRows(buf[:0], chunk)
		if _, err := s.db.Exec(ctx, q, string(buf)); err != nil {
			return err
		}
	}
	return nil
}

// appendJSONRows appends rows as a JSON list of lists.
func appendJSONRows(b []byte, rows [][]any) []byte {
	b = append(b, '[')
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, v := range r {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONValue(b, v)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

func appendJSONValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case bool:
		if v {
			return append(b, '1')
		}
		return append(b, '0')
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case string:
		return appendJSONString(b, v)
	case []byte:
		return appendJSONString(b, string(v))
	}
	panic(fmt.Sprintf("sqlcore: bulk insert of a %T", v))
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
// as the sync hash of users[i] (as SetSyncHash), with one statement per
// few thousand users where the dialect reads JSON lists (JSONRows), else
// user by user. A taken username or stable id fails the whole call with
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
		if !s.d.JSONRows {
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
		var sel strings.Builder
		for i := range syncedUserCols {
			if i > 0 {
				sel.WriteString(", ")
			}
			fmt.Fprintf(&sel, "x.value ->> %d", i)
		}
		q := "INSERT INTO users (" + strings.Join(syncedUserCols, ", ") + ") SELECT " + sel.String() +
			" FROM json_each($1) x WHERE true ON CONFLICT DO NOTHING RETURNING id, username"
		var buf []byte
		for start := 0; start < len(rows); start += jsonChunk {
			buf = appendJSONRows(buf[:0], rows[start:min(start+jsonChunk, len(rows))])
			var id int64
			var name string
			if err := tx.each(ctx, q, []any{&id, &name}, func(Rows) error { ids[name] = id; return nil }, string(buf)); err != nil {
				return s.d.Wrap(err, "create synced users")
			}
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
