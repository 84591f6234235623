package ldapdir

import (
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

// adSubCode finds Active Directory's "data XXX" in a bind diagnostic such as
// "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 52e, v4563".
var adSubCode = regexp.MustCompile(`(?i)\bdata ([0-9a-f]{3,4})\b`)

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
	"773": {ldapbridge.ErrPasswordExpired, "user must reset password"},
	"775": {ldapbridge.ErrAccountLocked, "account locked out"},
}

// ADSubCode extracts Active Directory's bind sub-code ("52e", "775", ...)
// from an error or diagnostic message and returns it with its meaning.
// ok is false when the text carries no sub-code.
func ADSubCode(err error) (code, reason string, ok bool) {
	if err == nil {
		return "", "", false
	}
	m := adSubCode.FindStringSubmatch(err.Error())
	if m == nil {
		return "", "", false
	}
	code = strings.ToLower(m[1])
	if r, known := adReasons[code]; known {
		return code, r.text, true
	}
	return code, "unknown Active Directory reason", true
}

// BindErrorKind maps an error from a user bind to the root error kind:
// LDAP 49 becomes ErrInvalidCredentials or, with an Active Directory
// sub-code, the account state it names. It returns nil when the error is
// not a credentials rejection.
func BindErrorKind(err error) error {
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		return nil
	}
	if code, _, ok := ADSubCode(err); ok {
		if r, known := adReasons[code]; known {
			return r.kind
		}
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

// isTimeout reports whether err is go-ldap's per-request timeout.
func isTimeout(err error) bool {
	return err != nil && strings.Contains(err.Error(), "ldap: connection timed out")
}

// dialFix suggests the configuration change that cures a dial or TLS error.
// caSet says whether directory.tls.ca_file is already set.
func dialFix(err error, caSet bool) string {
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		recHdr    tls.RecordHeaderError
		dnsErr    *net.DNSError
		alert     tls.AlertError
	)
	msg := err.Error()
	switch {
	case errors.As(err, &unknownCA) || strings.Contains(msg, "certificate signed by unknown authority"):
		if caSet {
			return "set directory.tls.ca_file to the CA that signed the server certificate (the file given is another CA)"
		}
		return "set directory.tls.ca_file"
	case errors.As(err, &hostErr) || strings.Contains(msg, "certificate is valid for") ||
		strings.Contains(msg, "certificate is not valid for any names") || strings.Contains(msg, "doesn't contain any IP SANs"):
		return "set directory.tls.server_name to a name in the server certificate, or use that name in directory.urls"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired, strings.Contains(msg, "certificate has expired"):
		return "the server certificate has expired or is not yet valid — renew it or check the clocks"
	case errors.As(err, &recHdr) || strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "this port does not speak TLS — use ldap:// (with directory.start_tls) or the LDAPS port"
	case errors.As(err, &alert) || strings.Contains(msg, "remote error: tls"):
		if strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate") || strings.Contains(msg, "unknown certificate authority") {
			return "the server rejected the client certificate — set directory.tls.client_cert_file and directory.tls.client_key_file"
		}
		return "TLS negotiation failed — check directory.tls.min_version and the server's TLS settings"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "is the server up? check directory.urls"
	case errors.As(err, &dnsErr):
		return "check the host name in directory.urls"
	case errors.Is(err, syscall.ECONNRESET) || strings.Contains(msg, "connection reset"):
		return "the server closed the connection — check the port and scheme in directory.urls"
	case isDeadline(err):
		return "is the host reachable? check directory.urls and directory.dial_timeout"
	}
	return "check directory.urls"
}

func isDeadline(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
