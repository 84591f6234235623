// Package sambatest runs a real Samba Active Directory domain controller on
// a loopback address for tests, seeded with the fixtures of fixtures.go.
//
// Provisioning and seeding take several seconds, and a DC's ports are fixed
// (389, 636, 88), so one DC serves a whole test binary: Start provisions it
// on first use, and Main (called from TestMain) stops it at the end. The
// provisioned and seeded directory is kept as a template under
// os.TempDir(), keyed by the Samba version and the fixture version, so later
// runs only copy it and start the server. Each DC listens on its own random
// 127.x.y.z address, so several test binaries can run at once.
package sambatest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// fixtureVersion changes whenever the fixtures or the provisioning change,
// so an old cached template is not reused.
const fixtureVersion = "5"

// DC is a running Samba AD domain controller.
type DC struct {
	// Host is the loopback address the DC listens on, e.g. 127.113.5.9.
	Host string
	// URL is ldap://Host (simple binds allowed without TLS), LDAPSURL ldaps://Host.
	URL, LDAPSURL string
	// CAFile is the PEM of the CA that signed the DC's certificate (SAN IP:Host).
	CAFile string
	// Dir holds the DC's configuration and databases.
	Dir string
	// ProvisionTime is how long provisioning and seeding took, or 0 when a
	// cached template was reused; StartTime how long copying and starting took.
	ProvisionTime, StartTime time.Duration

	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
}

var (
	once      sync.Once
	shared    *DC
	sharedErr error
)

// Start returns the test binary's DC, provisioning and starting it on the
// first call. It fails the test (never skips) when samba is not installed.
func Start(t testing.TB) *DC {
	t.Helper()
	once.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		t.Fatalf("sambatest: %v", sharedErr)
	}
	return shared
}

// Main runs the tests and then stops the DC; call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "sambatest:", err)
		}
		_ = os.RemoveAll(shared.Dir)
	}
	os.Exit(code)
}

func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return exec.LookPath(filepath.Join("/usr/sbin", name))
}

func start() (*DC, error) {
	if _, err := lookTool("samba-tool"); err != nil {
		return nil, errors.New("samba-tool not found: " + installHint)
	}
	sambaBin, err := lookTool("samba")
	if err != nil {
		return nil, errors.New("samba not found: " + installHint)
	}
	if err := missingPieces("/"); err != nil {
		return nil, err
	}
	version, err := exec.Command(sambaBin, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("samba --version: %w", err)
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(string(version)) + "/" + fixtureVersion))
	cache := filepath.Join(os.TempDir(), "ldapbridge-sambatest")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return nil, err
	}
	tmpl := filepath.Join(cache, hex.EncodeToString(sum[:6]))
	provisioned, err := ensureTemplate(tmpl)
	if err != nil {
		return nil, err
	}
	begin := time.Now()
	dir, err := os.MkdirTemp("", "sambatest-")
	if err != nil {
		return nil, err
	}
	if out, err := exec.Command("cp", "-a", tmpl+"/.", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copy template %s: %v: %s", tmpl, err, out)
	}
	dc, err := launch(dir)
	if err != nil {
		return nil, err
	}
	if err := dc.lockLarry(); err != nil {
		_ = dc.stop()
		return nil, err
	}
	dc.ProvisionTime, dc.StartTime = provisioned, time.Since(begin)
	return dc, nil
}

// ensureTemplate builds the seeded template directory unless it exists; it
// returns how long building took (0 when cached).
func ensureTemplate(tmpl string) (time.Duration, error) {
	unlock, err := lockFile(tmpl + ".lock")
	if err != nil {
		return 0, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(tmpl, "ready")); err == nil {
		return 0, nil
	}
	begin := time.Now()
	build := tmpl + ".build"
	_ = os.RemoveAll(build)
	if err := provision(build); err != nil {
		return 0, err
	}
	dc, err := launch(build)
	if err != nil {
		return 0, err
	}
	if err := dc.seed(); err != nil {
		_ = dc.stop()
		return 0, fmt.Errorf("seed the DC: %w\n--- %s ---\n%s", err, dc.logPath, dc.log())
	}
	if err := dc.stop(); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(build, "ready"), []byte(fixtureVersion), 0o600); err != nil {
		return 0, err
	}
	_ = os.RemoveAll(tmpl)
	if err := os.Rename(build, tmpl); err != nil {
		return 0, err
	}
	return time.Since(begin), nil
}

// provision runs samba-tool domain provision into dir.
func provision(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tool, _ := lookTool("samba-tool")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, "domain", "provision", "--targetdir", dir,
		"--use-rfc2307", "--dns-backend=NONE", "--backend-store=mdb", "--server-role=dc",
		"--realm="+Realm, "--domain="+NetBIOSDomain, "--host-name=dc1", "--adminpass="+AdminPassword,
		"--option=interfaces=127.0.0.1/8", "--option=bind interfaces only=yes",
		"--option=server services=ldap, cldap, kdc", "--option=ldap server require strong auth=no")
	if out, err := cmd.CombinedOutput(); err != nil {
		if hint := provisionHint(string(out)); hint != "" {
			return fmt.Errorf("samba-tool domain provision: %v: %s\n%s", err, hint, lastLines(string(out), 30))
		}
		return fmt.Errorf("samba-tool domain provision: %v\n%s", err, lastLines(string(out), 30))
	}
	return nil
}

// launch writes the TLS files and smb.conf for a fresh loopback address and
// starts samba from dir.
func launch(dir string) (*DC, error) {
	ip, err := pickAddress()
	if err != nil {
		return nil, err
	}
	dc := &DC{Host: ip, URL: "ldap://" + ip, LDAPSURL: "ldaps://" + ip, Dir: dir,
		CAFile: filepath.Join(dir, "tls", "ca.pem"), logPath: filepath.Join(dir, "samba.log")}
	if err := writeTLS(filepath.Join(dir, "tls"), ip); err != nil {
		return nil, err
	}
	// Each DC keeps its pid file and sockets in its own directory: with the
	// defaults under /run/samba, two test binaries' DCs refuse each other.
	if err := os.MkdirAll(filepath.Join(dir, "run", "ncalrpc"), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "smb.conf"), []byte(smbConf(dir, ip)), 0o600); err != nil {
		return nil, err
	}
	return dc, dc.run()
}

func smbConf(dir, ip string) string {
	return fmt.Sprintf(`[global]
	netbios name = DC1
	realm = %s
	workgroup = %s
	server role = active directory domain controller
	server services = ldap, cldap, kdc
	interfaces = %s/8
	bind interfaces only = yes
	ldap server require strong auth = no
	private dir = %[4]s/private
	lock directory = %[4]s
	state directory = %[4]s/state
	cache directory = %[4]s/cache
	pid directory = %[4]s/run
	ncalrpc dir = %[4]s/run/ncalrpc
	binddns dir = %[4]s/bind-dns
	log file = %[4]s/samba.log
	idmap_ldb:use rfc2307 = yes
	tls enabled = yes
	tls keyfile = %[4]s/tls/key.pem
	tls certfile = %[4]s/tls/cert.pem
	tls cafile =
`, Realm, NetBIOSDomain, ip, dir)
}

// pickAddress returns a random 127.x.y.z whose LDAP port is free.
func pickAddress() (string, error) {
	var last error
	for range 20 {
		ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), 1+rand.IntN(250), 1+rand.IntN(250))
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "389"))
		if err != nil {
			last = err
			continue
		}
		l.Close()
		return ip, nil
	}
	return "", fmt.Errorf("no free loopback address for port 389 (root is needed to listen on it): %v", last)
}

func (dc *DC) run() error {
	sambaBin, _ := lookTool("samba")
	logf, err := os.OpenFile(dc.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(sambaBin, "-i", "-M", "single", "-d", "1", "--debug-stdout", "-s", filepath.Join(dc.Dir, "etc", "smb.conf"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("run %s: %w", sambaBin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	dc.cmd, dc.done = cmd, done
	if err := dc.waitReady(); err != nil {
		_ = dc.stop()
		return fmt.Errorf("samba on %s did not start: %w\n--- %s ---\n%s", dc.Host, err, dc.logPath, dc.log())
	}
	return nil
}

func (dc *DC) waitReady() error {
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-dc.done:
			return errors.New("samba exited")
		default:
		}
		c, err := dc.dial(dc.LDAPSURL)
		if err == nil {
			err = c.Bind(AdminDN, AdminPassword)
			c.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no answer after 60s: %v", last)
}

func (dc *DC) stop() error {
	if dc.cmd == nil {
		return nil
	}
	cmd, done := dc.cmd, dc.done
	dc.cmd, dc.done = nil, nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("samba (pid %d) ignored SIGTERM for 15s and was killed", cmd.Process.Pid)
	}
}

// TLSConfig trusts the DC's CA.
func (dc *DC) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	if pem, err := os.ReadFile(dc.CAFile); err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func (dc *DC) dial(url string) (*ldap.Conn, error) {
	c, err := ldap.DialURL(url, ldap.DialWithTLSConfig(dc.TLSConfig()), ldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(30 * time.Second)
	return c, nil
}

// Conn returns an LDAPS connection bound as the domain Administrator; the
// test's cleanup closes it.
func (dc *DC) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := dc.adminConn()
	if err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (dc *DC) adminConn() (*ldap.Conn, error) {
	c, err := dc.dial(dc.LDAPSURL)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", dc.LDAPSURL, err)
	}
	if err := c.Bind(AdminDN, AdminPassword); err != nil {
		c.Close()
		return nil, fmt.Errorf("bind as %s: %w", AdminDN, err)
	}
	return c, nil
}

// lockLarry locks Larry out with LockoutThreshold bad passwords (done at
// every start, since a lockout ends after 30 minutes).
func (dc *DC) lockLarry() error {
	c, err := dc.dial(dc.URL)
	if err != nil {
		return err
	}
	defer c.Close()
	for range LockoutThreshold {
		if err := c.Bind(UserDN(LarrySAM), "wrong-password"); err == nil {
			return errors.New("larry's bind with a wrong password succeeded")
		}
	}
	return nil
}

func (dc *DC) log() string {
	b, _ := os.ReadFile(dc.logPath)
	return lastLines(string(b), 40)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
