// Package examples holds the example configurations, one per directory
// flavor, embedded so that `ldapbridge init` can write them from the
// binary alone. It imports only the standard library.
package examples

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Placeholder is a value in an example configuration that stands for
// something of the reader's own and must be replaced before use.
type Placeholder struct {
	// Text is the placeholder as it appears in the file.
	Text string
	// Fill says what to put in its place.
	Fill string
}

// placeholders lists, per flavor, what each example leaves to fill in.
// A test checks that every entry occurs in its file and that every ${VAR}
// of a file is listed.
var placeholders = map[string][]Placeholder{
	"jumpcloud": {
		{"ORGID", "your organization ID (JumpCloud admin console → Settings), in every DN"},
		{"ldapbridge-svc", "the uid of the JumpCloud user bound as the service account (needs LDAP binding user rights)"},
		{"${LDAP_BIND_PASSWORD}", "set the environment variable LDAP_BIND_PASSWORD to the service account's password"},
		{"Django App", "the group whose members may sign in (access.require)"},
	},
	"openldap": {
		{"ldap1.example.com", "your first directory server (failover order)"},
		{"ldap2.example.com", "your second directory server, or delete the line"},
		{"/etc/ssl/certs/example-ca.pem", "the PEM file of the CA that signed the servers' certificate"},
		{"dc=example,dc=com", "your directory's suffix, in every DN"},
		{"cn=ldapbridge,ou=Services", "the service account's DN"},
		{"/run/secrets/ldap_bind_password", "the file holding the service account's password"},
		{"${DATABASE_URL}", "set the environment variable DATABASE_URL to the PostgreSQL DSN (or switch store.driver to sqlite)"},
	},
	"active_directory": {
		{"dc1.corp.example.com", "your first domain controller (failover order)"},
		{"dc2.corp.example.com", "your second domain controller, or delete the line"},
		{"corp-root-ca.pem", "the PEM file of your enterprise root CA, relative to the configuration file"},
		{"svc-ldapbridge@corp.example.com", "the service account's userPrincipalName (or DN)"},
		{"${AD_BIND_PASSWORD}", "set the environment variable AD_BIND_PASSWORD to the service account's password"},
		{"DC=corp,DC=example,DC=com", "your domain's DN, in every DN"},
		{"App Users", "the group whose members may sign in (access.require, groups.mirror)"},
		{"App Admins", "the group that makes its members staff"},
		{"break-glass", "your local emergency account, which syncs leave alone"},
	},
}

// Flavors lists the flavors with an example configuration, sorted.
func Flavors() []string {
	entries, err := files.ReadDir(".")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Config returns the example configuration for flavor (jumpcloud, openldap
// or active_directory); an unknown flavor is an error naming the known ones.
func Config(flavor string) ([]byte, error) {
	if flavor == "" || strings.ContainsAny(flavor, "/\\.") {
		return nil, unknownFlavor(flavor)
	}
	data, err := files.ReadFile(path.Join(".", flavor+".yaml"))
	if err != nil {
		return nil, unknownFlavor(flavor)
	}
	return data, nil
}

// Placeholders returns what the example for flavor leaves to fill in, in
// the order they first matter; nil for an unknown flavor.
func Placeholders(flavor string) []Placeholder {
	return append([]Placeholder(nil), placeholders[flavor]...)
}

func unknownFlavor(flavor string) error {
	return fmt.Errorf("no example configuration for flavor %q — use one of %s", flavor, strings.Join(Flavors(), ", "))
}
