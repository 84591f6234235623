package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

func TestBindErrorParsesTheSubCodeOnce(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		code    int
		subCode string
	}{
		{"AD diagnostic", adBindError("52e"), 49, "52e"},
		{"upper case", adBindError("52E"), 49, "52e"},
		{"four digits", adBindError("775a"), 49, "775a"},
		{"wrapped", fmt.Errorf("bind: %w", adBindError("533")), 49, "533"},
		{"no sub-code", ldap.NewError(ldap.LDAPResultInvalidCredentials, errors.New("invalid credentials")), 49, ""},
		{"other code", ldap.NewError(ldap.LDAPResultUnwillingToPerform, errors.New("x")), 53, ""},
		{"nil diagnostic", &ldap.Error{ResultCode: ldap.LDAPResultInvalidCredentials}, 49, ""},
		{"already typed", fmt.Errorf("x: %w", &ldapbridge.BindError{Code: 49, SubCode: "701"}), 49, "701"},
	}
	for _, tt := range tests {
		be := bindError(tt.err)
		if be == nil || be.Code != tt.code || be.SubCode != tt.subCode {
			t.Errorf("%s: bindError = %+v, want code %d sub-code %q", tt.name, be, tt.code, tt.subCode)
		}
	}
	// Text that only looks like a bind error is not an LDAP result.
	for _, err := range []error{nil, errors.New("LDAP Result Code 49: data 52e"), context.Canceled} {
		if be := bindError(err); be != nil {
			t.Errorf("bindError(%v) = %+v, want nil", err, be)
		}
	}
}

// TestOpErrorCarriesBindError proves that a refused bind reaches callers
// as a *ldapbridge.BindError (what auth reads) next to the error kind and
// go-ldap's *ldap.Error, with the message unchanged.
func TestOpErrorCarriesBindError(t *testing.T) {
	d := &Dir{requestTimeout: time.Second}
	s := &server{index: 0, url: "ldaps://dc1:636"}
	for _, tt := range []struct {
		sub     string
		service bool
		kind    error
	}{
		{"775", false, ldapbridge.ErrAccountLocked},
		{"52e", false, ldapbridge.ErrInvalidCredentials},
		{"52e", true, ErrServiceBind},
	} {
		err := d.opError(context.Background(), s, "bind as cn=x", adBindError(tt.sub), tt.service)
		var be *ldapbridge.BindError
		if !errors.As(err, &be) || be.Code != 49 || be.SubCode != tt.sub {
			t.Errorf("%s (service %v): BindError %+v in %v", tt.sub, tt.service, be, err)
		}
		if !errors.Is(err, tt.kind) {
			t.Errorf("%s: %v is not %v", tt.sub, err, tt.kind)
		}
		if strings.Contains(err.Error(), "bind refused: LDAP result") {
			t.Errorf("the BindError's own text leaked into the message: %q", err)
		}
		if code, _, ok := ADSubCode(err); !ok || code != tt.sub {
			t.Errorf("ADSubCode(%v) = %q %v", err, code, ok)
		}
	}
	// A search failure is no bind error.
	err := d.opError(context.Background(), s, "search", ldap.NewError(ldap.LDAPResultUnwillingToPerform, errors.New("x")), false)
	var be *ldapbridge.BindError
	if errors.As(err, &be) {
		t.Errorf("LDAP 53 carries %+v", be)
	}
}

func TestIsTimeoutIsGoLDAPsRequestTimeout(t *testing.T) {
	timeout := ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: connection timed out"))
	for _, err := range []error{timeout, fmt.Errorf("search: %w", timeout)} {
		if !isTimeout(err) {
			t.Errorf("isTimeout(%v) = false", err)
		}
	}
	for _, err := range []error{
		nil,
		// The words alone, or under another result code, are not go-ldap's timeout.
		errors.New("ldap: connection timed out"),
		ldap.NewError(ldap.LDAPResultTimeLimitExceeded, errors.New("ldap: connection timed out")),
		ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: response channel closed")),
		ldap.ErrConnUnbound,
		context.DeadlineExceeded,
	} {
		if isTimeout(err) {
			t.Errorf("isTimeout(%v) = true", err)
		}
	}
}

// TestDialFixClassifiesByType feeds typedDialFix errors whose type alone
// names the fix, including real handshake failures from crypto/tls.
func TestDialFixClassifiesByType(t *testing.T) {
	quiet := log.New(io.Discard, "", 0)
	server := func(useTLS bool, clientAuth tls.ClientAuthType) *httptest.Server {
		srv := httptest.NewUnstartedServer(http.NotFoundHandler())
		srv.Config.ErrorLog = quiet
		if useTLS {
			srv.TLS = &tls.Config{ClientAuth: clientAuth}
			srv.StartTLS()
		} else {
			srv.Start()
		}
		t.Cleanup(srv.Close)
		return srv
	}
	tlsSrv, plainSrv := server(true, tls.NoClientCert), server(false, 0)
	clientCertSrv := server(true, tls.RequireAndVerifyClientCert)
	roots := x509.NewCertPool()
	roots.AddCert(tlsSrv.Certificate())
	handshake := func(addr string, cfg *tls.Config) error {
		t.Helper()
		raw, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimPrefix(addr, "https://"), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		err = tls.Client(raw, cfg).HandshakeContext(t.Context())
		if err == nil {
			t.Fatalf("handshake with %s succeeded", addr)
		}
		return err
	}
	clientRoots := x509.NewCertPool()
	clientRoots.AddCert(clientCertSrv.Certificate())

	tests := []struct {
		name  string
		err   error
		caSet bool
		want  string
	}{
		{"unknown CA", handshake(tlsSrv.URL, &tls.Config{ServerName: "example.com"}), false, "set directory.tls.ca_file"},
		{"other CA", handshake(tlsSrv.URL, &tls.Config{ServerName: "example.com"}), true, "the file given is another CA"},
		{"wrong name", handshake(tlsSrv.URL, &tls.Config{RootCAs: roots, ServerName: "other.example"}), false, "set directory.tls.server_name"},
		{"expired", x509.CertificateInvalidError{Reason: x509.Expired}, false, "has expired"},
		{"not TLS", handshake(plainSrv.URL, &tls.Config{InsecureSkipVerify: true}), false, "does not speak TLS"},
		// Go's TLS 1.2 server answers a missing client certificate with a
		// handshake_failure alert.
		{"server alert", handshake(clientCertSrv.URL, &tls.Config{RootCAs: clientRoots, ServerName: "example.com", MaxVersion: tls.VersionTLS12}), false, "TLS negotiation failed"},
		{"client certificate", &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, false, "directory.tls.client_cert_file"},
		{"QUIC alert", fmt.Errorf("x: %w", tls.AlertError(40)), false, "TLS negotiation failed"},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false, "is the server up?"},
		{"no host", &net.DNSError{Err: "no such host", Name: "nowhere"}, false, "check the host name"},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, false, "the server closed the connection"},
		{"context deadline", fmt.Errorf("dial: %w", context.DeadlineExceeded), false, "directory.dial_timeout"},
		{"net timeout", &net.OpError{Op: "dial", Err: timeoutErr{}}, false, "directory.dial_timeout"},
	}
	for _, tt := range tests {
		got := typedDialFix(tt.err, tt.caSet)
		if !strings.Contains(got, tt.want) {
			t.Errorf("%s: typedDialFix(%v) = %q, want it to contain %q", tt.name, tt.err, got, tt.want)
		}
		if full := dialFix(tt.err, tt.caSet); full != got {
			t.Errorf("%s: dialFix = %q, typedDialFix = %q", tt.name, full, got)
		}
	}
	if got := typedDialFix(errors.New("certificate signed by unknown authority"), false); got != "" {
		t.Errorf("typedDialFix read text: %q", got)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestDialFixReadsFlattenedStartTLSErrors covers the one place go-ldap
// keeps no type: StartTLS words the handshake error into its own text.
func TestDialFixReadsFlattenedStartTLSErrors(t *testing.T) {
	startTLS := func(cause error) error {
		return fmt.Errorf("StartTLS: %w", ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("TLS handshake failed (%v)", cause)))
	}
	tests := []struct {
		cause error
		want  string
	}{
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "set directory.tls.ca_file"},
		{x509.CertificateInvalidError{Reason: x509.Expired, Detail: "now"}, "has expired"},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "does not speak TLS"},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}, "directory.tls.client_cert_file"},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: protocol version not supported")}, "directory.tls.min_version"},
		{errors.New("read tcp: connection reset by peer"), "the server closed the connection"},
	}
	for _, tt := range tests {
		err := startTLS(tt.cause)
		if got := typedDialFix(err, false); got != "" {
			t.Errorf("%v: a flattened error matched a type: %q", err, got)
		}
		if got := dialFix(err, false); !strings.Contains(got, tt.want) {
			t.Errorf("dialFix(%v) = %q, want it to contain %q", err, got, tt.want)
		}
	}
	if got := dialFix(errors.New("something else"), false); got != "check directory.urls" {
		t.Errorf("fallback: %q", got)
	}
}

// doneCtx is a context its test ends by hand; context.AfterFunc watches it
// from a goroutine of its own, so the stop function can win the race.
type doneCtx struct {
	context.Context
	done chan struct{}
}

func (c *doneCtx) Done() <-chan struct{} { return c.done }
func (c *doneCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// TestRunCtxReportsAContextThatEndedAsTheCallReturned: go-ldap's
// SearchAsync ends silently when its context is done, so a nil from the
// call must not be trusted once the context has ended.
func TestRunCtxReportsAContextThatEndedAsTheCallReturned(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := ldap.NewConn(a, false)
	c.Start()
	defer c.Close()
	for range 20 {
		ctx := &doneCtx{Context: context.Background(), done: make(chan struct{})}
		err := runCtx(ctx, c, func() error {
			close(ctx.done)
			return nil // as SearchAsync does when its context ends
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("runCtx = %v, want the context's error", err)
		}
	}
}
