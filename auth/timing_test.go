package auth

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/config"
)

func TestSuccessfulDirectoryLoginDoesNoDummyHashWork(t *testing.T) {
	u := newUnit(t, func(c *config.Config) { c.Access.LocalAccounts = true })
	a, err := New(u.a.cfg, u.dir, u.store, Options{Groups: u.groups})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Authenticate(context.Background(), "jdoe", "secret")
	if err != nil || res.Outcome != OK {
		t.Fatalf("%+v, %v", res, err)
	}
	if a.dummyHash != "" {
		t.Error("a successful directory login made the dummy hash; it should cost nothing extra")
	}
}

func TestRefusalLogCutsAHugeUsername(t *testing.T) {
	u := newUnit(t, nil)
	var logged strings.Builder
	a, err := New(u.a.cfg, u.dir, u.store, Options{Groups: u.groups, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("x", 60_000)
	if _, err := a.Authenticate(context.Background(), huge, "pw"); err != nil {
		t.Fatal(err)
	}
	if logged.Len() == 0 || logged.Len() > 2000 || !strings.Contains(logged.String(), "(60000 bytes)") {
		t.Errorf("log line of %d bytes for a 60 KB username: %.300q", logged.Len(), logged.String())
	}
}
