package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/sqlcore"
)

// CreateSyncedUsers creates users as CreateUser does and records hashes[i]
// as the sync hash of users[i] (as SetSyncHash): one COPY of the rows with
// their hashes, one query for the new ids, and for the users with a photo
// one COPY of the photos and one update of their hashes (the photo's
// trigger clears it). A taken username or stable id fails the COPY with an
// ErrConflict error, and the caller must roll back: it runs only on the
// Store of an InTx callback.
func (s *Store) CreateSyncedUsers(ctx context.Context, users []*ldapbridge.User, hashes []string) error {
	if len(users) != len(hashes) {
		return fmt.Errorf("postgres: create synced users: %d users but %d hashes", len(users), len(hashes))
	}
	if s.tx == nil {
		return errors.New("postgres: CreateSyncedUsers runs only inside InTx")
	}
	if len(users) == 0 {
		return nil
	}
	t := now()
	rows := make([][]any, len(users))
	names := make([]string, len(users))
	for i, u := range users {
		args, err := dialect.UserArgs(u, fmt.Sprintf("create user %q", u.Username), t)
		if err != nil {
			return err
		}
		// InsertUser's $16 is both created_at and updated_at.
		rows[i] = append(append(args[:16:16], args[15:]...), hashes[i])
		names[i] = u.Username
	}
	if _, err := s.tx.CopyFrom(ctx, pgx.Identifier{"users"}, syncedUserCols, pgx.CopyFromRows(rows)); err != nil {
		return wrap(err, "create synced users")
	}
	ids := make(map[string]int64, len(users))
	r, err := s.tx.Query(ctx, `SELECT id, username FROM users WHERE username = ANY($1::text[])`, names)
	if err != nil {
		return wrap(err, "create synced users")
	}
	var id int64
	var name string
	_, err = pgx.ForEachRow(r, []any{&id, &name}, func() error { ids[name] = id; return nil })
	if err != nil {
		return wrap(err, "create synced users")
	}
	var photos [][]any
	var photoIDs []int64
	var photoHashes []string
	for i, u := range users {
		id, ok := ids[u.Username]
		if !ok {
			return dialect.Conflict(fmt.Sprintf("create user %q", u.Username), "the user was not found after its COPY")
		}
		u.ID, u.CreatedAt, u.UpdatedAt, u.HasPhoto = id, t, t, len(u.Photo) > 0
		if len(u.Photo) > 0 {
			photos = append(photos, []any{id, u.Photo})
			photoIDs, photoHashes = append(photoIDs, id), append(photoHashes, hashes[i])
		}
	}
	if len(photos) == 0 {
		return nil
	}
	if _, err := s.tx.CopyFrom(ctx, pgx.Identifier{"photos"}, []string{"user_id", "data"}, pgx.CopyFromRows(photos)); err != nil {
		return wrap(err, "create synced users: photos")
	}
	_, err = s.tx.Exec(ctx, `UPDATE users SET sync_hash = v.hash FROM unnest($1::bigint[], $2::text[]) AS v(id, hash) WHERE users.id = v.id`, photoIDs, photoHashes)
	return wrap(err, "create synced users: record sync hashes")
}

// syncedUserCols are the columns CreateSyncedUsers copies: InsertUser's
// (created_at and updated_at both $16) and the sync hash.
var syncedUserCols = []string{"username", "source", "dn", "stable_id", "first_name", "last_name", "email",
	"is_active", "is_staff", "is_superuser", "flags", "profile", "password_hash",
	"last_login_at", "last_synced_at", "created_at", "updated_at", "verdict", "verdict_reason", "directory", "sync_hash"}

// CopyFrom loads rows into table with COPY (sqlcore.Copier): the change
// log and membership edges of a sync go in one round trip each.
func (c conn) CopyFrom(ctx context.Context, table string, cols []string, rows [][]any) (int64, error) {
	src := pgx.CopyFromRows(rows)
	if c.s.tx != nil {
		return c.s.tx.CopyFrom(ctx, pgx.Identifier{table}, cols, src)
	}
	return c.s.pool.CopyFrom(ctx, pgx.Identifier{table}, cols, src)
}

// CreateSyncedGroups inserts new directory groups in one statement (see
// sqlcore.Store.CreateSyncedGroups): a taken name or stable id fails the
// whole call with an ErrConflict error, and the caller rolls back.
func (s *Store) CreateSyncedGroups(ctx context.Context, gs []*ldapbridge.Group) error {
	if len(gs) == 0 {
		return nil
	}
	if s.tx == nil {
		return errors.New("postgres: CreateSyncedGroups runs only inside InTx")
	}
	if err := sqlcore.CheckSyncedGroups(dialect, gs); err != nil {
		return err
	}
	t := now()
	names, dirs, dns, stables := make([]string, len(gs)), make([]string, len(gs)), make([]string, len(gs)), make([]string, len(gs))
	for i, g := range gs {
		names[i], dns[i], stables[i] = g.Name, g.DN, g.StableID
		dirs[i] = g.Directory
		if dirs[i] == "" {
			dirs[i] = ldapbridge.DefaultDirectory
		}
	}
	r, err := s.tx.Query(ctx, `INSERT INTO groups (name, source, directory, dn, stable_id, created_at, updated_at)
SELECT v.name, 'ldap', v.dir, v.dn, v.stable, $5, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v(name, dir, dn, stable)
ON CONFLICT DO NOTHING RETURNING id, name`, names, dirs, dns, stables, t)
	if err != nil {
		return wrap(err, "create synced groups")
	}
	ids := make(map[string]int64, len(gs))
	var id int64
	var name string
	if _, err := pgx.ForEachRow(r, []any{&id, &name}, func() error { ids[name] = id; return nil }); err != nil {
		return wrap(err, "create synced groups")
	}
	for i, g := range gs {
		id, ok := ids[g.Name]
		if !ok {
			return dialect.Conflict(fmt.Sprintf("create group %q", g.Name), "the name or stable id is taken")
		}
		g.ID, g.Source, g.Directory, g.CreatedAt, g.UpdatedAt = id, ldapbridge.SourceLDAP, dirs[i], t, t
	}
	return nil
}
