package auth_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/demodir"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/sqlite"
)

// signIn is the README's "Use it from Go" snippet: TestReadmeGoSnippet
// keeps the two identical and runs it.
func signIn(ctx context.Context, username, password string) (*auth.Result, error) {
	cfg, err := config.Load("ldapbridge.yaml")
	if err != nil {
		return nil, err
	}
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	store, err := sqlite.Open(ctx, cfg.Store.DSN.Reveal())
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return nil, err
	}
	authn, err := auth.New(cfg, dir, store, auth.Options{})
	if err != nil {
		return nil, err
	}
	// A wrong password or a refusal by the access rules is res.Outcome,
	// not an error: err is for a failing store or a wrong configuration.
	return authn.Authenticate(ctx, username, password) // res.Allowed, res.User, res.GroupNames, res.Entry
}

// funcSource returns the source of the top-level function name in file.
func funcSource(t *testing.T, file, name string) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	i := strings.Index(s, "\nfunc "+name+"(")
	if i < 0 {
		t.Fatalf("no func %s in %s", name, file)
	}
	j := strings.Index(s[i:], "\n}\n")
	return s[i+1 : i+j+3] // through the closing brace and its newline
}

// readmeGoBlock returns the first ```go block of the README section title.
func readmeGoBlock(t *testing.T, title string) string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "\n## "+title+"\n")
	if i < 0 {
		t.Fatalf("README has no section %q", title)
	}
	s = s[i:]
	if end := strings.Index(s[4:], "\n## "); end >= 0 {
		s = s[:end+4]
	}
	b := strings.Index(s, "```go\n")
	if b < 0 {
		t.Fatalf("README section %q has no ```go block", title)
	}
	s = s[b+len("```go\n"):]
	return s[:strings.Index(s, "```")]
}

// TestReadmeGoSnippet: the README's Go snippet is signIn, character for
// character, and it signs a demo user in and refuses a wrong password.
func TestReadmeGoSnippet(t *testing.T) {
	want := funcSource(t, "readme_test.go", "signIn")
	if got := readmeGoBlock(t, "Use it from Go"); got != want {
		t.Fatalf("README's \"Use it from Go\" snippet differs from signIn in auth/readme_test.go; copy it over.\nREADME:\n%s\nsignIn:\n%s", got, want)
	}

	ctx := context.Background()
	demo, err := demodir.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ldapbridge.yaml"), demodir.ConfigYAML(demo.URL(), filepath.Join(dir, "app.db")), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	res, err := signIn(ctx, "jdoe", demodir.DemoPassword("jdoe"))
	if err != nil || !res.Allowed || res.User == nil || res.User.Username != "jdoe" {
		t.Fatalf("signIn(jdoe): %+v, %v; want allowed with the stored user", res, err)
	}
	res, err = signIn(ctx, "jdoe", "wrong")
	if err != nil || res.Allowed || res.Outcome != auth.BadCredentials {
		t.Fatalf("signIn(jdoe, wrong): %+v, %v; want outcome bad_credentials and no error", res, err)
	}
	// Every error is returned: a missing config file is one.
	t.Chdir(t.TempDir())
	if _, err := signIn(ctx, "jdoe", "x"); err == nil {
		t.Fatal("signIn without ldapbridge.yaml returned no error")
	}
}
