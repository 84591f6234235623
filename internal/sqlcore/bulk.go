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
// (Dialect.AnonParams), as many rows per statement as the limit allows,
// so the full-size statement is prepared once and reused. suffix ends
// each statement ("ON CONFLICT ..."); with fn, each row it returns
// ("RETURNING ...") is scanned into dest and handed to fn.
func (s *Store) insertAnon(ctx context.Context, table string, cols []string, rows [][]any, suffix string, fn func() error, dest ...any) error {
	width := len(cols)
	per := max(1, s.d.AnonParams/width)
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	one := "(" + strings.Repeat("?, ", width-1) + "?)"
	var q string
	args := make([]any, 0, min(per, len(rows))*width)
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		if q == "" || len(chunk) != per {
			q = head + strings.Repeat(one+", ", len(chunk)-1) + one + suffix
		}
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r...)
		}
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
