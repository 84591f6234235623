// Package adtest holds the Active Directory integration tests: real ldapdir,
// membership and auth with a sqlite store against the Samba AD DC of
// internal/sambatest. It has no non-test code.
package adtest
