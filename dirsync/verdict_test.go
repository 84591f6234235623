package dirsync_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/dirsync"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// policy is the tutorial's access policy: the Django App group is
// required and contractors are denied.
var policy = envOpts{
	require: ldapbridge.GroupQuery{DN: slapdtest.JCDjangoAppGroupDN},
	deny:    ldapbridge.GroupQuery{DN: slapdtest.JCContractorsGroupDN},
}

func removeMember(group, member string) string {
	return "dn: " + group + "\nchangetype: modify\ndelete: member\nmember: " + member + "\n"
}

func (e *env) verdict(name string) (string, string) {
	e.t.Helper()
	u := e.user(name)
	return u.EffectiveVerdict(), u.VerdictReason
}

func TestSyncStoresTheVerdictLoginWouldGiveEveryUser(t *testing.T) {
	e := newEnv(t, nil, "", policy)
	rep := e.run(dirsync.RunOptions{})
	if rep.UsersRefused != 0 {
		t.Errorf("a first run refused %d users; users it creates never had admission to lose", rep.UsersRefused)
	}
	want := map[string]string{
		slapdtest.JCAliceUID:   ldapbridge.VerdictOK,
		slapdtest.JCErinUID:    ldapbridge.VerdictRequireGroup,
		slapdtest.JCGraceUID:   ldapbridge.VerdictRequireGroup,
		slapdtest.JCMalloryUID: ldapbridge.VerdictDenyGroup,
	}
	for name, v := range want {
		if got, reason := e.verdict(name); got != v || (v != ldapbridge.VerdictOK && reason == "") {
			t.Errorf("%s: verdict %q (%q), want %q with a reason", name, got, reason, v)
		}
	}
	// A login over the same directory state gives the same verdict and
	// leaves the record as the sync wrote it.
	for name, pw := range map[string]string{slapdtest.JCAliceUID: slapdtest.JCAlicePassword, slapdtest.JCErinUID: slapdtest.JCErinPassword, slapdtest.JCMalloryUID: slapdtest.JCMalloryPassword} {
		before := e.user(name)
		res, err := e.auth.Authenticate(t.Context(), name, pw)
		if err != nil {
			t.Fatal(err)
		}
		after := e.user(name)
		if got := after.EffectiveVerdict(); got != want[name] || after.VerdictReason != before.VerdictReason || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("%s after login (outcome %s): verdict %q %q updated %v; sync left %q %q updated %v",
				name, res.Outcome, got, after.VerdictReason, after.UpdatedAt, before.Verdict, before.VerdictReason, before.UpdatedAt)
		}
	}
	if again := e.run(dirsync.RunOptions{Mode: dirsync.Full}); again.UsersUpdated != 0 || again.UsersRefused != 0 {
		t.Errorf("a second full run after the logins changed users: %v refused %d plan %+v", counts(again), again.UsersRefused, again.Plan)
	}
}

func TestLostAdmissionIsHeldBackByTheGuardUntilForced(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	dsn := filepath.Join(t.TempDir(), "v.db")
	o := policy
	o.maxRemovals = "0"
	e := newEnv(t, srv, dsn, o)
	e.run(dirsync.RunOptions{})
	srv.Apply(t, removeMember(slapdtest.JCDjangoAppGroupDN, slapdtest.JCAliceDN))

	rep, err := e.sync.Run(t.Context(), dirsync.RunOptions{Mode: dirsync.Full})
	if !errors.Is(err, dirsync.ErrGuard) || rep.UsersRefused != 1 || !strings.Contains(rep.AbortReason, "lose admission") {
		t.Fatalf("run after alice left the required group: err %v refused %d reason %q; want the guard to count her", err, rep.UsersRefused, rep.AbortReason)
	}
	if v, _ := e.verdict(slapdtest.JCAliceUID); v != ldapbridge.VerdictOK {
		t.Fatalf("the guard stopped the run but alice's verdict is %q; want ok until the refusal is allowed", v)
	}
	rep = e.run(dirsync.RunOptions{Mode: dirsync.Full, Force: true})
	if rep.UsersRefused != 1 || len(rep.Plan.Refuse) != 1 || rep.Plan.Refuse[0] != slapdtest.JCAliceUID {
		t.Errorf("forced run: refused %d %v; want alice", rep.UsersRefused, rep.Plan.Refuse)
	}
	if v, reason := e.verdict(slapdtest.JCAliceUID); v != ldapbridge.VerdictRequireGroup || !strings.Contains(reason, "required") {
		t.Errorf("after the forced run alice's verdict is %q (%q); want require_group", v, reason)
	}
	if again := e.run(dirsync.RunOptions{Mode: dirsync.Full}); again.UsersUpdated != 0 || again.UsersRefused != 0 {
		t.Errorf("the run after the refusal changed users: %v refused %d", counts(again), again.UsersRefused)
	}
	res, err := e.auth.Authenticate(t.Context(), slapdtest.JCAliceUID, slapdtest.JCAlicePassword)
	if err != nil || res.Outcome != auth.RequireGroup {
		t.Errorf("alice's login after the sync: %v %v; want require_group", res.Outcome, err)
	}
}

func TestWrongRequiredGroupCannotLockEveryoneOut(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	dsn := filepath.Join(t.TempDir(), "w.db")
	e := newEnv(t, srv, dsn, policy)
	e.run(dirsync.RunOptions{})
	o := policy
	o.require = ldapbridge.GroupQuery{DN: "cn=Djangoo App," + slapdtest.JCUsersDN} // a typo
	o.policy = "keep"                                                              // the guard holds even when nobody is removed
	wrong := newEnv(t, srv, dsn, o)
	rep, err := wrong.sync.Run(t.Context(), dirsync.RunOptions{})
	if !errors.Is(err, dirsync.ErrGuard) || rep.UsersRefused != 6 {
		t.Fatalf("a typo in access.require: err %v, refused %d; want the guard to stop it, counting the 6 admitted users", err, rep.UsersRefused)
	}
	if !strings.Contains(rep.AbortReason, "access.require") {
		t.Errorf("abort reason %q does not point at access.require", rep.AbortReason)
	}
	if v, _ := wrong.verdict(slapdtest.JCAliceUID); v != ldapbridge.VerdictOK {
		t.Errorf("alice's verdict after the aborted run: %q, want ok", v)
	}
}

func TestIncrementalRunRefusesAUserWhoseGroupChanged(t *testing.T) {
	e := newEnv(t, nil, "", policy)
	e.dir.noContentSync = true
	time.Sleep(2100 * time.Millisecond) // fixture timestamps fall outside the 1s skew margin
	e.run(dirsync.RunOptions{})
	time.Sleep(2100 * time.Millisecond)
	// Only the group changes: the incremental run does not re-read bob's
	// entry, so his verdict comes from the group read.
	e.srv.Apply(t, "dn: "+slapdtest.JCContractorsGroupDN+"\nchangetype: modify\nadd: member\nmember: "+slapdtest.JCBobDN+"\n")
	rep := e.run(dirsync.RunOptions{Mode: dirsync.Incremental})
	if rep.Mode != dirsync.Incremental || rep.UsersRefused != 1 {
		t.Fatalf("incremental run: mode %s (%s), refused %d %v; want bob refused", rep.Mode, rep.FallbackReason, rep.UsersRefused, rep.Plan.Refuse)
	}
	if v, _ := e.verdict(slapdtest.JCBobUID); v != ldapbridge.VerdictDenyGroup {
		t.Errorf("bob's verdict %q, want deny_group", v)
	}
	if again := e.run(dirsync.RunOptions{Mode: dirsync.Incremental}); again.UsersUpdated != 0 || again.UsersRefused != 0 {
		t.Errorf("second incremental run: %v refused %d", counts(again), again.UsersRefused)
	}
}

func TestRemovedUserVerdictSaysWhy(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	dsn := filepath.Join(t.TempDir(), "r.db")
	newEnv(t, srv, dsn, envOpts{}).run(dirsync.RunOptions{})
	narrow := newEnv(t, srv, dsn, envOpts{filter: "(&(objectClass=inetOrgPerson)(!(uid=bob)))"})
	narrow.run(dirsync.RunOptions{})
	u := narrow.user(slapdtest.JCBobUID)
	if u.IsActive || u.EffectiveVerdict() != ldapbridge.VerdictRemoved || !strings.Contains(u.VerdictReason, "complete read") || u.Allowed() {
		t.Errorf("bob after he left the read: active %v verdict %q (%q)", u.IsActive, u.EffectiveVerdict(), u.VerdictReason)
	}
	back := newEnv(t, srv, dsn, envOpts{})
	back.run(dirsync.RunOptions{})
	if u := back.user(slapdtest.JCBobUID); !u.Allowed() || u.VerdictReason != "" {
		t.Errorf("bob back in the read: verdict %q (%q), want ok", u.EffectiveVerdict(), u.VerdictReason)
	}
}
