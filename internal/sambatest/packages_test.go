package sambatest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMissingPiecesNamesEachPackage(t *testing.T) {
	root := t.TempDir()
	touch := func(rel string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A machine where `apt-get install --no-install-recommends samba` ran:
	// none of the three recommended packages.
	err := missingPieces(root)
	if err == nil {
		t.Fatal("no error for a half-installed samba")
	}
	for _, pkg := range []string{"samba-ad-provision", "samba-dsdb-modules", "samba-vfs-modules"} {
		if !strings.Contains(err.Error(), pkg) {
			t.Errorf("error does not name %s: %v", pkg, err)
		}
	}
	touch("usr/share/samba/setup/ad-schema/AD_DS_Attributes__Windows_Server_2012_R2.ldf")
	touch("usr/lib/x86_64-linux-gnu/samba/ldb/samba_dsdb.so")
	err = missingPieces(root)
	if err == nil || !strings.Contains(err.Error(), "apt-get install samba-vfs-modules`") {
		t.Fatalf("with only acl_xattr missing: %v", err)
	}
	touch("usr/lib/x86_64-linux-gnu/samba/vfs/acl_xattr.so")
	if err := missingPieces(root); err != nil {
		t.Fatalf("complete install: %v", err)
	}
}

func TestProvisionHintFromSambaToolOutput(t *testing.T) {
	for _, tc := range []struct{ output, pkg string }{
		{"File [/usr/share/samba/setup/ad-schema/AD_DS_Attributes__Windows_Server_2012_R2.ldf] not found. Please install samba-ad-provision package", "samba-ad-provision"},
		{"smbd_vfs_init: vfs_init_custom failed for acl_xattr\nerror probing vfs module 'acl_xattr': NT_STATUS_UNSUCCESSFUL", "samba-vfs-modules"},
		{"Unable to load modules for ... samba_dsdb: Unavailable", "samba-dsdb-modules"},
		{"some other failure", ""},
	} {
		got := provisionHint(tc.output)
		if tc.pkg == "" {
			if got != "" {
				t.Errorf("hint %q for unrelated output", got)
			}
			continue
		}
		if !strings.Contains(got, "apt-get install "+tc.pkg+"`") {
			t.Errorf("output %q: hint %q does not name %s", tc.output, got, tc.pkg)
		}
	}
}
