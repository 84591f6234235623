package dirsync_test

import (
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

func TestFullReadSourceReadsEveryoneEveryRun(t *testing.T) {
	e := newEnv(t, nil, "", envOpts{fullRead: true})
	first := e.run(dirsync.RunOptions{})
	if first.Mode != dirsync.Full || first.UsersCreated != fixtureUsers {
		t.Fatalf("first run: mode %s, %v; want full with %d created", first.Mode, counts(first), fixtureUsers)
	}
	again := e.run(dirsync.RunOptions{Mode: dirsync.Incremental})
	if again.Mode != dirsync.Full || !strings.Contains(again.FallbackReason, "tracks no changes") {
		t.Errorf("asked for incremental: mode %s, fallback %q; want full with the source's reason", again.Mode, again.FallbackReason)
	}
	if again.UsersUnchanged != fixtureUsers || again.UsersUpdated+again.UsersCreated != 0 {
		t.Errorf("no-change run: %v", counts(again))
	}
	e.srv.Apply(t, "dn: "+slapdtest.JCGraceDN+"\nchangetype: delete\n")
	gone := e.run(dirsync.RunOptions{})
	if gone.UsersDeactivated != 1 || e.user(slapdtest.JCGraceUID).IsActive {
		t.Errorf("after grace was deleted: %v; want her deactivated", counts(gone))
	}
}
