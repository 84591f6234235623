// Package browsertest holds end-to-end tests of the web app as a newcomer
// meets it: they build the real ldapbridge binary, start `ldapbridge demo`,
// and drive the pages with headless Chromium (Debian's chromium package)
// over the DevTools protocol. The admin-page tests (admin_test.go) run the
// web app in the test process instead, over a SQLite store filled with more
// users, groups and sync runs than the demo has and with a sync whose
// progress the test moves. The package has no non-test code.
package browsertest
