package ldapdir

import (
	"context"
	"errors"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

func refuseEmpty(dn, password string) error {
	if password == "" {
		return newKindError("empty password refused before contacting the directory (an empty password is an unauthenticated bind, RFC 4513 §5.1.2)", nil, ldapbridge.ErrEmptyPassword)
	}
	if dn == "" {
		return newKindError("empty DN refused before contacting the directory (it would be an anonymous bind)", nil, ldapbridge.ErrInvalidCredentials)
	}
	return nil
}

// CheckPassword binds as dn with password on a connection of the
// credential-check pool, which is never used for searches. An empty
// password returns ErrEmptyPassword without any network call. A rejection
// wraps ErrInvalidCredentials or, on Active Directory, the account state.
//
// The bind carries the password-policy request control, so a policy's
// verdict refines the error: ErrPasswordExpired, ErrAccountLocked, or
// ErrMustChangePassword (after an administrator's reset, even though the
// password was right).
func (d *Dir) CheckPassword(ctx context.Context, dn, password string) error {
	_, err := d.CheckPasswordPolicy(ctx, dn, password)
	return err
}

func (d *Dir) userBindError(ctx context.Context, pc *pconn, dn string, err error) error {
	if ctx.Err() != nil || isNetworkError(err) {
		pc.bad = true
		pc.retry = ctx.Err() == nil && !isTimeout(err)
	}
	return d.opError(ctx, pc.srv, "bind as "+dn, err, false)
}

// Session is a connection bound as one user, from BindAs. It is not safe
// for concurrent use and does not reconnect: open a new one after an error
// wrapping ErrUnavailable.
type Session struct {
	d      *Dir
	pc     *pconn
	policy ldapbridge.PasswordPolicy
}

var _ ldapbridge.Session = (*Session)(nil)

// BindAs dials a dedicated connection (with failover) and binds it as dn,
// for directory.bind_as_user. An empty password returns ErrEmptyPassword
// without any network call.
func (d *Dir) BindAs(ctx context.Context, dn, password string) (ldapbridge.Session, error) {
	if err := refuseEmpty(dn, password); err != nil {
		return nil, err
	}
	if d.closed.Load() {
		return nil, ErrClosed
	}
	c, s, err := d.dialAny(ctx)
	if err != nil {
		return nil, err
	}
	pc := &pconn{c: c, srv: s}
	start := time.Now()
	d.stats.binds.Add(1)
	var ctl *ldap.ControlBeheraPasswordPolicy
	err = runCtx(ctx, c, func() error {
		var err error
		ctl, err = policyBind(c, dn, password)
		return err
	})
	if err != nil {
		err = d.userBindError(ctx, pc, dn, err)
	}
	err = policyError(dn, ctl, err)
	d.observe("bind", s.url, start, err)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &Session{d: d, pc: pc, policy: policyWarnings(ctl)}, nil
}

// Search returns every entry matching req, as the session's user.
func (s *Session) Search(ctx context.Context, req *ldapbridge.SearchRequest) ([]*ldapbridge.Entry, error) {
	var out []*ldapbridge.Entry
	err := s.SearchPages(ctx, req, func(page []*ldapbridge.Entry) error {
		out = append(out, page...)
		return nil
	})
	return out, err
}

// SearchPages is Dir.SearchPages on the session's connection, without retry.
func (s *Session) SearchPages(ctx context.Context, req *ldapbridge.SearchRequest, fn func(page []*ldapbridge.Entry) error) error {
	if s.pc == nil {
		return errors.New("ldapdir: session closed")
	}
	if err := validateRequest(req); err != nil {
		return err
	}
	s.d.stats.searches.Add(1)
	err := s.d.searchOn(ctx, s.pc, req, fn)
	if s.pc.bad {
		s.pc.c.Close()
	}
	return err
}

// Close unbinds and closes the session's connection.
func (s *Session) Close() error {
	if s.pc == nil {
		return nil
	}
	c := s.pc.c
	s.pc = nil
	if c.IsClosing() {
		return nil
	}
	return c.Unbind()
}
