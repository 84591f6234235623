package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/examples"
)

// runCLI runs one command line in-process with LDAPBRIDGE_CONFIG unset.
func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	t.Setenv("LDAPBRIDGE_CONFIG", "")
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return cliResult{code, out.String(), errb.String()}
}

func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.99.1",
		Main:      debug.Module{Path: "example.com/fork/ldapbridge", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "plan9"}, {Key: "GOARCH", Value: "arm"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	v := versionFrom(bi, "2026-11-02T11:00:00Z")
	want := versionInfo{
		Module: "example.com/fork/ldapbridge", Version: "v1.2.3",
		Revision: "0123456789abcdef0123456789abcdef01234567", Dirty: true,
		CommitTime: "2026-11-01T10:00:00Z", BuildTime: "2026-11-02T11:00:00Z",
		GoVersion: "go1.99.1", Platform: "plan9/arm",
	}
	if v != want {
		t.Fatalf("versionFrom = %+v\nwant %+v", v, want)
	}
	var b bytes.Buffer
	v.print(&b)
	for _, s := range []string{"ldapbridge v1.2.3\n", "0123456789abcdef0123456789abcdef01234567 (dirty", "commit time:   2026-11-01T10:00:00Z", "build time:    2026-11-02T11:00:00Z", "go1.99.1 plan9/arm"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, b.String())
		}
	}

	bi.Settings[5].Value = "false"
	if v := versionFrom(bi, ""); v.Dirty || v.BuildTime != "" {
		t.Errorf("clean build read as dirty %v, build time %q", v.Dirty, v.BuildTime)
	}
	none := versionFrom(nil, "")
	if none.Version != "unknown" || none.Revision != "" || none.GoVersion != runtime.Version() {
		t.Errorf("no build info: %+v", none)
	}
	b.Reset()
	none.print(&b)
	if !strings.Contains(b.String(), "unknown (built without VCS information)") {
		t.Errorf("missing revision not explained:\n%s", b.String())
	}
}

func TestVersionCommandAndFlagPrintTheSame(t *testing.T) {
	cmd, flag := runCLI(t, "version"), runCLI(t, "--version")
	if cmd.code != 0 || flag.code != 0 || cmd.stdout != flag.stdout || !strings.HasPrefix(cmd.stdout, "ldapbridge ") {
		t.Fatalf("version: exit %d %q %q\n--version: exit %d %q %q", cmd.code, cmd.stdout, cmd.stderr, flag.code, flag.stdout, flag.stderr)
	}
	for _, args := range [][]string{{"version", "--json"}, {"--json", "--version"}} {
		r := runCLI(t, args...)
		var v versionInfo
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 {
			t.Fatalf("%v: exit %d, %v: %s %s", args, r.code, err, r.stdout, r.stderr)
		}
		if v.GoVersion != runtime.Version() || v.Module != "github.com/ldapbridge/ldapbridge" || v.Version == "" {
			t.Errorf("%v: %+v", args, v)
		}
	}
	if r := runCLI(t); r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
		t.Errorf("no arguments should print the help: exit %d %q", r.code, r.stdout)
	}
	if r := runCLI(t, "no-such-command"); r.code != exitUsage || !strings.Contains(r.stderr, `unknown command "no-such-command"`) {
		t.Errorf("unknown command: exit %d %q", r.code, r.stderr)
	}
}

// The README's install instructions: the binary built with go install
// works from any directory, with the example configurations inside it.
func TestVersionOfTheInstalledBinaryOutsideTheRepository(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	gobin := t.TempDir()
	const stamp = "2026-01-02T03:04:05Z"
	install := exec.Command(goBin, "install", "-ldflags=-X main.buildTime="+stamp, "./cmd/ldapbridge")
	install.Dir = root
	install.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-buildvcs=false")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install ./cmd/ldapbridge: %v\n%s", err, out)
	}
	goVersion, err := exec.Command(goBin, "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}

	work := t.TempDir() // outside the repository
	bin := filepath.Join(gobin, "ldapbridge")
	exe := func(env []string, args ...string) (string, string, int) {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Dir = work
		c.Env = append(os.Environ(), append([]string{"LDAPBRIDGE_CONFIG="}, env...)...)
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run %v: %v", args, err)
		}
		return out.String(), errb.String(), code
	}

	out, errs, code := exe(nil, "version")
	if code != 0 || !strings.Contains(out, "build time:    "+stamp) || !strings.Contains(out, strings.TrimSpace(string(goVersion))+" ") ||
		!strings.Contains(out, "unknown (built without VCS information)") {
		t.Errorf("version: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = exe(nil, "--version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 {
		t.Fatalf("--version --json: exit %d, %v\n%s%s", code, err, out, errs)
	}
	if v.BuildTime != stamp || v.Module != "github.com/ldapbridge/ldapbridge" || v.Version == "" || v.Dirty {
		t.Errorf("--version --json: %+v", v)
	}
	out, errs, code = exe(nil, "demo", "--help")
	if code != 0 || !strings.Contains(out, "--listen") {
		t.Errorf("demo --help: exit %d\n%s%s", code, out, errs)
	}
	// init reads the examples from the binary, not from a checkout.
	_, errs, code = exe(nil, "init", "--flavor", "active_directory", "--out", "ad.yaml")
	if code != 0 {
		t.Fatalf("init: exit %d %s", code, errs)
	}
	out, errs, code = exe([]string{"AD_BIND_PASSWORD=installed-secret-1"}, "--config", "ad.yaml", "config", "show")
	if code != 0 || !strings.Contains(out, "bind_password: REDACTED") || strings.Contains(out, "installed-secret-1") ||
		!strings.Contains(out, "username_attribute: sAMAccountName") {
		t.Errorf("config show of the written file: exit %d\n%s%s", code, out, errs)
	}
}

// exampleEnv resolves the variables of the example configurations.
func exampleEnv(k string) (string, bool) {
	return map[string]string{
		"LDAP_BIND_PASSWORD": "pw", "AD_BIND_PASSWORD": "pw",
		"DATABASE_URL": "postgres://app@db.example.com/app",
	}[k], true
}

func TestInitPrintsEachFlavorWithItsPlaceholders(t *testing.T) {
	for _, flavor := range []string{"jumpcloud", "openldap", "active_directory"} {
		t.Run(flavor, func(t *testing.T) {
			r := runCLI(t, "init", "--flavor", flavor)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			body, err := examples.Config(flavor)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(r.stdout, string(body)) || !strings.HasPrefix(r.stdout, "# Written by `ldapbridge init --flavor "+flavor+"`") {
				t.Errorf("stdout is not the header and examples/%s.yaml:\n%s", flavor, r.stdout)
			}
			ps := examples.Placeholders(flavor)
			if len(ps) == 0 {
				t.Fatal("no placeholders")
			}
			for _, p := range ps {
				if !strings.Contains(r.stderr, p.Text) || !strings.Contains(r.stderr, p.Fill) {
					t.Errorf("stderr does not list placeholder %q (%s):\n%s", p.Text, p.Fill, r.stderr)
				}
				if !strings.Contains(r.stdout, "#   "+p.Text+" — "+p.Fill) {
					t.Errorf("the header does not list placeholder %q", p.Text)
				}
			}
			cfg, err := config.Parse([]byte(r.stdout), config.ParseOptions{
				LookupEnv: exampleEnv,
				ReadFile:  func(string) ([]byte, error) { return []byte("pw\n"), nil },
			})
			if err != nil {
				t.Fatalf("the written configuration does not load:\n%v", err)
			}
			if string(cfg.Directory.Flavor) != flavor {
				t.Errorf("flavor %q, want %q", cfg.Directory.Flavor, flavor)
			}
		})
	}
	if r := runCLI(t, "init"); r.code != 0 || !strings.Contains(r.stdout, "flavor: jumpcloud") {
		t.Errorf("init without --flavor: exit %d, want the jumpcloud example", r.code)
	}
}

func TestInitOutCreatesTheFileAndNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ldapbridge.yaml")
	r := runCLI(t, "init", "--flavor", "openldap", "--out", path)
	if r.code != 0 || !strings.Contains(r.stdout, "wrote "+path) || !strings.Contains(r.stdout, "ldap1.example.com") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	printed := runCLI(t, "init", "--flavor", "openldap").stdout
	if string(written) != printed {
		t.Errorf("the file differs from what init prints:\n%s", written)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600", fi.Mode(), err)
	}

	if err := os.WriteFile(path, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "init", "--flavor", "jumpcloud", "--out", path)
	if r.code != exitUsage || !strings.Contains(r.stderr, path+" already exists") || !strings.Contains(r.stderr, "never overwrites") {
		t.Errorf("existing file: exit %d, stderr %q", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(path); string(b) != "mine\n" {
		t.Errorf("the existing file was changed: %q", b)
	}

	r = runCLI(t, "init", "--flavor", "novell", "--out", filepath.Join(dir, "other.yaml"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "active_directory, jumpcloud, openldap") {
		t.Errorf("unknown flavor: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "other.yaml")); err == nil {
		t.Error("a file was written for an unknown flavor")
	}
}

func TestInitJSON(t *testing.T) {
	r := runCLI(t, "init", "--flavor", "jumpcloud", "--json")
	var j initJSON
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v: %s", r.code, err, r.stdout)
	}
	if j.Flavor != "jumpcloud" || j.Out != "" || !strings.Contains(j.Config, "ldaps://ldap.jumpcloud.com:636") || len(j.Placeholders) != len(examples.Placeholders("jumpcloud")) {
		t.Errorf("%+v", j)
	}
}

// writeConfig writes a configuration file and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigShowRedactsSecretsAndAppliesFlavorDefaults(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("file-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_BIND_PW", "env-bind-secret")
	path := writeConfig(t, `
directory:
  urls: [ldaps://dc1.corp.example.com:636]
  bind_dn: svc@corp.example.com
  bind_password: ${TEST_BIND_PW}
  flavor: active_directory
users:
  search: {base_dn: "DC=corp,DC=example,DC=com", filter: "(sAMAccountName={username})"}
  photo_attribute: jpegPhoto
store:
  driver: postgres
  dsn: postgres://app:pg-url-secret@db.example.com:5432/app?sslmode=verify-full&sslpassword=pg-ssl-secret
web:
  metrics_token_file: `+tokenFile+`
`)
	secrets := []string{"env-bind-secret", "pg-url-secret", "pg-ssl-secret", "file-token-0123456789abcdef"}

	r := runCLI(t, "--config", path, "config", "show")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("secret %q printed:\n%s", s, r.stdout)
		}
	}
	for _, s := range []string{
		"bind_password: REDACTED",
		"metrics_token: REDACTED",
		"metrics_token_file: " + tokenFile,
		"dsn: postgres://app:REDACTED@db.example.com:5432/app?sslmode=verify-full&sslpassword=REDACTED",
		"username_attribute: sAMAccountName",   // flavor default
		"stable_id_attribute: objectGUID",      // flavor default
		"type: active_directory",               // flavor default
		"photo_attribute: jpegPhoto",           // set in the file, kept
		"listen: 127.0.0.1:8080",               // plain default
		"max_removals: 5%",                     // plain default
		"# Effective configuration of " + path, // says which file
	} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, r.stdout)
		}
	}
	if strings.Contains(r.stderr, "flavor is auto") {
		t.Errorf("a set flavor got the auto note: %s", r.stderr)
	}
	r = runCLI(t, "--config", path, "--json", "config", "show")
	var got map[string]map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("--json: exit %d, %v: %s", r.code, err, r.stdout)
	}
	for _, s := range secrets {
		if strings.Contains(r.stdout, s) {
			t.Errorf("--json printed secret %q", s)
		}
	}
	if got["directory"]["bind_password"] != "REDACTED" || got["users"]["username_attribute"] != "sAMAccountName" ||
		got["web"]["metrics_token"] != "REDACTED" || got["directory"]["page_size"] != float64(500) {
		t.Errorf("--json: %v", got)
	}
}

func TestConfigShowSecretFilesAndAutoFlavor(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "bind_pw")
	if err := os.WriteFile(pwFile, []byte("file-bind-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, `
directory:
  urls: [ldaps://ldap.example.com:636]
  bind_dn: cn=svc,dc=example,dc=com
  bind_password_file: `+pwFile+`
users:
  dn_template: uid={username},ou=People,dc=example,dc=com
store:
  dsn: `+filepath.Join(dir, "lb.db")+`
`)
	r := runCLI(t, "--config", path, "config", "show")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "file-bind-secret") {
		t.Errorf("the secret file's content was printed:\n%s", r.stdout)
	}
	for _, s := range []string{"bind_password: REDACTED", "bind_password_file: " + pwFile, "dsn: " + filepath.Join(dir, "lb.db"), "flavor: auto"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "directory.flavor is auto") {
		t.Errorf("no note about the auto flavor: %q", r.stderr)
	}

	missing := runCLI(t, "--config", filepath.Join(dir, "nope.yaml"), "config", "show")
	if missing.code != exitUsage || !strings.Contains(missing.stderr, "not found") {
		t.Errorf("missing file: exit %d %q", missing.code, missing.stderr)
	}
	bad := runCLI(t, "--config", writeConfig(t, "directory: {urls: [ldap://x], page_sise: 5}\n"), "config", "show")
	if bad.code != exitUsage || !strings.Contains(bad.stderr, "page_size") {
		t.Errorf("invalid file: exit %d %q", bad.code, bad.stderr)
	}
}

func TestConfigShowDSN(t *testing.T) {
	tests := []struct{ driver, dsn, want string }{
		{"sqlite", "/var/lib/ldapbridge/lb.db", "/var/lib/ldapbridge/lb.db"},
		{"postgres", "postgres://app@db/app", "postgres://app@db/app"},
		{"postgres", "postgresql://app:s3cret@db:5432/app", "postgresql://app:REDACTED@db:5432/app"},
		{"postgres", "postgres://db/app?password=s3cret&user=app", "postgres://db/app?password=REDACTED&user=app"},
		{"postgres", "host=db user=app password=s3cret dbname=app", "host=db user=app password=REDACTED dbname=app"},
		{"postgres", "host=db password = 'my s3cret' sslpassword=k3y", "host=db password = REDACTED sslpassword=REDACTED"},
		{"postgres", "PASSWORD='a b\\' c' host=db", "PASSWORD=REDACTED host=db"},
		{"postgres", "postgres://app:s3cret@db:bad-port/app", "REDACTED"},
	}
	for _, tt := range tests {
		got := showDSN(tt.driver, tt.dsn)
		if got != tt.want {
			t.Errorf("showDSN(%s, %q) = %q, want %q", tt.driver, tt.dsn, got, tt.want)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, "k3y") {
			t.Errorf("showDSN(%q) keeps a secret: %q", tt.dsn, got)
		}
	}
}
