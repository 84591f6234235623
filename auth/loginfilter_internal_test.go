package auth

import (
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
)

func TestLoginFilterSearchesUPNOnlyForADNamesWithAt(t *testing.T) {
	const adFilter = "(&(objectCategory=person)(objectClass=user)( sAMAccountName = {username} ))"
	tests := []struct {
		name   string
		flavor ldapbridge.Flavor
		filter string
		user   string
		want   string
	}{
		{"AD UPN", ldapbridge.FlavorActiveDirectory, adFilter, "a@corp.example", "(&(objectCategory=person)(objectClass=user)(userPrincipalName={username}))"},
		{"AD sAMAccountName", ldapbridge.FlavorActiveDirectory, adFilter, "alice", adFilter},
		{"AD filter without the term stays", ldapbridge.FlavorActiveDirectory, "(mail={username})", "a@corp.example", "(mail={username})"},
		{"OpenLDAP never rewritten", ldapbridge.FlavorOpenLDAP, "(sAMAccountName={username})", "a@b", "(sAMAccountName={username})"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Authenticator{cfg: &config.Config{Directory: config.Directory{Flavor: tt.flavor}}}
			if got := a.loginFilter(tt.filter, tt.user); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
