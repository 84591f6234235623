package ldaptext

import "testing"

func TestEqualDNTreatsEscapeFormsAndCaseAlike(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`cn=Sales\2C EMEA,ou=Groups,dc=example,dc=com`, `cn=Sales\, EMEA,ou=Groups,dc=example,dc=com`, true},
		{`CN=sales\, emea, OU=groups,DC=Example,DC=com`, `cn=Sales\, EMEA,ou=Groups,dc=example,dc=com`, true},
		{`cn=Sales,ou=Groups,dc=example,dc=com`, `cn=Sales EMEA,ou=Groups,dc=example,dc=com`, false},
		{`uid=a+cn=b,dc=x`, `cn=B+uid=A,dc=x`, true},
	}
	for _, tt := range tests {
		if got := EqualDN(tt.a, tt.b); got != tt.want {
			t.Errorf("EqualDN(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestFilterEscapesEveryValue(t *testing.T) {
	tests := []struct{ user, want string }{
		{"jdoe", "(uid=jdoe)"},
		{"*", `(uid=\2a)`},
		{"x)(uid=*", `(uid=x\29\28uid=\2a)`},
		{`a\b`, `(uid=a\5cb)`},
	}
	for _, tt := range tests {
		got, err := Filter("(uid={username})", map[string]string{"username": tt.user})
		if err != nil || got != tt.want {
			t.Errorf("Filter(%q) = %q, %v; want %q", tt.user, got, err, tt.want)
		}
	}
	if _, err := Filter("(uid={user})", map[string]string{"username": "x"}); err == nil {
		t.Error("unknown placeholder accepted")
	}
}

func TestDNTemplateEscapesSpecials(t *testing.T) {
	got, err := DN("uid={username},ou=Users,dc=x", map[string]string{"username": "a,b+c"})
	if err != nil {
		t.Fatal(err)
	}
	if !EqualDN(got, `uid=a\,b\+c,ou=Users,dc=x`) {
		t.Errorf("got %q", got)
	}
	if FirstValue(got) != "a,b+c" {
		t.Errorf("FirstValue(%q) = %q", got, FirstValue(got))
	}
}

func TestNormalizeDNRefusesWhatIsNotAnAttributeType(t *testing.T) {
	for _, dn := range []string{`\ =x`, `c\n=x,dc=y`, `1..2=x`, `2.5.=x`, `-cn=x`} {
		if n, err := NormalizeDN(dn); err == nil {
			t.Errorf("NormalizeDN(%q) = %q, want an error", dn, n)
		}
	}
	for _, dn := range []string{`2.5.4.3=x,dc=y`, `x-attr=v`, `CN=a1`} {
		if _, err := NormalizeDN(dn); err != nil {
			t.Errorf("NormalizeDN(%q): %v", dn, err)
		}
	}
}
