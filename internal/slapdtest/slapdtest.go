// Package slapdtest runs a private OpenLDAP slapd for integration tests, with
// TLS material, memberOf/refint/syncprov overlays and the fixture trees
// documented in fixtures.go.
package slapdtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Fixture names accepted in Options.Fixtures.
const (
	JumpCloud = "jumpcloud"
	Classic   = "classic"
)

// DefaultSizeLimit is the slapd size limit for normal users when
// Options.SizeLimit is 0.
const DefaultSizeLimit = 50

// installHint is the failure message when the OpenLDAP tools are missing.
const installHint = "install it with `apt-get install slapd ldap-utils` (./scripts/test does this)"

// startTimeout bounds how long Start waits for slapd to answer.
const startTimeout = 20 * time.Second

// Options configures Start.
type Options struct {
	Fixtures  []string // fixture names to load: JumpCloud, Classic
	SizeLimit int      // slapd sizelimit for normal users; 0 = DefaultSizeLimit (plain searches capped, paged not)
	Bulk      string   // optional LDIF file loaded with slapadd before slapd starts (fast, but memberOf is not computed)
	// PasswordPolicy loads the ppolicy overlay on both databases and adds,
	// under each loaded fixture's suffix, the default policy described at
	// DefaultPolicy (before the fixtures, so their passwords are aged).
	PasswordPolicy bool
	// LogLevel is slapd's debug level written to the server's log (Log):
	// "" is none; "stats" logs every connection, BIND and SRCH.
	LogLevel string
}

// Server is a running private slapd listening on 127.0.0.1.
type Server struct {
	URL            string // ldap://127.0.0.1:PORT (StartTLS works on it)
	LDAPSURL       string // ldaps://127.0.0.1:PORT2
	CAFile         string // PEM of the CA that signed the server certificate (SAN IP:127.0.0.1, DNS:localhost)
	WrongCAFile    string // PEM of an unrelated CA
	ClientCertFile string // client certificate signed by CAFile's CA
	ClientKeyFile  string // key of ClientCertFile
	RootDN         string // the rootdn of both databases: bypasses ACLs and limits
	RootPassword   string // password of RootDN
	Dir            string // temp dir holding slapd.conf, data, certificates and slapd.log

	confPath string
	pwFile   string
	logPath  string
	logLevel string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs a private slapd on 127.0.0.1 from a temp dir with both suffixes
// (dc=jumpcloud,dc=com and dc=example,dc=com), loads opts.Fixtures, and
// registers a t.Cleanup that stops it.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	for _, bin := range []string{"slapd", "slapadd", "ldapmodify"} {
		if _, err := lookTool(bin); err != nil {
			t.Fatalf("slapdtest: %s not found: %s", bin, installHint)
		}
	}
	for _, name := range opts.Fixtures {
		if _, ok := fixtures[name]; !ok {
			t.Fatalf("slapdtest: unknown fixture %q: use slapdtest.JumpCloud or slapdtest.Classic", name)
		}
	}
	dir := t.TempDir()
	tf, err := writeTLS(dir)
	if err != nil {
		t.Fatalf("slapdtest: generate TLS material: %v", err)
	}
	sizeLimit := opts.SizeLimit
	if sizeLimit == 0 {
		sizeLimit = DefaultSizeLimit
	}
	s := &Server{
		CAFile: tf.ca, WrongCAFile: tf.wrongCA,
		ClientCertFile: tf.clientCert, ClientKeyFile: tf.clientKey,
		RootDN: "cn=admin," + JCBaseDN, RootPassword: randomSecret(),
		Dir: dir, logPath: filepath.Join(dir, "slapd.log"), pwFile: filepath.Join(dir, "rootpw"),
		logLevel: opts.LogLevel,
	}
	if s.logLevel == "" {
		s.logLevel = "none"
	}
	if err := os.WriteFile(s.pwFile, []byte(s.RootPassword), 0o600); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	if s.confPath, err = writeConfig(dir, tf, s.RootDN, s.RootPassword, sizeLimit, opts.PasswordPolicy); err != nil {
		t.Fatalf("slapdtest: write slapd.conf: %v", err)
	}
	bulkSuffix := ""
	if opts.Bulk != "" {
		bulkSuffix = s.slapadd(t, opts.Bulk)
	}
	t.Cleanup(func() {
		err := s.stop()
		if err != nil || t.Failed() {
			t.Logf("slapdtest: stop: %v\n--- %s ---\n%s", err, s.logPath, s.log())
		}
	})
	// A port picked here may be taken by another process before slapd binds
	// it, so the first start retries on fresh ports.
	for attempt := 1; ; attempt++ {
		ports := freePorts(t, 2)
		s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", ports[0])
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", ports[1])
		err := s.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("slapdtest: %v", err)
		}
	}
	for _, name := range opts.Fixtures {
		fx := fixtures[name]
		ldif := fx.body()
		if opts.PasswordPolicy {
			ldif = policyLDIF(fx.suffix) + ldif
		}
		if fx.suffix != bulkSuffix {
			ldif = suffixEntry(fx.suffix) + ldif
		}
		s.Apply(t, ldif)
	}
	return s
}

// Start starts slapd again on the same ports and waits until it answers an
// anonymous root DSE read.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("slapdtest: Start: %v", err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("slapd is already running on %s", s.URL)
	}
	slapd, err := lookTool("slapd")
	if err != nil {
		return fmt.Errorf("slapd not found: %s", installHint)
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(slapd, "-d", s.logLevel, "-f", s.confPath, "-h", s.URL+"/ "+s.LDAPSURL+"/")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("run %s: %w", slapd, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	s.cmd, s.done = cmd, done
	if err := s.waitReady(done); err != nil {
		_ = s.stopLocked()
		return fmt.Errorf("slapd on %s did not start: %w\n--- %s ---\n%s", s.URL, err, s.logPath, s.log())
	}
	return nil
}

// Stop stops slapd and waits for it to exit; data, certificates and ports are
// kept for a later Start.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("slapdtest: Stop: %v\n--- %s ---\n%s", err, s.logPath, s.log())
	}
}

func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	if s.cmd == nil {
		return nil
	}
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("slapd (pid %d) ignored SIGTERM for 10s and was killed", cmd.Process.Pid)
	}
}

func (s *Server) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("slapd exited")
		default:
		}
		if last = s.probe(); last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer after %s: %v", startTimeout, last)
}

// probe reads the root DSE anonymously over both listeners.
func (s *Server) probe() error {
	for _, u := range []string{s.URL, s.LDAPSURL} {
		c, err := ldap.DialURL(u, ldap.DialWithTLSConfig(&tls.Config{InsecureSkipVerify: true}),
			ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err != nil {
			return err
		}
		c.SetTimeout(2 * time.Second)
		_, err = c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"namingContexts"}, nil))
		c.Close()
		if err != nil {
			return fmt.Errorf("%s: root DSE: %w", u, err)
		}
	}
	return nil
}

// Apply runs `ldapmodify -a` as the rootdn with ldif (changetype records are
// allowed), so overlays such as memberOf see every change.
func (s *Server) Apply(t testing.TB, ldif string) {
	t.Helper()
	tool, err := lookTool("ldapmodify")
	if err != nil {
		t.Fatalf("slapdtest: ldapmodify not found: %s", installHint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, "-a", "-x", "-H", s.URL, "-D", s.RootDN, "-y", s.pwFile)
	cmd.Stdin = bytes.NewBufferString(ldif)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("slapdtest: Apply: ldapmodify -a on %s: %v\n%s\n%s", s.URL, err, lastLines(out.String(), 6), errOut.String())
	}
}

// Conn returns a connection to URL bound as the rootdn, closed at cleanup.
func (s *Server) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	return s.ConnAs(t, s.RootDN, s.RootPassword)
}

// ConnAs returns a connection to URL bound with a simple bind as dn, closed at
// cleanup.
func (s *Server) ConnAs(t testing.TB, dn, password string) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatalf("slapdtest: dial %s: %v", s.URL, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(dn, password); err != nil {
		t.Fatalf("slapdtest: bind %s on %s: %v", dn, s.URL, err)
	}
	return c
}

// slapadd loads an LDIF file offline into the database whose suffix holds the
// file's first entry, and returns that suffix.
func (s *Server) slapadd(t testing.TB, path string) string {
	t.Helper()
	suffix, err := firstSuffix(path)
	if err != nil {
		t.Fatalf("slapdtest: Bulk %s: %v", path, err)
	}
	tool, _ := lookTool("slapadd")
	out, err := exec.Command(tool, "-q", "-f", s.confPath, "-b", suffix, "-l", path).CombinedOutput()
	if err != nil {
		t.Fatalf("slapdtest: slapadd -b %s -l %s: %v\n%s", suffix, path, err, lastLines(string(out), 40))
	}
	return suffix
}

// firstSuffix returns the served suffix that holds the first dn of an LDIF file.
func firstSuffix(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "dn:") || strings.HasPrefix(line, "dn::") {
			continue
		}
		dn := strings.ToLower(strings.TrimSpace(line[3:]))
		for _, db := range databaseDirs {
			if strings.HasSuffix(dn, db.suffix) {
				return db.suffix, nil
			}
		}
		return "", fmt.Errorf("first entry %q is under neither %s nor %s", dn, JCBaseDN, ExBaseDN)
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no plain \"dn:\" line found")
}

// Log returns slapd's whole log (with Options.LogLevel "stats", a line per
// BIND and SRCH), for tests asserting what the server was asked.
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func (s *Server) log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	return lastLines(string(b), 60)
}

// lookTool finds an OpenLDAP binary on PATH or in /usr/sbin, which is often
// missing from a non-root PATH.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return exec.LookPath(filepath.Join("/usr/sbin", name))
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("slapdtest: find a free loopback port: %v", err)
		}
		ls = append(ls, l)
		_, p, _ := net.SplitHostPort(l.Addr().String())
		port, _ := strconv.Atoi(p)
		ports = append(ports, port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func randomSecret() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func lastLines(s string, n int) string {
	lines := bytes.Split([]byte(s), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
