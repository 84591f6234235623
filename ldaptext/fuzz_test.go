package ldaptext

import (
	"bytes"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func FuzzFilterTemplate(f *testing.F) {
	for _, seed := range []string{"jdoe", "", "*", "x)(uid=*", `a\b`, "\x00", "josé", "\xff\xfe", "(|(uid=*))", "a b ", "#x", "\\2a"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		filled, err := Filter("(uid={username})", map[string]string{"username": value})
		if err != nil {
			t.Fatalf("Filter(%q): %v", value, err)
		}
		packet, err := ldap.CompileFilter(filled)
		if err != nil {
			t.Fatalf("CompileFilter(%q) for value %q: %v", filled, value, err)
		}
		if packet.Tag != ldap.FilterEqualityMatch || len(packet.Children) != 2 {
			t.Fatalf("%q compiled to %s, want one equality assertion", filled, ldap.FilterMap[uint64(packet.Tag)])
		}
		if got := packet.Children[1].Data.Bytes(); !bytes.Equal(got, []byte(value)) {
			t.Fatalf("assertion value %q, want %q", got, value)
		}
		back, err := ldap.DecompileFilter(packet)
		if err != nil || back != filled {
			t.Fatalf("DecompileFilter = %q, %v; want %q", back, err, filled)
		}

		compound, err := Filter("(&(objectClass=inetOrgPerson)(|(uid={username})(mail={username})))", map[string]string{"username": value})
		if err != nil {
			t.Fatal(err)
		}
		cp, err := ldap.CompileFilter(compound)
		if err != nil {
			t.Fatalf("CompileFilter(%q): %v", compound, err)
		}
		if cp.Tag != ldap.FilterAnd || len(cp.Children) != 2 || len(cp.Children[1].Children) != 2 {
			t.Fatalf("%q: structure changed by the value %q", compound, value)
		}
	})
}

func FuzzNormalizeDN(f *testing.F) {
	seeds := [][2]string{
		{`cn=Sales\2C EMEA,ou=Groups,dc=example,dc=com`, `cn=Sales\, EMEA,ou=Groups,dc=example,dc=com`},
		{`CN=sales\, emea, OU=groups,DC=Example,DC=com`, `cn=x`},
		{`uid=a+cn=b,dc=x`, `cn=B+uid=A,dc=x`},
		{`uid=jos\C3\A9,ou=Users,dc=x`, `uid=josé,ou=users,dc=x`},
		{`cn=\ leading,dc=x`, `cn=trailing\ ,dc=x`},
		{`cn=#414243,dc=x`, `cn=\#hash,dc=x`},
		{``, `=`},
		{`cn=a;b`, `cn="quoted",dc=x`},
		{`1.2.3=x,dc=y`, `cn=a\+b\=c\<d\>e\;f\\g`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if n, err := NormalizeDN(a); err == nil {
			again, err := NormalizeDN(n)
			if err != nil {
				t.Fatalf("NormalizeDN(%q) = %q, which does not parse: %v", a, n, err)
			}
			if again != n {
				t.Fatalf("not idempotent: %q -> %q -> %q", a, n, again)
			}
			if !EqualDN(a, n) {
				t.Fatalf("EqualDN(%q, its normal form %q) is false", a, n)
			}
		}
		if EqualDN(a, b) != EqualDN(b, a) {
			t.Fatalf("EqualDN not symmetric for %q, %q", a, b)
		}
		_ = MustNormalizeDN(b)
		_ = FirstValue(b)
	})
}
