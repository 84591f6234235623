package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/sqlcore"
)

// insertUserWithPhoto is the core's InsertUser and the user's photo
// ($20, NULL for none) in one statement.
const insertUserWithPhoto = `WITH u AS (` + sqlcore.InsertUser + ` RETURNING id), p AS (
	INSERT INTO photos (user_id, data) SELECT id, $20 FROM u WHERE $20::bytea IS NOT NULL
)
SELECT id FROM u`

// CreateSyncedUsers creates users as CreateUser does and records hashes[i]
// as the sync hash of users[i] (as SetSyncHash), sending every statement
// in one round trip. On a conflict it returns an ErrConflict error naming
// the user, and the caller must roll back: it runs only on the Store of an
// InTx callback.
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
	b := &pgx.Batch{}
	for _, u := range users {
		args, err := dialect.UserArgs(u, fmt.Sprintf("create user %q", u.Username), t)
		if err != nil {
			return err
		}
		var photo []byte // NULL when there is none to write
		if len(u.Photo) > 0 {
			photo = u.Photo
		}
		b.Queue(insertUserWithPhoto, append(args, photo)...)
	}
	// The new ids are not known when the batch is sent: match by username.
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.Username
	}
	b.Queue(`UPDATE users SET sync_hash = v.hash FROM unnest($1::text[], $2::text[]) AS v(username, hash)
WHERE users.username = v.username`, names, hashes)
	br := s.tx.SendBatch(ctx, b)
	var first error
	for _, u := range users {
		what := fmt.Sprintf("create user %q", u.Username)
		var id int64
		err := br.QueryRow().Scan(&id)
		switch {
		case first != nil:
			continue // read the rest so the batch ends cleanly
		case errors.Is(err, pgx.ErrNoRows):
			first = dialect.Conflict(what, "the username or stable id is taken")
		case err != nil:
			first = wrap(err, what)
		default:
			u.ID, u.CreatedAt, u.UpdatedAt, u.HasPhoto = id, t, t, len(u.Photo) > 0
		}
	}
	if _, err := br.Exec(); err != nil && first == nil {
		first = wrap(err, "record sync hashes")
	}
	if err := br.Close(); err != nil && first == nil {
		first = wrap(err, "create synced users")
	}
	return first
}
