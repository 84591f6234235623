package ldapdir

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

var _ ldapbridge.PasswordChanger = (*Dir)(nil)

// ChangePassword replaces the password of dn, proving oldPassword. On
// OpenLDAP, 389-DS and JumpCloud it binds as the user (a bind that the
// password policy restricts to changing the password, after a reset, is
// enough) and sends the RFC 3062 password-modify extended operation. On
// Active Directory, which needs TLS for it, it sends a unicodePwd modify
// that deletes the old value and adds the new one, bound as the user; when
// the user cannot bind because the password expired or must change after a
// reset (bind data 532, 773), it sends the same modify bound as the service
// account: proving the old password is the user's Change Password right,
// which Active Directory grants to everyone, so no reset right is needed.
// The directory's refusal wraps ErrPasswordChangeRefused with its own words.
func (d *Dir) ChangePassword(ctx context.Context, dn, oldPassword, newPassword string) error {
	if err := refuseEmpty(dn, oldPassword); err != nil {
		return err
	}
	if newPassword == "" {
		return newKindError("the new password is empty; choose a non-empty password", nil, ldapbridge.ErrPasswordChangeRefused)
	}
	c, s, err := d.passwordConn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	start := time.Now()
	d.stats.binds.Add(1)
	var ctl *ldap.ControlBeheraPasswordPolicy
	bindErr := runCtx(ctx, c, func() error {
		var err error
		ctl, err = policyBind(c, dn, oldPassword)
		return err
	})
	if bindErr != nil {
		bindErr = d.opError(ctx, s, "bind as "+dn, bindErr, false)
	}
	bindErr = policyError(dn, ctl, bindErr)
	d.observe("bind", s.url, start, bindErr)
	if d.ad.Load() {
		if bindErr != nil {
			if !errors.Is(bindErr, ldapbridge.ErrMustChangePassword) && !errors.Is(bindErr, ldapbridge.ErrPasswordExpired) {
				return bindErr
			}
			if d.cfg.BindDN == "" {
				return fmt.Errorf("%w; a user whose password must change cannot bind, and without a service account (directory.bind_dn) nobody can send the change for them", bindErr)
			}
			if err := d.serviceBind(ctx, c, s); err != nil {
				return err
			}
		}
		m := ldap.NewModifyRequest(dn, nil)
		m.Delete("unicodePwd", []string{adPassword(oldPassword)})
		m.Add("unicodePwd", []string{adPassword(newPassword)})
		return d.changeError(ctx, s, "change the password of "+dn, runCtx(ctx, c, func() error { return c.Modify(m) }))
	}
	if bindErr != nil && !errors.Is(bindErr, ldapbridge.ErrMustChangePassword) {
		return bindErr
	}
	err = runCtx(ctx, c, func() error {
		_, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", oldPassword, newPassword))
		return err
	})
	return d.changeError(ctx, s, "change the password of "+dn, err)
}

// ResetPassword sets the password of dn as the service account, without
// the old one: the password-modify extended operation naming dn, or on
// Active Directory (over TLS) a unicodePwd replace. The service account
// needs the right to reset passwords (on OpenLDAP, write access to
// userPassword; on Active Directory, Reset Password on the user).
func (d *Dir) ResetPassword(ctx context.Context, dn, newPassword string) error {
	if newPassword == "" {
		return newKindError("the new password is empty; choose a non-empty password", nil, ldapbridge.ErrPasswordChangeRefused)
	}
	if d.cfg.BindDN == "" {
		return errors.New("resetting a password needs the service account: set directory.bind_dn and directory.bind_password to an account allowed to reset passwords")
	}
	c, s, err := d.passwordConn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := d.serviceBind(ctx, c, s); err != nil {
		return err
	}
	if d.ad.Load() {
		m := ldap.NewModifyRequest(dn, nil)
		m.Replace("unicodePwd", []string{adPassword(newPassword)})
		return d.changeError(ctx, s, "reset the password of "+dn, runCtx(ctx, c, func() error { return c.Modify(m) }))
	}
	err = runCtx(ctx, c, func() error {
		_, err := c.PasswordModify(ldap.NewPasswordModifyRequest(dn, "", newPassword))
		return err
	})
	return d.changeError(ctx, s, "reset the password of "+dn, err)
}

// passwordConn dials a dedicated connection for a password operation; on
// Active Directory it must be encrypted.
func (d *Dir) passwordConn(ctx context.Context) (*ldap.Conn, *server, error) {
	if d.closed.Load() {
		return nil, nil, ErrClosed
	}
	c, s, err := d.dialAny(ctx)
	if err != nil {
		return nil, nil, err
	}
	if d.ad.Load() && s.scheme != "ldaps" && !d.cfg.StartTLS {
		c.Close()
		return nil, nil, newKindError(fmt.Sprintf("%s: Active Directory changes passwords only over an encrypted connection, and %s is plain LDAP — use an ldaps:// URL or set directory.start_tls: true", s.name(), s.url),
			nil, ldapbridge.ErrPasswordChangeRefused)
	}
	return c, s, nil
}

// changeError words the result of a password change or reset: a
// directory's refusal (constraint violation, unwilling to perform,
// insufficient access, ...) wraps ErrPasswordChangeRefused and carries the
// directory's own words; a failure to talk to it is opError's.
func (d *Dir) changeError(ctx context.Context, s *server, op string, err error) error {
	if err == nil {
		return nil
	}
	var le *ldap.Error
	if !errors.As(err, &le) || isNetworkError(err) || ctx.Err() != nil {
		return d.opError(ctx, s, op, err, false)
	}
	words := ldap.LDAPResultCodeMap[le.ResultCode]
	if le.Err != nil && le.Err.Error() != "" {
		words = le.Err.Error()
	}
	kinds := []error{ldapbridge.ErrPasswordChangeRefused}
	if le.ResultCode == ldap.LDAPResultInvalidCredentials {
		kinds = append(kinds, ldapbridge.ErrInvalidCredentials)
	}
	return newKindError("the directory refused the new password: "+words, err, kinds...)
}

// adPassword encodes a password as Active Directory's unicodePwd wants it:
// the password in double quotes, UTF-16LE.
func adPassword(pw string) string {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return string(b)
}
