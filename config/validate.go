package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/robfig/cron/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/ldaptext"
)

var (
	flagNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	attrPattern     = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)(;[A-Za-z0-9-]+)*$`)

	flavors      = []string{"auto", "openldap", "active_directory", "jumpcloud", "389ds"}
	groupTypes   = []string{"group_of_names", "group_of_unique_names", "posix", "member_dn", "active_directory", "organizational_role", "member_of"}
	tlsVersions  = []string{"1.0", "1.1", "1.2", "1.3"}
	queryFields  = []string{"username", "email", "first_name", "last_name"}
	mappedFields = []string{"first_name", "last_name", "email"}
)

// Validate checks the whole configuration and returns an *Error listing
// every problem, or nil. Parse calls it; call it again after changing a
// Config in code.
func (c *Config) Validate() error {
	var p issues
	c.validateDirectory(&p)
	c.validateBind(&p)
	c.validateUsers(&p)
	c.validateGroups(&p)
	c.validateAccess(&p)
	c.validateSync(&p)
	c.validateEvents(&p)
	c.validateStore(&p)
	c.validateWeb(&p)
	return p.err()
}

func oneOf(p *issues, key, value string, allowed []string) {
	if slices.Contains(allowed, value) {
		return
	}
	fix := "use one of " + strings.Join(allowed, ", ")
	if s := suggest(value, allowed); s != "" {
		fix = "did you mean " + s + "? (" + fix + ")"
	}
	p.add(key, quote(value)+" is not a known value", fix)
}

// parseLDAPURL returns the URL's scheme and host, or a problem. The problem
// never repeats user information a URL might carry.
func parseLDAPURL(raw string) (scheme, host, problem string) {
	if len(raw) >= 8 && strings.EqualFold(raw[:8], "ldapi://") {
		return "ldapi", "", ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "is not a valid URL"
	}
	scheme = strings.ToLower(u.Scheme)
	switch {
	case scheme != "ldap" && scheme != "ldaps" && scheme != "ldapi":
		return scheme, "", quote(u.Redacted()) + " is not an LDAP URL"
	case u.User != nil:
		return scheme, "", "carries user information"
	case u.Host == "" && scheme != "ldapi":
		return scheme, "", quote(u.Redacted()) + " has no host"
	case u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
		return scheme, "", quote(u.Redacted()) + " has a path or query; only scheme://host:port is used"
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return scheme, "", quote(u.Redacted()) + " has an invalid port"
		}
	}
	return scheme, u.Hostname(), ""
}

func (c *Config) validateDirectory(p *issues) {
	d := c.Directory
	if len(d.URLs) == 0 {
		p.add("directory.urls", "is empty", "list at least one server, e.g. urls: [ldaps://ldap.jumpcloud.com:636]")
	}
	for i, raw := range d.URLs {
		key := fmt.Sprintf("directory.urls[%d]", i)
		scheme, _, problem := parseLDAPURL(raw)
		if problem != "" {
			p.add(key, problem, "write ldaps://host:636, ldap://host:389 (with start_tls) or ldapi://; put credentials in bind_dn and bind_password")
			continue
		}
		if d.StartTLS && scheme == "ldaps" {
			p.add("directory.start_tls", "is true but "+key+" is ldaps:// (already TLS)", "use ldap://host:389 with start_tls, or ldaps:// without it")
		}
	}
	t := d.TLS
	if t.ClientCertFile != "" && t.ClientKeyFile == "" {
		p.add("directory.tls.client_key_file", "is empty but client_cert_file is set", "set the client certificate's private key file")
	}
	if t.ClientKeyFile != "" && t.ClientCertFile == "" {
		p.add("directory.tls.client_cert_file", "is empty but client_key_file is set", "set the client certificate file")
	}
	oneOf(p, "directory.tls.min_version", t.MinVersion, tlsVersions)
	oneOf(p, "directory.flavor", string(d.Flavor), flavors)
	if d.DialTimeout <= 0 {
		p.add("directory.dial_timeout", "must be more than 0", "e.g. 5s")
	}
	if d.RequestTimeout <= 0 {
		p.add("directory.request_timeout", "must be more than 0", "e.g. 10s")
	}
	if d.PageSize < 1 || d.PageSize > 10000 {
		p.add("directory.page_size", fmt.Sprintf("%d is out of range", d.PageSize), "use 1 to 10000 (500 suits most servers; AD caps pages at 1000)")
	}
	if d.PoolSize < 1 {
		p.add("directory.pool_size", fmt.Sprintf("%d is less than 1", d.PoolSize), "use at least 1 (default 4)")
	}
}

func (c *Config) validateBind(p *issues) {
	d := c.Directory
	userDN := strings.Contains(d.BindDN, "{username}")
	if d.BindAsUser {
		if c.Users.DNTemplate == "" && !userDN {
			p.add("directory.bind_as_user", "needs users.dn_template or a directory.bind_dn containing {username}", "e.g. bind_dn: uid={username},ou=Users,o=ORGID,dc=jumpcloud,dc=com")
		}
		if d.BindPassword != "" {
			p.add("directory.bind_password", "is not used with bind_as_user (each user binds with their own password)", "remove it")
		}
		return
	}
	switch {
	case userDN:
		p.add("directory.bind_dn", "contains {username} but bind_as_user is false", "set directory.bind_as_user: true, or write the service account's DN")
	case d.BindPassword != "" && d.BindDN == "":
		p.add("directory.bind_password", "is set but directory.bind_dn is empty", "set bind_dn to the service account's DN, or remove the password for an anonymous bind")
	case d.BindDN != "" && d.BindPassword == "":
		p.add("directory.bind_password", "is empty while bind_dn is set: an empty password is an unauthenticated bind that proves nothing",
			"set bind_password: ${LDAP_BIND_PASSWORD} or bind_password_file")
	}
}

// compileFilter compiles an LDAP filter, treating a parser panic as an error.
func compileFilter(f string) (err error) {
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("the filter parser failed on it")
		}
	}()
	_, err = ldap.CompileFilter(f)
	return err
}

// checkFilter fills the placeholders with sample values and compiles the
// result. required names a placeholder the filter must contain ("" for none).
func checkFilter(p *issues, key, filter string, allowed []string, required string) {
	if required != "" && !strings.Contains(filter, "{"+required+"}") {
		p.add(key, "does not contain {"+required+"}", "e.g. (&(objectClass=inetOrgPerson)(uid={"+required+"}))")
		return
	}
	vars := map[string]string{}
	for _, a := range allowed {
		vars[a] = "placeholder"
	}
	filled, err := ldaptext.Filter(filter, vars)
	if err != nil {
		fix := "remove the braces"
		if len(allowed) > 0 {
			fix = "the only placeholder here is {" + strings.Join(allowed, "}, {") + "}"
		}
		p.add(key, "uses an unknown {placeholder}", fix)
		return
	}
	if err := compileFilter(filled); err != nil {
		p.add(key, quote(filter)+" is not a valid LDAP filter: "+err.Error(), "check the parentheses, e.g. (&(objectClass=person)(uid=x))")
	}
}

func checkSearch(p *issues, key string, s Search, placeholders []string, required string) {
	if s.BaseDN == "" {
		p.add(key+".base_dn", "is empty", "set the DN of the subtree to search, e.g. ou=Users,o=ORGID,dc=jumpcloud,dc=com")
	} else if err := checkDN(s.BaseDN); err != nil {
		p.add(key+".base_dn", quote(s.BaseDN)+" is not a valid DN: "+err.Error(), "write a DN such as ou=Users,dc=example,dc=com")
	}
	oneOf(p, key+".scope", s.Scope, []string{"base", "one", "sub"})
	if s.Filter == "" && required == "" {
		p.add(key+".filter", "is empty", "e.g. (objectClass=groupOfNames)")
		return
	}
	checkFilter(p, key+".filter", s.Filter, placeholders, required)
}

func checkAttr(p *issues, key, name string) {
	if !attrPattern.MatchString(name) {
		p.add(key, quote(name)+" is not an LDAP attribute name", "write a name such as givenName or an OID")
	}
}

func (c *Config) validateUsers(p *issues) {
	u := c.Users
	if len(u.Search) == 0 && u.DNTemplate == "" {
		p.add("users.search", "is missing and users.dn_template is empty", "set users.search (base_dn, scope, filter with {username}) or users.dn_template")
	}
	required := "username"
	if u.DNTemplate != "" {
		required = ""
	}
	for i, s := range u.Search {
		key := index("users.search", i, len(u.Search))
		if s.Filter == "" && required == "" {
			checkSearch(p, key, Search{BaseDN: s.BaseDN, Scope: s.Scope, Filter: "(objectClass=*)"}, nil, "")
			continue
		}
		checkSearch(p, key, s, []string{"username"}, required)
	}
	if u.DNTemplate != "" {
		c.checkDNTemplate(p)
	}
	if u.SyncFilter != "" {
		checkFilter(p, "users.sync_filter", u.SyncFilter, nil, "")
	}
	oneOf(p, "users.username_case", u.UsernameCase, []string{"lower", "preserve"})
	if u.QueryField != "" {
		oneOf(p, "users.query_field", u.QueryField, queryFields)
	}
	for _, k := range sortedKeys(u.Attributes) {
		if !slices.Contains(mappedFields, k) {
			p.add("users.attributes."+k, "is not a user field", "map first_name, last_name or email here; put other fields in users.profile")
			continue
		}
		checkAttr(p, "users.attributes."+k, u.Attributes[k])
	}
	for _, k := range sortedKeys(u.Profile) {
		if strings.TrimSpace(k) == "" {
			p.add("users.profile", "has an empty field name", "name the profile field")
			continue
		}
		checkAttr(p, "users.profile."+k, u.Profile[k])
	}
	for i, a := range u.ExtraAttributes {
		checkAttr(p, fmt.Sprintf("users.extra_attributes[%d]", i), a)
	}
	for _, ka := range [][2]string{{"users.username_attribute", u.UsernameAttribute},
		{"users.photo_attribute", u.PhotoAttribute}, {"users.stable_id_attribute", u.StableIDAttribute}} {
		if ka[1] != "" {
			checkAttr(p, ka[0], ka[1])
		}
	}
}

func (c *Config) checkDNTemplate(p *issues) {
	tpl := c.Users.DNTemplate
	if !strings.Contains(tpl, "{username}") {
		p.add("users.dn_template", "does not contain {username}", "e.g. uid={username},ou=Users,o=ORGID,dc=jumpcloud,dc=com")
		return
	}
	dn, err := ldaptext.DN(tpl, map[string]string{"username": "placeholder"})
	if err != nil {
		p.add("users.dn_template", "uses an unknown {placeholder}", "the only placeholder is {username}")
		return
	}
	if err := checkDN(dn); err != nil {
		p.add("users.dn_template", quote(tpl)+" is not a DN with {username} in it: "+err.Error(), "e.g. uid={username},ou=Users,dc=example,dc=com")
	}
}

// groupsUsed reports whether access rules, flags or a mirror that names
// groups need group searches.
func (c *Config) groupsUsed() bool {
	a := c.Access
	m := c.Groups.Mirror.Mode
	return !a.Require.IsZero() || !a.Deny.IsZero() || len(a.Flags) > 0 || m == "only" || m == "except"
}

func (c *Config) validateGroups(p *issues) {
	g := c.Groups
	if g.Type != "" {
		oneOf(p, "groups.type", g.Type, groupTypes)
	}
	if g.Type == "member_dn" && g.MemberAttribute == "" {
		p.add("groups.member_attribute", "is empty but groups.type is member_dn", "name the attribute that holds member DNs, e.g. uniqueMember")
	}
	if g.MemberAttribute != "" {
		checkAttr(p, "groups.member_attribute", g.MemberAttribute)
	}
	checkAttr(p, "groups.name_attribute", g.NameAttribute)
	if len(g.Search) == 0 && g.Type != "member_of" && c.groupsUsed() {
		p.add("groups.search", "is missing but access rules, flags or groups.mirror need groups", "set groups.search (base_dn, scope, filter), or use groups.type: member_of")
	}
	for i, s := range g.Search {
		checkSearch(p, index("groups.search", i, len(g.Search)), s, nil, "")
	}
	switch g.Mirror.Mode {
	case "none", "all", "only", "except":
	default:
		p.add("groups.mirror", quote(g.Mirror.Mode)+" is not a mirror mode", "write none, all, {only: [names]} or {except: [names]}")
	}
}

func checkQuery(p *issues, key string, q ldapbridge.GroupQuery) {
	for _, dn := range q.DNs() {
		if err := checkDN(dn); err != nil {
			p.add(key, quote(dn)+" is not a valid DN: "+err.Error(), "write the group's full DN")
		}
	}
}

func (c *Config) validateAccess(p *issues) {
	a := c.Access
	checkQuery(p, "access.require", a.Require)
	checkQuery(p, "access.deny", a.Deny)
	for _, name := range sortedKeys(a.Flags) {
		key := "access.flags." + name
		if !flagNamePattern.MatchString(name) {
			p.add(key, quote(name)+" is not a valid flag name", "use lowercase letters, digits and _, starting with a letter, e.g. is_staff")
		}
		checkQuery(p, key, a.Flags[name])
	}
	if a.CacheTTL < 0 {
		p.add("access.cache_ttl", "is negative", "use 0s (no cache) or a positive duration")
	}
	oneOf(p, "access.login_source", a.LoginSource, []string{"directory", "mirror"})
	if a.MirrorMaxLag <= 0 {
		p.add("access.mirror_max_lag", "is not positive", "use a duration such as 10s: logins take the store's groups only while the live mirror is at most this far behind")
	}
	if a.OfflineLogin.MaxAge <= 0 {
		p.add("access.offline_login.max_age", "is not positive", "use a duration such as 72h: a verifier older than this no longer signs anyone in")
	}
	if a.OfflineLogin.MaxFailures < 1 {
		p.add("access.offline_login.max_failures", "is below 1", "use a count such as 5: after this many wrong offline passwords the verifier is deleted")
	}
	if a.LoginSource == "mirror" && !c.Sync.Live {
		p.add("access.login_source", "is mirror but sync.live is false: without the live mirror the store is never current enough, so every login would go to the directory",
			"set sync.live: true, or access.login_source: directory")
	}
}

func (c *Config) validateSync(p *issues) {
	s := c.Sync
	if s.Schedule != "" {
		if d, err := parseDuration(s.Schedule); err != nil || d <= 0 {
			if _, cerr := cron.ParseStandard(s.Schedule); cerr != nil {
				p.add("sync.schedule", quote(s.Schedule)+" is neither an interval nor a cron expression", `write an interval such as 30m, a cron expression such as "0 * * * *", or "" for manual sync`)
			}
		}
	}
	if s.FullEvery < 0 {
		p.add("sync.full_every", "is negative", "use 0 (always full) or a count such as 5")
	}
	if s.LiveInterval <= 0 {
		p.add("sync.live_interval", "is not positive", "use a duration such as 5s: the Active Directory poll interval and the live stream's keep-alive")
	}
	if s.PendingTTL <= 0 {
		p.add("sync.pending_ttl", "is not positive", "use a duration such as 24h: removals held by sync.max_removals wait this long for approval")
	}
	oneOf(p, "sync.removed_users", s.RemovedUsers, []string{"deactivate", "delete", "keep"})
	oneOf(p, "sync.removed_groups", s.RemovedGroups, []string{"delete", "keep"})
	if m := s.MaxRemovals; m.Count < 0 || (m.IsPct && !(m.Percent >= 0 && m.Percent <= 100)) {
		p.add("sync.max_removals", "is out of range", "use a count (50) or a percentage from 0% to 100%")
	}
	if !s.Groups && s.Memberships && c.IsSet("sync.memberships") {
		p.add("sync.memberships", "is true but sync.groups is false: memberships are links to stored groups, and a sync that stores no group writes no membership",
			"remove sync.memberships (sync.groups: false turns membership sync off too), or set sync.groups: true")
	}
	for i, u := range s.ExemptUsers {
		if strings.TrimSpace(u) == "" {
			p.add(fmt.Sprintf("sync.exempt_users[%d]", i), "is empty", "remove it")
		}
	}
}

func (c *Config) validateStore(p *issues) {
	s := c.Store
	oneOf(p, "store.driver", s.Driver, []string{"sqlite", "postgres"})
	switch {
	case s.DSN == "":
		p.add("store.dsn", "is empty", "set a SQLite file path or a PostgreSQL DSN (or store.dsn_file)")
	case s.Driver == "postgres" && !c.IsSet("store.dsn") && s.DSNFile == "":
		p.add("store.dsn", "is not set for the postgres driver", "set dsn: ${DATABASE_URL} or dsn_file, e.g. postgres://ldapbridge@127.0.0.1:5432/ldapbridge")
	}
}

// bearerToken is RFC 6750's b64token, what Authorization: Bearer carries.
var bearerToken = regexp.MustCompile(`^[A-Za-z0-9._~+/-]+=*$`)

func (c *Config) validateWeb(p *issues) {
	w := c.Web
	if host, port, err := net.SplitHostPort(w.Listen); err != nil || port == "" || strings.ContainsAny(host, " /") {
		p.add("web.listen", quote(w.Listen)+" is not host:port", "e.g. 127.0.0.1:8080, or :8080 for every interface")
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add("web.listen", quote(w.Listen)+" has an invalid port", "e.g. 127.0.0.1:8080")
	}
	if w.SessionIdleTimeout <= 0 {
		p.add("web.session_idle_timeout", "must be more than 0", "e.g. 30m")
	}
	if w.SessionLifetime <= 0 {
		p.add("web.session_lifetime", "must be more than 0", "e.g. 12h")
	}
	for _, d := range []struct {
		key string
		v   Duration
		eg  string
	}{
		{"web.idle_timeout", w.IdleTimeout, "2m"},
		{"web.read_timeout", w.ReadTimeout, "30s"},
		{"web.write_timeout", w.WriteTimeout, "60s"},
	} {
		if d.v <= 0 {
			p.add(d.key, "must be more than 0 (a connection or request without a deadline can be held open forever)", "e.g. "+d.eg)
		}
	}
	if w.MaxConnections < 1 {
		p.add("web.max_connections", "must be at least 1", "e.g. 1024; keep it below the process's open-file limit (ulimit -n)")
	}
	if t := w.MetricsToken.Reveal(); t != "" && !bearerToken.MatchString(t) {
		p.add("web.metrics_token", "holds characters a Bearer token cannot carry (spaces, quotes, control characters, ...)",
			"use letters, digits and - . _ ~ + / only, e.g. the output of `openssl rand -hex 32`")
	}
	rates := []Rate{w.LoginRateLimit.PerUser, w.LoginRateLimit.PerIP}
	for i, key := range []string{"web.login_rate_limit.per_user", "web.login_rate_limit.per_ip"} {
		if rates[i].N < 1 || rates[i].Per <= 0 {
			p.add(key, "must allow at least 1 attempt per period", "e.g. 5/min")
		}
	}
}
