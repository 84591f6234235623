// Package ldapbridge holds the domain of ldapbridge: users, groups and
// directory entries, the Directory and Store interfaces that the driver
// packages implement, and the error kinds shared by all of them.
//
// The packages below it each hold one concern: config (the YAML file),
// ldapdir (the LDAP client), membership (group types and nesting), auth (the
// login policy), dirsync (the sync engine), sqlite and postgres (stores), web
// (handlers and middleware) and demodir (the embedded demo directory).
//
// The root package imports only the standard library; every other package
// may import it (layering_test.go checks the whole package table).
package ldapbridge
