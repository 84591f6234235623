// Package bench holds the benchmarks behind BENCHMARKS.md. Each one runs
// ldapbridge and a raw go-ldap floor against the same real server in the
// same run; ./scripts/bench runs them and writes the report.
package bench
