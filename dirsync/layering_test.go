package dirsync_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering checks the package table of DESIGN.md: the sync, the
// admission policy and the web app depend on the root package's small
// interfaces, never on the LDAP driver or a store driver.
func TestLayering(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	const mod = "github.com/ldapbridge/ldapbridge/"
	for _, pkg := range []string{"dirsync", "auth", "web"} {
		out, err := exec.Command(goBin, "list", "-deps", mod+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, banned := range []string{"ldapdir", "sqlite", "postgres"} {
				if dep == mod+banned {
					t.Errorf("%s imports %s (directly or not); it must use the root package's interfaces", pkg, banned)
				}
			}
		}
	}
}
