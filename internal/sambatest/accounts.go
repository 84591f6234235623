package sambatest

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// AddUser adds a user under PeopleDN with password (CN and
// sAMAccountName sam, in the named groups of GroupsDN) as the
// Administrator, for a test that changes the account, so the shared
// fixtures stay as they are. It returns the user's DN.
func (dc *DC) AddUser(t testing.TB, sam, password string, groups ...string) string {
	t.Helper()
	c := dc.Conn(t)
	if err := addUser(c, user{sam: sam, given: sam, sn: "Test", password: password, groups: groups}); err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	return UserDN(sam)
}

// MustChangePassword sets the user's pwdLastSet to 0, as "User must
// change password at next logon" does.
func (dc *DC) MustChangePassword(t testing.TB, dn string) {
	t.Helper()
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace("pwdLastSet", []string{"0"})
	if err := dc.Conn(t).Modify(m); err != nil {
		t.Fatalf("sambatest: set pwdLastSet 0 on %s: %v", dn, err)
	}
}

// ShortPasswordAge applies a password settings object (fine-grained
// password policy) to dn whose maximum password age is maxAge, so the
// user's password expires maxAge after it was set without changing the
// domain's policy for everyone else. Samba treats a maximum age of a day
// or less as "never expires"; use SetPassword to age the password.
func (dc *DC) ShortPasswordAge(t testing.TB, name, dn string, maxAge time.Duration) {
	t.Helper()
	interval := func(d time.Duration) string { return strconv.FormatInt(-int64(d/100), 10) }
	req := ldap.NewAddRequest("CN="+name+",CN=Password Settings Container,CN=System,"+BaseDN, nil)
	req.Attribute("objectClass", []string{"msDS-PasswordSettings"})
	req.Attribute("msDS-PasswordSettingsPrecedence", []string{"1"})
	req.Attribute("msDS-PasswordReversibleEncryptionEnabled", []string{"FALSE"})
	req.Attribute("msDS-PasswordHistoryLength", []string{"0"})
	req.Attribute("msDS-PasswordComplexityEnabled", []string{"FALSE"})
	req.Attribute("msDS-MinimumPasswordLength", []string{"0"})
	req.Attribute("msDS-MinimumPasswordAge", []string{"0"})
	req.Attribute("msDS-MaximumPasswordAge", []string{interval(maxAge)})
	req.Attribute("msDS-LockoutThreshold", []string{"0"})
	req.Attribute("msDS-LockoutObservationWindow", []string{interval(time.Minute)})
	req.Attribute("msDS-LockoutDuration", []string{interval(time.Minute)})
	req.Attribute("msDS-PSOAppliesTo", []string{dn})
	if err := dc.Conn(t).Add(req); err != nil {
		t.Fatalf("sambatest: add password settings %s for %s: %v", name, dn, err)
	}
}

// pwdLastSetScript sets a user's password with pwdLastSet at an arbitrary
// time, which LDAP refuses (only 0 or -1), through the DC's own database
// on a system session with Samba's "bypass pwdLastSet" control
// (DSDB_CONTROL_PASSWORD_BYPASS_LAST_SET_OID, 1.3.6.1.4.1.7165.4.3.20 in
// Samba 4.17; local to ldb, never accepted over LDAP), as Samba's own
// tests do.
// Arguments: smb.conf, sam.ldb, DN, NT time, password.
const pwdLastSetScript = `
import sys, ldb
from samba.samdb import SamDB
from samba.auth import system_session
from samba.param import LoadParm
lp = LoadParm()
lp.load(sys.argv[1])
db = SamDB(url=sys.argv[2], session_info=system_session(), lp=lp)
m = ldb.Message()
m.dn = ldb.Dn(db, sys.argv[3])
m["pwdLastSet"] = ldb.MessageElement(sys.argv[4], ldb.FLAG_MOD_REPLACE, "pwdLastSet")
m["unicodePwd"] = ldb.MessageElement(('"%s"' % sys.argv[5]).encode("utf-16-le"), ldb.FLAG_MOD_REPLACE, "unicodePwd")
db.modify(m, controls=["local_oid:1.3.6.1.4.1.7165.4.3.20:0"])
`

// SetPassword sets dn's password to password as if it had been set age
// ago (pwdLastSet), by writing the DC's database directly with Samba's
// Python bindings (/usr/bin/python3, from the samba package).
func (dc *DC) SetPassword(t testing.TB, dn, password string, age time.Duration) {
	t.Helper()
	set := time.Now().Add(-age)
	nt := (set.Unix() + 11644473600) * 10000000
	out, err := exec.Command("/usr/bin/python3", "-c", pwdLastSetScript, filepath.Join(dc.Dir, "etc", "smb.conf"),
		filepath.Join(dc.Dir, "private", "sam.ldb"), dn, strconv.FormatInt(nt, 10), password).CombinedOutput()
	if err != nil {
		t.Fatalf("sambatest: set pwdLastSet of %s with Samba's Python bindings (/usr/bin/python3 and python3-samba come with the samba package): %v\n%s", dn, err, out)
	}
}
