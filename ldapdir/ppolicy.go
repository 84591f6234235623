package ldapdir

import (
	"context"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

// A user bind sends the password-policy request control
// (draft-behera-ldap-password-policy, OID 1.3.6.1.4.1.42.2.27.8.5.1,
// non-critical, so servers without the policy ignore it) and reads the
// response control that slapd's ppolicy overlay and 389-DS return: an
// error (expired, locked, change after reset) or a warning (seconds before
// expiration, grace logins left).

var (
	_ ldapbridge.PolicyChecker = (*Dir)(nil)
	_ ldapbridge.PolicySession = (*Session)(nil)
)

// policyBind binds c as dn with the password-policy request control and
// returns the response control, when the server sent one, with the bind's
// error.
func policyBind(c *ldap.Conn, dn, password string) (*ldap.ControlBeheraPasswordPolicy, error) {
	res, err := c.SimpleBind(ldap.NewSimpleBindRequest(dn, password, []ldap.Control{ldap.NewControlBeheraPasswordPolicy()}))
	if res == nil {
		return nil, err
	}
	if ctl, ok := ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy); ok {
		return ctl, err
	}
	return nil, err
}

// policyWarnings are the warnings of a response control.
func policyWarnings(ctl *ldap.ControlBeheraPasswordPolicy) ldapbridge.PasswordPolicy {
	var p ldapbridge.PasswordPolicy
	if ctl == nil {
		return p
	}
	if ctl.Expire >= 0 {
		p.ExpiresIn, p.HasExpiry = time.Duration(ctl.Expire)*time.Second, true
	}
	if ctl.Grace >= 0 {
		p.GraceLogins, p.HasGrace = int(ctl.Grace), true
	}
	return p
}

// policyError refines a user bind's outcome with the response control's
// error: expired, locked or change after reset. A bind that succeeded
// with changeAfterReset is an error too, ErrMustChangePassword: the server
// allows that session nothing but changing the password. err is the bind's
// error after opError (nil when the bind succeeded).
func policyError(dn string, ctl *ldap.ControlBeheraPasswordPolicy, err error) error {
	if ctl == nil || ctl.Error < 0 {
		return err
	}
	var kind error
	switch ctl.Error {
	case ldap.BeheraPasswordExpired:
		kind = ldapbridge.ErrPasswordExpired
	case ldap.BeheraAccountLocked:
		kind = ldapbridge.ErrAccountLocked
	case ldap.BeheraChangeAfterReset:
		kind = ldapbridge.ErrMustChangePassword
	default:
		return err
	}
	msg := "bind as " + dn + ": the password policy says: " + ctl.ErrorString
	if err != nil {
		msg = err.Error() + " (password policy: " + ctl.ErrorString + ")"
		if be := bindError(err); be != nil {
			return newKindError(msg, err, kind, be)
		}
	}
	return newKindError(msg, err, kind)
}

// CheckPasswordPolicy is CheckPassword that also returns the password
// policy's warnings of a successful bind (seconds before expiration, grace
// logins left), where the server sends them.
func (d *Dir) CheckPasswordPolicy(ctx context.Context, dn, password string) (ldapbridge.PasswordPolicy, error) {
	var pol ldapbridge.PasswordPolicy
	if err := refuseEmpty(dn, password); err != nil {
		return pol, err
	}
	if d.closed.Load() {
		return pol, ErrClosed
	}
	err := d.withConn(ctx, d.auth, func(pc *pconn) error {
		start := time.Now()
		d.stats.binds.Add(1)
		var ctl *ldap.ControlBeheraPasswordPolicy
		err := runCtx(ctx, pc.c, func() error {
			var err error
			ctl, err = policyBind(pc.c, dn, password)
			return err
		})
		if err != nil {
			err = d.userBindError(ctx, pc, dn, err)
		}
		err = policyError(dn, ctl, err)
		d.observe("check_password", pc.srv.url, start, err)
		if err == nil {
			pol = policyWarnings(ctl)
		}
		return err
	})
	return pol, err
}

// PasswordPolicy returns the password policy's warnings of the session's
// bind.
func (s *Session) PasswordPolicy() ldapbridge.PasswordPolicy { return s.policy }
