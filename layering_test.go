package ldapbridge_test

import (
	"os/exec"
	"strings"
	"testing"
)

// layers is the package table of DESIGN.md and the README: what each
// package must not depend on, directly or through another package. Data
// flows one way, directory → policy → store → web, and the root package
// holds only domain types and small interfaces.
var layers = []struct {
	pkg       string
	forbidden []string
}{
	{"config", []string{"ldapdir", "sqlite", "postgres", "internal/sqlcore", "web", "auth", "dirsync"}},
	{"ldaptext", []string{"ldapdir", "sqlite", "postgres", "internal/sqlcore", "web", "auth", "dirsync"}},
	{"ldapdir", []string{"sqlite", "postgres", "internal/sqlcore", "web", "auth", "dirsync", "membership"}},
	{"membership", []string{"ldapdir", "sqlite", "postgres", "internal/sqlcore", "web", "auth", "dirsync"}},
	{"auth", []string{"ldapdir", "sqlite", "postgres", "internal/sqlcore", "web", "dirsync"}},
	{"dirsync", []string{"ldapdir", "sqlite", "postgres", "internal/sqlcore", "web"}},
	{"internal/sqlcore", []string{"web", "auth", "dirsync", "ldapdir", "membership"}},
	{"sqlite", []string{"web", "auth", "dirsync", "ldapdir", "membership"}},
	{"postgres", []string{"web", "auth", "dirsync", "ldapdir", "membership"}},
	{"storetest", []string{"web", "auth", "dirsync", "ldapdir", "sqlite", "postgres"}},
	{"metrics", []string{"web", "auth", "dirsync", "ldapdir", "sqlite", "postgres"}},
	{"apijson", []string{"web", "auth", "dirsync", "ldapdir", "sqlite", "postgres"}},
	{"web", []string{"ldapdir", "sqlite", "postgres", "internal/sqlcore", "dirsync", "metrics"}},
	{"demodir", []string{"config", "ldapdir", "membership", "auth", "dirsync", "sqlite", "postgres", "web"}},
	{"examples", []string{"config", "ldaptext", "ldapdir", "membership", "auth", "dirsync", "internal/sqlcore", "sqlite", "postgres", "storetest", "metrics", "apijson", "web", "demodir"}},
}

const module = "github.com/ldapbridge/ldapbridge"

// deps lists the packages pkg depends on (not its tests), itself included.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

func TestEachPackageDependsOnlyOnTheLayersBelowIt(t *testing.T) {
	for _, l := range layers {
		t.Run(l.pkg, func(t *testing.T) {
			for _, dep := range deps(t, module+"/"+l.pkg) {
				for _, bad := range l.forbidden {
					if dep == module+"/"+bad {
						t.Errorf("%s depends on %s; DESIGN.md's package table forbids it", l.pkg, bad)
					}
				}
			}
		})
	}
}

func TestRootPackageImportsOnlyTheStandardLibrary(t *testing.T) {
	for _, dep := range deps(t, module) {
		first, _, _ := strings.Cut(dep, "/")
		if dep != module && strings.Contains(first, ".") {
			t.Errorf("the root package depends on %s; it may import only the standard library", dep)
		}
	}
}
