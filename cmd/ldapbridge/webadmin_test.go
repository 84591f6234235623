package main

import (
	"testing"

	"github.com/ldapbridge/ldapbridge/dirsync"
)

func TestLiveSyncReportsOnlyWhileARunRuns(t *testing.T) {
	var l liveSync
	l.update(dirsync.Progress{Phase: "users", Read: 5})
	if p := l.get(); p.Running || p.Read != 0 {
		t.Fatalf("progress before any run: %+v", p)
	}
	l.begin("admin (alice)")
	l.update(dirsync.Progress{Phase: "users", Read: 10, Applied: 4})
	p := l.get()
	if !p.Running || p.Phase != "users" || p.Read != 10 || p.Applied != 4 || p.StartedBy != "admin (alice)" || p.StartedAt.IsZero() {
		t.Fatalf("progress during a run: %+v", p)
	}
	l.end()
	if p := l.get(); p.Running || p.Phase != "" {
		t.Fatalf("progress after the run: %+v", p)
	}
}
