package sqlcore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"time"
)

// Sessions is a github.com/alexedwards/scs/v2 session store (scs.CtxStore)
// kept in the sessions table of the database, so every instance on it sees
// the same sessions. The table holds only the SHA-256 of each session token
// (the cookie keeps the token), so a copy of the database cannot be used to
// take over a session.
type Sessions struct{ s *Store }

// tokenHash is the key a session is stored under.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Sessions returns the web session store of this database.
func (s *Store) Sessions() *Sessions { return &Sessions{s: s} }

// FindCtx returns the data of an unexpired session.
func (x *Sessions) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var data []byte
	err := x.s.db.QueryRow(ctx, `SELECT data FROM sessions WHERE token_hash = $1 AND expiry > $2`,
		tokenHash(token), x.s.d.Expiry(time.Now())).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, x.s.d.Wrap(err, "find session")
	}
	return data, true, nil
}

// CommitCtx adds or replaces a session.
func (x *Sessions) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	_, err := x.s.db.Exec(ctx, `INSERT INTO sessions (token_hash, data, expiry) VALUES ($1, $2, $3)
		ON CONFLICT (token_hash) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`,
		tokenHash(token), b, x.s.d.Expiry(expiry))
	return x.s.d.Wrap(err, "commit session")
}

// DeleteCtx removes a session; an unknown token is no error.
func (x *Sessions) DeleteCtx(ctx context.Context, token string) error {
	_, err := x.s.db.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash(token))
	return x.s.d.Wrap(err, "delete session")
}

// DeleteExpired removes expired sessions and returns how many.
func (x *Sessions) DeleteExpired(ctx context.Context) (int64, error) {
	n, err := x.s.db.Exec(ctx, `DELETE FROM sessions WHERE expiry <= $1`, x.s.d.Expiry(time.Now()))
	return n, x.s.d.Wrap(err, "delete expired sessions")
}

// Find is FindCtx without a context, for scs.Store.
func (x *Sessions) Find(token string) ([]byte, bool, error) {
	return x.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context, for scs.Store.
func (x *Sessions) Commit(token string, b []byte, expiry time.Time) error {
	return x.CommitCtx(context.Background(), token, b, expiry)
}

// Delete is DeleteCtx without a context, for scs.Store.
func (x *Sessions) Delete(token string) error { return x.DeleteCtx(context.Background(), token) }

// DeleteMatching removes every unexpired session whose data match accepts
// and returns how many it removed. The table keeps no token, so this is how
// a user's sessions are ended: the caller decodes each session's data (the
// web app checks the user ID in it). It reads every session, so it is for
// an administrator's action, not for a request's path.
func (x *Sessions) DeleteMatching(ctx context.Context, match func(data []byte) bool) (int, error) {
	var hashes [][]byte
	rows, err := x.s.db.Query(ctx, `SELECT token_hash, data FROM sessions WHERE expiry > $1`, x.s.d.Expiry(time.Now()))
	if err != nil {
		return 0, x.s.d.Wrap(err, "read sessions")
	}
	for rows.Next() {
		var hash, data []byte
		if err := rows.Scan(&hash, &data); err != nil {
			rows.Close()
			return 0, x.s.d.Wrap(err, "read sessions")
		}
		if match(data) {
			hashes = append(hashes, hash)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, x.s.d.Wrap(err, "read sessions")
	}
	n := 0
	for _, h := range hashes {
		k, err := x.s.db.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, h)
		if err != nil {
			return n, x.s.d.Wrap(err, "delete session")
		}
		n += int(k)
	}
	return n, nil
}
