package sambatest

import (
	"fmt"
	"path/filepath"
	"strings"
)

// installHint is the failure message when Samba is missing altogether.
const installHint = "install it with `apt-get install " + sambaPackages + "` (./scripts/test does this)"

// sambaPackages are the Debian packages a DC needs: samba only recommends the
// last three, so `apt-get install --no-install-recommends samba` leaves a
// Samba that cannot provision a domain.
const sambaPackages = "samba samba-ad-provision samba-dsdb-modules samba-vfs-modules"

// piece is a file that provisioning or the DC reads, and the package that
// ships it.
type piece struct {
	what, glob, pkg string
	// symptom is what samba-tool prints when the piece is missing.
	symptom string
}

// pieces are checked before provisioning so that a half-installed Samba
// fails with the package to install, not with a Python traceback.
var pieces = []piece{
	{"the AD schema files", "/usr/share/samba/setup/ad-schema/AD_DS_Attributes__Windows_Server_2012_R2.ldf",
		"samba-ad-provision", "samba-ad-provision"},
	{"the DSDB ldb modules", "/usr/lib/*/samba/ldb/samba_dsdb.so",
		"samba-dsdb-modules", "samba_dsdb"},
	{"the acl_xattr VFS module", "/usr/lib/*/samba/vfs/acl_xattr.so",
		"samba-vfs-modules", "acl_xattr"},
}

// missingPieces returns an error naming every missing piece and its package,
// looking for files under root ("/" outside tests).
func missingPieces(root string) error {
	var missing, pkgs []string
	for _, p := range pieces {
		if m, _ := filepath.Glob(filepath.Join(root, p.glob)); len(m) == 0 {
			missing = append(missing, fmt.Sprintf("%s (%s)", p.what, p.glob))
			pkgs = append(pkgs, p.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("samba is installed but cannot provision a DC: missing %s — install it with `apt-get install %s` (./scripts/test does this)",
		strings.Join(missing, ", "), strings.Join(pkgs, " "))
}

// provisionHint names the package to install when samba-tool's output shows
// a missing piece, or returns "".
func provisionHint(output string) string {
	for _, p := range pieces {
		if strings.Contains(output, p.symptom) {
			return fmt.Sprintf("%s is missing — install it with `apt-get install %s` (./scripts/test does this)", p.what, p.pkg)
		}
	}
	return ""
}
