package auth

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ldapbridge/ldapbridge"
)

// kindAnd is an error that unwraps to an error kind and a BindError, as the
// LDAP driver's bind errors do.
type kindAnd struct {
	msg  string
	kind error
	be   *ldapbridge.BindError
}

func (e *kindAnd) Error() string   { return e.msg }
func (e *kindAnd) Unwrap() []error { return []error{e.kind, e.be} }

func TestBindRefusalReadsTheTypedSubCode(t *testing.T) {
	tests := []struct {
		err     error
		outcome Outcome
		reason  string
	}{
		{&kindAnd{"LDAP 49", ldapbridge.ErrAccountDisabled, &ldapbridge.BindError{Code: 49, SubCode: "533"}}, Inactive,
			"the directory refused the bind: account disabled (Active Directory bind error data 533)"},
		{fmt.Errorf("bind: %w", &kindAnd{"LDAP 49", ldapbridge.ErrInvalidCredentials, &ldapbridge.BindError{Code: 49, SubCode: "52e"}}), BadCredentials,
			"the directory rejected the password (Active Directory bind error data 52e)"},
		{&kindAnd{"LDAP 49", ldapbridge.ErrInvalidCredentials, &ldapbridge.BindError{Code: 49}}, BadCredentials,
			"the directory rejected the password"},
		// The sub-code comes from the BindError only: words in the
		// message are not parsed again.
		{fmt.Errorf("data 775: %w", ldapbridge.ErrAccountLocked), AccountLocked, "the directory refused the bind: the account is locked out"},
		{&kindAnd{"LDAP 49", ldapbridge.ErrMustChangePassword, &ldapbridge.BindError{Code: 49, SubCode: "773"}}, MustChangePassword,
			"the directory refused the bind: the password was reset and must be changed before signing in (Active Directory bind error data 773)"},
	}
	for _, tt := range tests {
		res := bindRefusal(tt.err)
		if res.Outcome != tt.outcome || res.Reason != tt.reason {
			t.Errorf("bindRefusal(%v) = %s %q, want %s %q", tt.err, res.Outcome, res.Reason, tt.outcome, tt.reason)
		}
	}
	if res := bindRefusal(errors.New("boom")); res.Outcome != LDAPError || res.Err == nil {
		t.Errorf("an unknown error: %s %v", res.Outcome, res.Err)
	}
}
