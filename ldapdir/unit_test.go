package ldapdir

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
)

func adBindError(sub string) error {
	return ldap.NewError(ldap.LDAPResultInvalidCredentials,
		fmt.Errorf("80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data %s, v4563", sub))
}

func TestBindErrorKindMapsADSubCodes(t *testing.T) {
	tests := []struct {
		sub  string
		want error
	}{
		{"52e", ldapbridge.ErrInvalidCredentials},
		{"525", ldapbridge.ErrInvalidCredentials},
		{"530", ldapbridge.ErrNotPermitted},
		{"531", ldapbridge.ErrNotPermitted},
		{"532", ldapbridge.ErrPasswordExpired},
		{"773", ldapbridge.ErrMustChangePassword},
		{"533", ldapbridge.ErrAccountDisabled},
		{"701", ldapbridge.ErrAccountExpired},
		{"775", ldapbridge.ErrAccountLocked},
		{"999", ldapbridge.ErrInvalidCredentials},
	}
	for _, tt := range tests {
		if got := BindErrorKind(adBindError(tt.sub)); got != tt.want {
			t.Errorf("data %s: kind %v, want %v", tt.sub, got, tt.want)
		}
	}
	plain := ldap.NewError(ldap.LDAPResultInvalidCredentials, errors.New(""))
	if got := BindErrorKind(plain); got != ldapbridge.ErrInvalidCredentials {
		t.Errorf("plain 49: %v", got)
	}
	if got := BindErrorKind(ldap.NewError(ldap.LDAPResultUnwillingToPerform, errors.New("x"))); got != nil {
		t.Errorf("LDAP 53 mapped to %v, want nil", got)
	}
}

func TestADSubCodeGivesReasonText(t *testing.T) {
	code, reason, ok := ADSubCode(adBindError("775"))
	if !ok || code != "775" || reason != "account locked out" {
		t.Errorf("got %q %q %v", code, reason, ok)
	}
	if _, _, ok := ADSubCode(errors.New("LDAP Result Code 49: invalid credentials")); ok {
		t.Error("sub-code found in a message without one")
	}
}

func TestOpErrorWordsUserBindRejection(t *testing.T) {
	d := &Dir{requestTimeout: time.Second}
	s := &server{index: 1, url: "ldaps://dc1:636"}
	err := d.opError(context.Background(), s, "bind as cn=x", adBindError("533"), false)
	if !errors.Is(err, ldapbridge.ErrAccountDisabled) {
		t.Fatalf("not ErrAccountDisabled: %v", err)
	}
	for _, want := range []string{"directory.urls[1]", "533", "account disabled"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	var le *ldap.Error
	if !errors.As(err, &le) || le.ResultCode != 49 {
		t.Errorf("LDAP error not reachable with errors.As: %v", err)
	}
}

func TestOpErrorServiceBindNamesKeys(t *testing.T) {
	d := &Dir{}
	s := &server{index: 0, url: "ldap://h"}
	err := d.opError(context.Background(), s, "bind as service account cn=svc", ldap.NewError(49, errors.New("")), true)
	if !errors.Is(err, ErrServiceBind) || errors.Is(err, ldapbridge.ErrInvalidCredentials) {
		t.Errorf("kinds wrong: %v", err)
	}
	if !strings.Contains(err.Error(), "check directory.bind_dn and directory.bind_password") {
		t.Errorf("no fix in %q", err)
	}
}

func TestOpErrorMapsNetworkErrorsToUnavailable(t *testing.T) {
	d := &Dir{}
	s := &server{index: 0, url: "ldap://h"}
	for _, cause := range []error{ldap.ErrConnUnbound, ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: response channel closed")), errors.New("unable to send request: EOF")} {
		if err := d.opError(context.Background(), s, "search", cause, false); !errors.Is(err, ldapbridge.ErrUnavailable) {
			t.Errorf("%v mapped to %v", cause, err)
		}
	}
}

func TestDialFixNamesTheKey(t *testing.T) {
	tests := []struct {
		err   error
		caSet bool
		want  string
	}{
		{fmt.Errorf("x: %w", x509UnknownAuthority()), false, "set directory.tls.ca_file"},
		{errors.New("TLS handshake failed (tls: failed to verify certificate: x509: certificate signed by unknown authority)"), true, "the file given is another CA"},
		{errors.New("x509: certificate is valid for ldap.example.com, not other.example.com"), false, "set directory.tls.server_name"},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false, "is the server up? check directory.urls"},
		{&net.DNSError{Err: "no such host", Name: "nowhere"}, false, "check the host name in directory.urls"},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, false, "does not speak TLS"},
		{errors.New("remote error: tls: certificate required"), false, "directory.tls.client_cert_file"},
		{context.DeadlineExceeded, false, "directory.dial_timeout"},
	}
	for _, tt := range tests {
		if got := dialFix(tt.err, tt.caSet); !strings.Contains(got, tt.want) {
			t.Errorf("dialFix(%v) = %q, want it to contain %q", tt.err, got, tt.want)
		}
	}
}

func TestBuildTLSConfig(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     config.TLS
		wantErr string
		wantMin uint16
	}{
		{"defaults to TLS 1.2", config.TLS{}, "", tls.VersionTLS12},
		{"min version 1.3", config.TLS{MinVersion: "1.3"}, "", tls.VersionTLS13},
		{"bad min version", config.TLS{MinVersion: "3"}, "directory.tls.min_version", 0},
		{"missing CA file", config.TLS{CAFile: filepath.Join(dir, "nope.pem")}, "directory.tls.ca_file", 0},
		{"unparsable CA file", config.TLS{CAFile: garbage}, "directory.tls.ca_file", 0},
		{"cert without key", config.TLS{ClientCertFile: garbage}, "directory.tls.client_key_file", 0},
		{"bad key pair", config.TLS{ClientCertFile: garbage, ClientKeyFile: garbage}, "directory.tls.client_cert_file", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := buildTLSConfig(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.MinVersion != tt.wantMin || tc.InsecureSkipVerify {
				t.Errorf("MinVersion %x InsecureSkipVerify %v", tc.MinVersion, tc.InsecureSkipVerify)
			}
		})
	}
}

func TestOpenSetsServerNamePerURL(t *testing.T) {
	d, err := Open(context.Background(), config.Directory{URLs: []string{"ldaps://a.example:636", "ldap://10.0.0.2"}, StartTLS: false}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := d.servers[0].tls.ServerName; got != "a.example" {
		t.Errorf("server 0 ServerName %q", got)
	}
	if got := d.servers[1].hostPort; got != "10.0.0.2:389" {
		t.Errorf("server 1 hostPort %q", got)
	}
	d2, err := Open(context.Background(), config.Directory{URLs: []string{"ldaps://10.0.0.1"}, TLS: config.TLS{ServerName: "ldap.example"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if got := d2.servers[0].tls.ServerName; got != "ldap.example" {
		t.Errorf("configured server_name ignored: %q", got)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.Directory
		want string
	}{
		{"no URLs", config.Directory{}, "directory.urls"},
		{"StartTLS with ldaps", config.Directory{URLs: []string{"ldaps://h"}, StartTLS: true}, "directory.start_tls"},
		{"unknown scheme", config.Directory{URLs: []string{"http://h"}}, "directory.urls[0]"},
		{"bind DN without password", config.Directory{URLs: []string{"ldap://h"}, BindDN: "cn=svc"}, "directory.bind_password"},
		{"missing CA", config.Directory{URLs: []string{"ldaps://h"}, TLS: config.TLS{CAFile: "/nonexistent/ca.pem"}}, "directory.tls.ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Open(context.Background(), tt.cfg, Options{})
			if err == nil {
				d.Close()
				t.Fatalf("Open accepted %+v", tt.cfg)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v does not name %s", err, tt.want)
			}
		})
	}
}

func TestOpenWarnsLoudlyOnInsecureSkipVerify(t *testing.T) {
	var buf strings.Builder
	log := slogTo(&buf)
	d, err := Open(context.Background(), config.Directory{URLs: []string{"ldaps://h"}, TLS: config.TLS{InsecureSkipVerify: true}}, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "insecure_skip_verify") {
		t.Errorf("no warning logged: %q", buf.String())
	}
	if !d.servers[0].tls.InsecureSkipVerify {
		t.Error("InsecureSkipVerify not applied")
	}
}

func TestEmptyPasswordNeverTouchesTheNetwork(t *testing.T) {
	addr := closedPort(t)
	d, err := Open(context.Background(), config.Directory{URLs: []string{"ldap://" + addr}, DialTimeout: config.Duration(5 * time.Second)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	if err := d.CheckPassword(context.Background(), "uid=x,dc=example,dc=com", ""); !errors.Is(err, ldapbridge.ErrEmptyPassword) {
		t.Errorf("CheckPassword: %v", err)
	}
	if _, err := d.BindAs(context.Background(), "uid=x,dc=example,dc=com", ""); !errors.Is(err, ldapbridge.ErrEmptyPassword) {
		t.Errorf("BindAs: %v", err)
	}
	if el := time.Since(start); el > 50*time.Millisecond {
		t.Errorf("took %s", el)
	}
	if st := d.Stats(); st.Dials != 0 || st.Binds != 0 {
		t.Errorf("network touched: %+v", st)
	}
}

func TestDeadDirectoryFailsAtLoginWithAClearError(t *testing.T) {
	addr := closedPort(t)
	d, err := Open(context.Background(), config.Directory{URLs: []string{"ldap://" + addr}}, Options{})
	if err != nil {
		t.Fatalf("Open needs the server: %v", err)
	}
	defer d.Close()
	err = d.CheckPassword(context.Background(), "uid=x,dc=example,dc=com", "pw")
	if !errors.Is(err, ldapbridge.ErrUnavailable) {
		t.Fatalf("not ErrUnavailable: %v", err)
	}
	for _, want := range []string{"directory.urls[0]", "dial ldap://" + addr, "is the server up? check directory.urls"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if h := d.Health(); h[0].Up || h[0].LastError == "" {
		t.Errorf("health after failure: %+v", h)
	}
}

func TestDetectFlavor(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string][]string
		host  string
		want  ldapbridge.Flavor
	}{
		{"AD by capability", map[string][]string{"supportedCapabilities": {adCapability}}, "", ldapbridge.FlavorActiveDirectory},
		{"AD by forest level", map[string][]string{"forestFunctionality": {"7"}}, "", ldapbridge.FlavorActiveDirectory},
		{"OpenLDAP", map[string][]string{"objectClass": {"top", "OpenLDAProotDSE"}, "namingContexts": {"dc=jumpcloud,dc=com", "dc=example,dc=com"}}, "127.0.0.1", ldapbridge.FlavorOpenLDAP},
		{"389-DS", map[string][]string{"vendorName": {"389 Project"}}, "", ldapbridge.Flavor389DS},
		{"JumpCloud by suffix", map[string][]string{"objectClass": {"OpenLDAProotDSE"}, "namingContexts": {"dc=jumpcloud,dc=com"}}, "10.0.0.1", ldapbridge.FlavorJumpCloud},
		{"JumpCloud by host", map[string][]string{"objectClass": {"OpenLDAProotDSE"}}, "ldap.jumpcloud.com", ldapbridge.FlavorJumpCloud},
		{"unknown", map[string][]string{}, "h", ldapbridge.FlavorAuto},
	}
	for _, tt := range tests {
		if got := DetectFlavor(ldapbridge.NewEntry("", tt.attrs), tt.host); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	root := ldapbridge.NewEntry("", map[string][]string{"forestFunctionality": {"7"}, "vendorName": {"V"}, "vendorVersion": {"1"}})
	if info := RootDSEInfo(root, "h", ldapbridge.FlavorOpenLDAP); info.Flavor != ldapbridge.FlavorOpenLDAP || info.Vendor != "V 1" || info.ForestFunctionality != "7" {
		t.Errorf("configured flavor or fields lost: %+v", info)
	}
}
