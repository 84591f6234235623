package auth

import (
	"context"
	"testing"

	"github.com/ldapbridge/ldapbridge/config"
)

// TestLocalAccountsFalseRefusesLocalLogins: access.local_accounts: false
// turns local password logins off; the same account and password sign in
// with it true.
func TestLocalAccountsFalseRefusesLocalLogins(t *testing.T) {
	u := newUnit(t, func(c *config.Config) { c.Access.LocalAccounts = true })
	ctx := context.Background()
	if _, err := u.a.AddLocal(ctx, "admin", "break-glass", true, true); err != nil {
		t.Fatal(err)
	}
	if res := u.login(t, "admin", "break-glass"); res.Outcome != OK || !res.Allowed {
		t.Fatalf("local login with local_accounts: true: %+v", res)
	}
	cfg := unitConfig()
	cfg.Access.LocalAccounts = false
	off, err := New(cfg, u.dir, u.store, Options{Groups: u.groups})
	if err != nil {
		t.Fatal(err)
	}
	res, err := off.Authenticate(ctx, "admin", "break-glass")
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome == OK || res.Authenticated || res.Allowed {
		t.Errorf("local login with local_accounts: false: outcome %s authenticated %v allowed %v, want refused", res.Outcome, res.Authenticated, res.Allowed)
	}
}
