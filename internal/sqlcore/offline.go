package sqlcore

import (
	"context"
	"fmt"

	"github.com/ldapbridge/ldapbridge"
)

// SaveOfflineVerifier stores v as the user's offline verifier, replacing
// any earlier one and resetting its failure count.
func (s *Store) SaveOfflineVerifier(ctx context.Context, v *ldapbridge.OfflineVerifier) error {
	_, err := s.db.Exec(ctx, `INSERT INTO offline_verifiers (user_id, verifier, password_changed, login_at, failures)
VALUES ($1, $2, $3, $4, 0)
ON CONFLICT (user_id) DO UPDATE SET verifier = excluded.verifier, password_changed = excluded.password_changed,
	login_at = excluded.login_at, failures = 0`, v.UserID, v.Verifier, v.PasswordChanged, s.d.Time(v.LoginAt))
	return s.d.Wrap(err, fmt.Sprintf("save the offline verifier of user id %d", v.UserID))
}

// OfflineVerifier returns the user's offline verifier, or ErrNotFound.
func (s *Store) OfflineVerifier(ctx context.Context, userID int64) (*ldapbridge.OfflineVerifier, error) {
	v := &ldapbridge.OfflineVerifier{UserID: userID}
	err := s.db.QueryRow(ctx, `SELECT verifier, password_changed, login_at, failures FROM offline_verifiers WHERE user_id = $1`, userID).
		Scan(&v.Verifier, &v.PasswordChanged, at(&v.LoginAt), &v.Failures)
	if err != nil {
		return nil, s.d.Wrap(err, fmt.Sprintf("offline verifier of user id %d", userID))
	}
	return v, nil
}

// RecordOfflineFailure counts one wrong offline attempt for the user and
// deletes the verifier once max attempts have failed (max <= 0: never).
// It returns the count after this attempt; ErrNotFound when the user has
// no verifier.
func (s *Store) RecordOfflineFailure(ctx context.Context, userID int64, max int) (int, error) {
	what := fmt.Sprintf("record a failed offline sign-in of user id %d", userID)
	var n int
	err := s.inTx(ctx, func(tx *Store) error {
		if err := tx.db.QueryRow(ctx, `UPDATE offline_verifiers SET failures = failures + 1 WHERE user_id = $1 RETURNING failures`, userID).Scan(&n); err != nil {
			return s.d.Wrap(err, what)
		}
		if max > 0 && n >= max {
			_, err := tx.db.Exec(ctx, `DELETE FROM offline_verifiers WHERE user_id = $1`, userID)
			return s.d.Wrap(err, what)
		}
		return nil
	})
	return n, err
}

// DeleteOfflineVerifier removes the user's offline verifier; ErrNotFound
// when there was none.
func (s *Store) DeleteOfflineVerifier(ctx context.Context, userID int64) error {
	n, err := s.db.Exec(ctx, `DELETE FROM offline_verifiers WHERE user_id = $1`, userID)
	return s.d.mustAffect(n, err, fmt.Sprintf("delete the offline verifier of user id %d", userID))
}

// dropStaleVerifier deletes the user's offline verifier when the
// directory's password-change stamp written with the user differs from
// the one seen when the verifier was stored.
func (s *Store) dropStaleVerifier(ctx context.Context, u *ldapbridge.User) error {
	if u.PasswordChanged == "" {
		return nil
	}
	_, err := s.db.Exec(ctx, `DELETE FROM offline_verifiers WHERE user_id = $1 AND password_changed <> $2`, u.ID, u.PasswordChanged)
	return err
}
