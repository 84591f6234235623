package slapdtest

import (
	"fmt"
	"os"
	"path/filepath"
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
func slapdConf(dir string, tf tlsFiles, rootDN, rootPW string, sizeLimit int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "modulepath %s\n", moduleDir)
	for _, m := range []string{"back_mdb", "memberof", "refint", "syncprov"} {
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
	}
	return b.String()
}

// writeConfig writes slapd.conf and creates the database directories.
func writeConfig(dir string, tf tlsFiles, rootDN, rootPW string, sizeLimit int) (string, error) {
	for _, db := range databaseDirs {
		if err := os.MkdirAll(filepath.Join(dir, db.dir), 0o700); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, "slapd.conf")
	return path, os.WriteFile(path, []byte(slapdConf(dir, tf, rootDN, rootPW, sizeLimit)), 0o600)
}
