package slapdtest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Directory suffixes served by every test slapd.
const (
	JCBaseDN = "dc=jumpcloud,dc=com"
	ExBaseDN = "dc=example,dc=com"
)

// Installation paths of Debian's slapd package.
const (
	moduleDir = "/usr/lib/ldap"
	schemaDir = "/etc/ldap/schema"
)

// databaseDirs names the mdb directory of each suffix inside the temp dir.
var databaseDirs = []struct{ suffix, dir string }{
	{JCBaseDN, "db-jumpcloud"},
	{ExBaseDN, "db-example"},
}

// slapdConf renders slapd.conf for a server rooted at dir. refint runs in a
// background task after a delete or rename, and cannot remove the last member
// of a groupOfNames (member is required), which then keeps a stale value.
//
// With ppolicy the password-policy overlay (slapd 2.5's ppolicy module,
// whose schema is built in) runs on each database with PolicyDN(suffix) as
// its default policy; see Options.PasswordPolicy.
func slapdConf(dir string, tf tlsFiles, rootDN, rootPW string, sizeLimit int, ppolicy bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "modulepath %s\n", moduleDir)
	modules := []string{"back_mdb", "memberof", "refint", "syncprov"}
	if ppolicy {
		modules = append(modules, "ppolicy")
	}
	for _, m := range modules {
		fmt.Fprintf(&b, "moduleload %s\n", m)
	}
	for _, s := range []string{"core", "cosine", "inetorgperson", "nis"} {
		fmt.Fprintf(&b, "include %s\n", filepath.Join(schemaDir, s+".schema"))
	}
	fmt.Fprintf(&b, "pidfile %s\nargsfile %s\n", filepath.Join(dir, "slapd.pid"), filepath.Join(dir, "slapd.args"))
	fmt.Fprintf(&b, "TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\nTLSVerifyClient try\n",
		tf.ca, tf.serverCert, tf.serverKey)
	b.WriteString("access to dn.base=\"\" by * read\n")
	b.WriteString("access to dn.base=\"cn=Subschema\" by * read\n")
	for i, db := range databaseDirs {
		// Both databases share the rootdn; only the one holding it verifies its password.
		pw := ""
		if i == 0 {
			pw = fmt.Sprintf("rootpw %q", rootPW)
		}
		fmt.Fprintf(&b, `
database mdb
suffix %q
rootdn %q
%s
directory %s
maxsize 4294967296
lastmod on
index objectClass eq
index uid,cn,mail eq,sub
index member,uniqueMember,memberUid,owner,roleOccupant eq
index entryCSN,entryUUID eq
limits users size.soft=%d size.hard=%d size.prtotal=unlimited
access to attrs=userPassword
	by self =xw
	by anonymous auth
	by * none
access to *
	by users read
	by anonymous auth
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
overlay refint
refint_attributes member uniqueMember memberOf
overlay syncprov
syncprov-checkpoint 100 10
syncprov-sessionlog 1000
`, db.suffix, rootDN, pw, filepath.Join(dir, db.dir), sizeLimit, sizeLimit)
		if ppolicy {
			// ppolicy_use_lockout: a locked account's bind says so in the
			// response control instead of a bare invalidCredentials.
			fmt.Fprintf(&b, "overlay ppolicy\nppolicy_default %q\nppolicy_use_lockout\n", PolicyDN(db.suffix, DefaultPolicy))
		}
	}
	return b.String()
}

// DefaultPolicy is the name (cn) of the default password policy of a
// server started with Options.PasswordPolicy, under PoliciesDN(suffix):
// lockout after PolicyMaxFailure wrong passwords (until an administrator
// clears pwdAccountLockedTime), a reset password must be changed
// (pwdMustChange: set pwdReset TRUE on a user), users may change their
// own password, passwords of at least PolicyMinLength characters with
// quality checks, and no expiry. Tests add stricter policies with
// AddPolicy and assign them with pwdPolicySubentry.
const (
	DefaultPolicy    = "default"
	PolicyMaxFailure = 3
	PolicyMinLength  = 8
)

// PoliciesDN is the organizational unit holding the password policies of
// suffix.
func PoliciesDN(suffix string) string { return "ou=Policies," + suffix }

// PolicyDN is the DN of the password policy named name under suffix.
func PolicyDN(suffix, name string) string { return "cn=" + name + "," + PoliciesDN(suffix) }

// policyLDIF is the LDIF of the policies unit and the default policy
// under suffix.
func policyLDIF(suffix string) string {
	return fmt.Sprintf(`dn: %s
objectClass: organizationalUnit
ou: Policies

`, PoliciesDN(suffix)) + PolicyLDIF(suffix, DefaultPolicy, map[string]string{
		"pwdLockout":         "TRUE",
		"pwdMaxFailure":      fmt.Sprint(PolicyMaxFailure),
		"pwdMustChange":      "TRUE",
		"pwdAllowUserChange": "TRUE",
		"pwdMinLength":       fmt.Sprint(PolicyMinLength),
		"pwdCheckQuality":    "1",
	})
}

// PolicyLDIF is the LDIF adding a password policy named name under
// suffix's PoliciesDN with the pwdPolicy attributes attrs (pwdAttribute
// is userPassword).
func PolicyLDIF(suffix, name string, attrs map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalRole\nobjectClass: pwdPolicy\ncn: %s\npwdAttribute: userPassword\n", PolicyDN(suffix, name), name)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, attrs[k])
	}
	return b.String() + "\n"
}

// writeConfig writes slapd.conf and creates the database directories.
func writeConfig(dir string, tf tlsFiles, rootDN, rootPW string, sizeLimit int, ppolicy bool) (string, error) {
	for _, db := range databaseDirs {
		if err := os.MkdirAll(filepath.Join(dir, db.dir), 0o700); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, "slapd.conf")
	return path, os.WriteFile(path, []byte(slapdConf(dir, tf, rootDN, rootPW, sizeLimit, ppolicy)), 0o600)
}
