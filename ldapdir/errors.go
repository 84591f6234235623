package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"syscall"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

// ErrServiceBind means the directory rejected the service account's bind
// (directory.bind_dn / directory.bind_password).
var ErrServiceBind = errors.New("service account bind rejected")

// ErrClosed is returned by every call made after Close.
var ErrClosed = errors.New("ldapdir: directory closed")

// kindError carries a message of its own and unwraps to one or more error
// kinds plus the underlying cause, so errors.Is sees all of them.
type kindError struct {
	msg   string
	kinds []error
	cause error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Unwrap() []error {
	out := append([]error(nil), e.kinds...)
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

func newKindError(msg string, cause error, kinds ...error) error {
	return &kindError{msg: msg, kinds: kinds, cause: cause}
}

// adSubCodeRE finds Active Directory's "data XXX" in a bind diagnostic such as
// "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 52e, v4563".
// This is the one parser of the sub-code: the rest of the program reads it
// from the *ldapbridge.BindError that bindError builds.
var adSubCodeRE = regexp.MustCompile(`(?i)\bdata ([0-9a-f]{3,4})\b`)

type adReason struct {
	kind error
	text string
}

var adReasons = map[string]adReason{
	"525": {ldapbridge.ErrInvalidCredentials, "user not found"},
	"52e": {ldapbridge.ErrInvalidCredentials, "invalid credentials"},
	"530": {ldapbridge.ErrNotPermitted, "logon not permitted at this time"},
	"531": {ldapbridge.ErrNotPermitted, "logon not permitted from this workstation"},
	"532": {ldapbridge.ErrPasswordExpired, "password expired"},
	"533": {ldapbridge.ErrAccountDisabled, "account disabled"},
	"568": {ldapbridge.ErrNotPermitted, "too many security identifiers in the user's token"},
	"701": {ldapbridge.ErrAccountExpired, "account expired"},
	"773": {ldapbridge.ErrMustChangePassword, "user must reset password"},
	"775": {ldapbridge.ErrAccountLocked, "account locked out"},
}

// bindError returns the *ldapbridge.BindError in err's chain or, failing
// that, builds one from go-ldap's *ldap.Error: its result code, and the
// Active Directory sub-code parsed from its diagnostic. It returns nil when
// err holds neither (no LDAP result from a server).
func bindError(err error) *ldapbridge.BindError {
	var be *ldapbridge.BindError
	if errors.As(err, &be) {
		return be
	}
	var le *ldap.Error
	if !errors.As(err, &le) {
		return nil
	}
	be = &ldapbridge.BindError{Code: int(le.ResultCode)}
	if le.Err != nil {
		if m := adSubCodeRE.FindStringSubmatch(le.Err.Error()); m != nil {
			be.SubCode = strings.ToLower(m[1])
		}
	}
	return be
}

// ADSubCode returns Active Directory's bind sub-code ("52e", "775", ...)
// carried by err — in a *ldapbridge.BindError, or in the diagnostic of a
// go-ldap *ldap.Error — with its meaning. ok is false when err carries no
// sub-code.
func ADSubCode(err error) (code, reason string, ok bool) {
	be := bindError(err)
	if be == nil || be.SubCode == "" {
		return "", "", false
	}
	if r, known := adReasons[be.SubCode]; known {
		return be.SubCode, r.text, true
	}
	return be.SubCode, "unknown Active Directory reason", true
}

// BindErrorKind maps an error from a user bind to the root error kind:
// LDAP 49 becomes ErrInvalidCredentials or, with an Active Directory
// sub-code, the account state it names. It returns nil when the error is
// not a credentials rejection.
func BindErrorKind(err error) error {
	be := bindError(err)
	if be == nil || be.Code != ldap.LDAPResultInvalidCredentials {
		return nil
	}
	if r, known := adReasons[be.SubCode]; known {
		return r.kind
	}
	return ldapbridge.ErrInvalidCredentials
}

// ldapDiagnostic renders an LDAP result error compactly: `LDAP 49 "Invalid
// Credentials": diagnostic`.
func ldapDiagnostic(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork {
		s := fmt.Sprintf("LDAP %d %q", le.ResultCode, ldap.LDAPResultCodeMap[le.ResultCode])
		if le.Err != nil && le.Err.Error() != "" {
			s += ": " + le.Err.Error()
		}
		return s
	}
	return err.Error()
}

// isNetworkError reports whether err means the connection is unusable:
// go-ldap's network errors, closed connections, or anything that is not an
// LDAP result from the server.
func isNetworkError(err error) bool {
	if err == nil {
		return false
	}
	var le *ldap.Error
	if !errors.As(err, &le) {
		return true
	}
	return le.ResultCode == ldap.ErrorNetwork || le.ResultCode == ldap.LDAPResultServerDown ||
		le.ResultCode == ldap.LDAPResultConnectError || le.ResultCode == ldap.LDAPResultUnavailable ||
		le.ResultCode == ldap.LDAPResultBusy
}

// goldapTimeout is the text of go-ldap's per-request timeout
// (Conn.SetTimeout). go-ldap (v3.4) gives that timeout no type or sentinel
// of its own: it is an *ldap.Error with result code ErrorNetwork around
// errors.New("ldap: connection timed out"). So isTimeout checks the type and
// the code, and only then the text of that inner error.
const goldapTimeout = "ldap: connection timed out"

// isTimeout reports whether err is go-ldap's per-request timeout.
func isTimeout(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode == ldap.ErrorNetwork &&
		le.Err != nil && le.Err.Error() == goldapTimeout
}

// dialFix suggests the configuration change that cures a dial or TLS error.
// caSet says whether directory.tls.ca_file is already set. It classifies
// by type first (crypto/x509 and crypto/tls errors, errnos, *net.DNSError,
// timeouts); only an error with none of those types is read as text.
func dialFix(err error, caSet bool) string {
	if fix := typedDialFix(err, caSet); fix != "" {
		return fix
	}
	if fix := textDialFix(err.Error(), caSet); fix != "" {
		return fix
	}
	return "check directory.urls"
}

func unknownCAFix(caSet bool) string {
	if caSet {
		return "set directory.tls.ca_file to the CA that signed the server certificate (the file given is another CA)"
	}
	return "set directory.tls.ca_file"
}

const (
	fixServerName   = "set directory.tls.server_name to a name in the server certificate, or use that name in directory.urls"
	fixExpired      = "the server certificate has expired or is not yet valid — renew it or check the clocks"
	fixNotTLS       = "this port does not speak TLS — use ldap:// (with directory.start_tls) or the LDAPS port"
	fixClientCert   = "the server rejected the client certificate — set directory.tls.client_cert_file and directory.tls.client_key_file"
	fixTLSNegotiate = "TLS negotiation failed — check directory.tls.min_version and the server's TLS settings"
	fixReset        = "the server closed the connection — check the port and scheme in directory.urls"
)

// typedDialFix classifies err by the types in its chain; "" when none fits.
// The TLS handshake of an ldaps:// URL runs here (dialServer), so its
// errors keep their types.
func typedDialFix(err error, caSet bool) string {
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		recHdr    tls.RecordHeaderError
		dnsErr    *net.DNSError
		alert     tls.AlertError
		opErr     *net.OpError
	)
	switch {
	case errors.As(err, &unknownCA):
		return unknownCAFix(caSet)
	case errors.As(err, &hostErr):
		return fixServerName
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fixExpired
	case errors.As(err, &recHdr):
		return fixNotTLS
	case errors.As(err, &alert), errors.As(err, &opErr) && opErr.Op == "remote error":
		// An alert the server sent: crypto/tls returns it as a
		// *net.OpError with Op "remote error" around an unexported alert
		// type (tls.AlertError is only for QUIC), so which alert it was
		// is known only from its text.
		return alertFix(err.Error())
	case errors.Is(err, syscall.ECONNREFUSED):
		return "is the server up? check directory.urls"
	case errors.As(err, &dnsErr):
		return "check the host name in directory.urls"
	case errors.Is(err, syscall.ECONNRESET):
		return fixReset
	case errors.Is(err, context.DeadlineExceeded) || isDeadline(err):
		return "is the host reachable? check directory.urls and directory.dial_timeout"
	}
	return ""
}

func alertFix(msg string) string {
	if strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate") || strings.Contains(msg, "unknown certificate authority") {
		return fixClientCert
	}
	return fixTLSNegotiate
}

// textDialFix reads an error that carries no type typedDialFix knows.
// go-ldap's StartTLS flattens the handshake error into text
// (NewError(ErrorNetwork, fmt.Errorf("TLS handshake failed (%v)", err))), so
// the crypto/x509 and crypto/tls types are gone there and only the words of
// crypto/tls and crypto/x509 are left to match; "" when none fits.
func textDialFix(msg string, caSet bool) string {
	switch {
	case strings.Contains(msg, "certificate signed by unknown authority"):
		return unknownCAFix(caSet)
	case strings.Contains(msg, "certificate is valid for") ||
		strings.Contains(msg, "certificate is not valid for any names") || strings.Contains(msg, "doesn't contain any IP SANs"):
		return fixServerName
	case strings.Contains(msg, "certificate has expired"):
		return fixExpired
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return fixNotTLS
	case strings.Contains(msg, "remote error: tls"):
		return alertFix(msg)
	case strings.Contains(msg, "connection reset"):
		return fixReset
	}
	return ""
}

func isDeadline(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
