package ldapbridge

import (
	"errors"
	"strconv"
)

// Error kinds. Drivers wrap them (fmt.Errorf("...: %w", ErrX)) so callers
// test with errors.Is while logs keep the detail.
var (
	// ErrNotFound: no such user, group or entry.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous: a lookup that must match one thing matched several.
	ErrAmbiguous = errors.New("ambiguous: more than one match")
	// ErrConflict: a create collided with an existing record.
	ErrConflict = errors.New("conflict")

	// ErrEmptyPassword: an empty password, refused before any network call.
	ErrEmptyPassword = errors.New("empty password")
	// ErrInvalidCredentials: the directory rejected the password (LDAP 49).
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrAccountDisabled: the directory refused a bind because the account is disabled (AD 533).
	ErrAccountDisabled = errors.New("account disabled")
	// ErrAccountLocked: the account is locked out (AD 775, ppolicy).
	ErrAccountLocked = errors.New("account locked")
	// ErrAccountExpired: the account has expired (AD 701).
	ErrAccountExpired = errors.New("account expired")
	// ErrPasswordExpired: the password has expired (AD 532, the ppolicy control's
	// passwordExpired); a reset that must be changed is ErrMustChangePassword.
	ErrPasswordExpired = errors.New("password expired")
	// ErrNotPermitted: logon not permitted at this time or from this workstation (AD 530/531).
	ErrNotPermitted = errors.New("logon not permitted now or from here")

	// ErrUnavailable: no directory server could be reached or it failed mid-operation.
	ErrUnavailable = errors.New("directory unavailable")
	// ErrIncomplete: a read did not return the whole result (size limit, referral, partial page).
	ErrIncomplete = errors.New("incomplete directory read")
)

// BindError is a directory's refusal of a bind, as data: the LDAP result
// code and, on Active Directory, the bind sub-code — the "data 52e" of a
// diagnostic such as "80090308: LdapErr: DSID-0C09041C, comment:
// AcceptSecurityContext error, data 52e, v4563". The driver parses the
// sub-code once and puts a *BindError in the chain of the error it returns,
// next to the error kind (ErrInvalidCredentials, ErrAccountDisabled, ...);
// callers read it with errors.As.
type BindError struct {
	// Code is the LDAP result code, e.g. 49 (invalidCredentials).
	Code int
	// SubCode is Active Directory's bind sub-code in lower case ("52e",
	// "533", "775", ...); "" when the server gave none.
	SubCode string
}

func (e *BindError) Error() string {
	s := "bind refused: LDAP result " + strconv.Itoa(e.Code)
	if e.SubCode != "" {
		s += ", Active Directory data " + e.SubCode
	}
	return s
}
