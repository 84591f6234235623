// Package browsertest holds end-to-end tests of the web app as a newcomer
// meets it: they build the real ldapbridge binary, start `ldapbridge demo`,
// and drive the pages with headless Chromium (Debian's chromium package)
// over the DevTools protocol. The package has no non-test code.
package browsertest
