package main

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/ldapbridge/ldapbridge/config"
)

// placeholder is one kind of text the example configurations leave for the
// reader to replace.
type placeholder struct {
	re *regexp.Regexp
	// fill says what to put in its place.
	fill string
	// exampleDomain marks the RFC 2606 example names: a lab directory may
	// really serve them, so they count only when the directory does not.
	exampleDomain bool
}

// placeholders are matched in every value check reads; the first that
// matches a piece of text names it.
var placeholders = []placeholder{
	{re: regexp.MustCompile(`\bORGID\b`), fill: "your JumpCloud organization ID (admin console → Settings)"},
	{re: regexp.MustCompile(`(?i)\b(CHANGE[_-]?ME|REPLACE[_-]?ME|FILL[_-]?ME[_-]?IN)\b`), fill: "your own value"},
	{re: regexp.MustCompile(`\bYOUR[_-][A-Z0-9_-]+\b`), fill: "your own value"},
	{re: regexp.MustCompile(`<[A-Za-z][A-Za-z0-9 _-]*>`), fill: "your own value"},
	{re: regexp.MustCompile(`(?i)\b(dc\s*=\s*[a-z0-9-]+\s*,\s*)*dc\s*=\s*example\s*,\s*dc\s*=\s*(com|org|net)\b`), fill: "your directory's suffix", exampleDomain: true},
	{re: regexp.MustCompile(`(?i)\b([a-z0-9-]+\.)*example\.(com|org|net)\b|\b([a-z0-9-]+\.)+example\b`), fill: "your own host or domain name", exampleDomain: true},
}

// placeholderFinding is one placeholder and the keys that hold it.
type placeholderFinding struct {
	text          string
	fill          string
	exampleDomain bool
	keys          []string
}

// dsnPasswordRE finds the password of a key=value PostgreSQL DSN.
var dsnPasswordRE = regexp.MustCompile(`(?i)password\s*=\s*('[^']*'|\S*)`)

// checkedValue is one configuration value check looks for placeholders in.
type checkedValue struct {
	key, value string
	// secret values count only when the whole value is a placeholder, so
	// no part of a real secret is ever printed.
	secret bool
}

// checkedValues lists the configuration values check looks for
// placeholders in, keyed by their configuration key.
func checkedValues(cfg *config.Config) []checkedValue {
	var out []checkedValue
	add := func(key, v string) {
		if v != "" {
			out = append(out, checkedValue{key: key, value: v})
		}
	}
	for i, u := range cfg.Directory.URLs {
		add(fmt.Sprintf("directory.urls[%d]", i), u)
	}
	add("directory.bind_dn", cfg.Directory.BindDN)
	if pw := cfg.Directory.BindPassword.Reveal(); pw != "" {
		out = append(out, checkedValue{key: "directory.bind_password", value: pw, secret: true})
	}
	add("directory.tls.server_name", cfg.Directory.TLS.ServerName)
	add("users.dn_template", cfg.Users.DNTemplate)
	for i, s := range cfg.Users.Search {
		key := searchKey("users.search", i, len(cfg.Users.Search))
		add(key+".base_dn", s.BaseDN)
		add(key+".filter", s.Filter)
	}
	for i, s := range cfg.Groups.Search {
		add(searchKey("groups.search", i, len(cfg.Groups.Search))+".base_dn", s.BaseDN)
	}
	for _, dn := range cfg.Access.Require.DNs() {
		add("access.require", dn)
	}
	for _, dn := range cfg.Access.Deny.DNs() {
		add("access.deny", dn)
	}
	for _, name := range sortedKeys(cfg.Access.Flags) {
		for _, dn := range cfg.Access.Flags[name].DNs() {
			add("access.flags."+name, dn)
		}
	}
	// A DSN URL's password is a secret; its host and names are not. A
	// key=value DSN is read only for hosts.
	dsn := cfg.Store.DSN.Reveal()
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, checkedValue{key: "store.dsn", value: pw, secret: true})
			u.User = url.User(u.User.Username())
			dsn = u.String()
		}
	}
	if cfg.Store.Driver == "postgres" && !strings.Contains(dsn, "://") {
		dsn = dsnPasswordRE.ReplaceAllString(dsn, "")
	}
	add("store.dsn", dsn)
	return out
}

// findPlaceholders returns, in the order first met, each placeholder left
// in the configuration with the keys holding it.
func findPlaceholders(cfg *config.Config) []*placeholderFinding {
	var out []*placeholderFinding
	byText := map[string]*placeholderFinding{}
	for _, cv := range checkedValues(cfg) {
		key, v := cv.key, cv.value
		for _, p := range placeholders {
			matches := p.re.FindAllString(v, -1)
			if cv.secret && (len(matches) != 1 || matches[0] != v) {
				continue
			}
			for _, m := range matches {
				text := m
				if p.exampleDomain {
					text = strings.ToLower(m)
				}
				f := byText[text]
				if f == nil {
					f = &placeholderFinding{text: text, fill: p.fill, exampleDomain: p.exampleDomain}
					byText[text] = f
					out = append(out, f)
				}
				if !slices.Contains(f.keys, key) {
					f.keys = append(f.keys, key)
				}
			}
		}
	}
	return out
}

// in reports whether the finding is in the value of key (or of a key
// below it, such as users.search.base_dn for "users.search").
func (f *placeholderFinding) in(key string) bool {
	for _, k := range f.keys {
		if k == key || strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// message is the one line that names the placeholder, where it is and
// what to put instead.
func (f *placeholderFinding) message() string {
	return fmt.Sprintf("%s: %q is a placeholder left from the example configuration — replace it with %s",
		keyList(f.keys), f.text, f.fill)
}

// keyList names up to four keys and counts the rest.
func keyList(keys []string) string {
	if len(keys) <= 4 {
		return strings.Join(keys, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(keys[:4], ", "), len(keys)-4)
}

// servedByDirectory reports whether a DN-like example placeholder is, after
// all, one of the naming contexts the directory serves or above one (a lab
// directory under dc=example,dc=com).
func servedByDirectory(text string, namingContexts []string) bool {
	text = strings.ToLower(strings.ReplaceAll(text, " ", ""))
	for _, nc := range namingContexts {
		// The placeholder is a naming context, or above one.
		nc = strings.ToLower(strings.ReplaceAll(nc, " ", ""))
		if nc == text || strings.HasSuffix(nc, ","+text) {
			return true
		}
	}
	return false
}

// urlHost returns the host of a directory URL, lower case.
func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// offlineTLSWarning warns when access.offline_login is on while a
// directory URL is plain LDAP without StartTLS: each successful login
// then sends, in clear, the password whose verifier is kept for offline
// sign-in, and an attacker who answers for the directory could make
// logins fall back to the stored verifiers.
func offlineTLSWarning(cfg *config.Config) string {
	if !cfg.Access.OfflineLogin.Enabled || cfg.Directory.StartTLS {
		return ""
	}
	var plain []string
	for _, u := range cfg.Directory.URLs {
		if !strings.HasPrefix(strings.ToLower(u), "ldaps://") {
			plain = append(plain, u)
		}
	}
	if len(plain) == 0 {
		return ""
	}
	return fmt.Sprintf("access.offline_login is enabled but the directory is reached without TLS (%s): passwords cross the network in clear and the outage that enables offline sign-in cannot be told from an attacker's — use ldaps:// URLs or set directory.start_tls: true",
		strings.Join(plain, ", "))
}

// maxConnectionsWarning warns when web.max_connections is above the
// process's open-file limit: connections past it fail to be accepted.
func maxConnectionsWarning(maxConns int, limit uint64, ok bool) string {
	if !ok || uint64(maxConns) <= limit {
		return ""
	}
	return fmt.Sprintf("web.max_connections: %d is above this process's open-file limit of %d (RLIMIT_NOFILE) — raise the limit (ulimit -n %d, or LimitNOFILE=%d in the systemd unit) or lower web.max_connections to at most %d",
		maxConns, limit, maxConns+256, maxConns+256, max(1, int(limit)-256))
}

func searchKey(prefix string, i, n int) string {
	if n == 1 {
		return prefix
	}
	return fmt.Sprintf("%s[%d]", prefix, i)
}

// sortedUnique returns the strings sorted without repeats.
func sortedUnique(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	n := 0
	for i, s := range out {
		if i == 0 || s != out[n-1] {
			out[n] = s
			n++
		}
	}
	return out[:n]
}
