package config

import (
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// Config is the whole ldapbridge configuration file.
type Config struct {
	Directory Directory `yaml:"directory"`
	Users     Users     `yaml:"users"`
	Groups    Groups    `yaml:"groups"`
	Access    Access    `yaml:"access"`
	Sync      Sync      `yaml:"sync"`
	Store     Store     `yaml:"store"`
	Web       Web       `yaml:"web"`
	Events    Events    `yaml:"events"`

	// src remembers which keys the file set and how; see IsSet.
	src sources
	// name is this configuration's directory name ("" reads as
	// DefaultDirectory); dirs lists every directory's configuration in
	// login order (see Directories).
	name string
	dirs []*Config
}

// DefaultDirectory is the name of the one directory of the single-directory
// form (top-level directory, users, groups, access).
const DefaultDirectory = "default"

// Name is the name of the directory this configuration describes: a
// directories entry's name, or DefaultDirectory for the single form.
func (c *Config) Name() string {
	if c.name == "" {
		return DefaultDirectory
	}
	return c.name
}

// Directories returns one configuration per directory, in the order a
// login tries them: for the directories: form each entry's directory,
// users, groups and access blocks with the shared store, web and events
// and the sync block overridden by the entry's own sync keys; for the
// single form, c itself (named DefaultDirectory). The configuration Parse
// returns is the first directory's.
func (c *Config) Directories() []*Config {
	if len(c.dirs) == 0 {
		return []*Config{c}
	}
	return c.dirs
}

// DirectoryNamed returns the configuration of the directory called name, or
// nil when there is none.
func (c *Config) DirectoryNamed(name string) *Config {
	for _, d := range c.Directories() {
		if d.Name() == name {
			return d
		}
	}
	return nil
}

// SetDirectories makes dirs the directories of c (for configurations built
// in code); each is named by the matching entry of names.
func (c *Config) SetDirectories(names []string, dirs []*Config) {
	c.dirs = nil
	for i, d := range dirs {
		d.name = names[i]
		d.dirs = nil
		c.dirs = append(c.dirs, d)
	}
	for _, d := range c.dirs {
		d.dirs = c.dirs
	}
}

// sources records where values came from: keys written in the file, and
// secret keys whose value was written inline rather than via ${ENV}.
type sources struct {
	set    map[string]bool
	inline map[string]bool
}

// IsSet reports whether the configuration file set the key (a dotted path
// such as "users.username_attribute"), as opposed to it holding a default.
func (c *Config) IsSet(key string) bool { return c.src.set[key] }

// Directory says how to reach and bind to the directory.
type Directory struct {
	URLs             []string `yaml:"urls"`
	StartTLS         bool     `yaml:"start_tls"`
	TLS              TLS      `yaml:"tls"`
	BindDN           string   `yaml:"bind_dn"`
	BindPassword     Secret   `yaml:"bind_password"`
	BindPasswordFile string   `yaml:"bind_password_file"`
	BindAsUser       bool     `yaml:"bind_as_user"`
	// Flavor is one of auto, openldap, active_directory, jumpcloud, 389ds.
	Flavor         ldapbridge.Flavor `yaml:"flavor"`
	DialTimeout    Duration          `yaml:"dial_timeout"`
	RequestTimeout Duration          `yaml:"request_timeout"`
	PageSize       int               `yaml:"page_size"`
	PoolSize       int               `yaml:"pool_size"`
	// Referrals are never followed: a referral makes a read fail with
	// ldapbridge.ErrIncomplete. The former key directory.follow_referrals
	// is refused (see removedKeys).
}

// TLS configures LDAPS and StartTLS.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	ClientCertFile     string `yaml:"client_cert_file"`
	ClientKeyFile      string `yaml:"client_key_file"`
	// MinVersion is "1.0", "1.1", "1.2" or "1.3".
	MinVersion string `yaml:"min_version"`
}

// Search is one LDAP search: base, scope (base|one|sub) and filter.
type Search struct {
	BaseDN string `yaml:"base_dn"`
	Scope  string `yaml:"scope"`
	Filter string `yaml:"filter"`
}

// LDAPScope converts Scope to the domain type; validation guarantees it is known.
func (s Search) LDAPScope() ldapbridge.Scope {
	switch s.Scope {
	case "base":
		return ldapbridge.ScopeBase
	case "one":
		return ldapbridge.ScopeOne
	}
	return ldapbridge.ScopeSub
}

// Users says how to find, name and map users.
type Users struct {
	// Search is one search or a list of them (a union, merged by DN).
	Search              Searches          `yaml:"search"`
	DNTemplate          string            `yaml:"dn_template"`
	SyncFilter          string            `yaml:"sync_filter"`
	UsernameAttribute   string            `yaml:"username_attribute"`
	UsernameCase        string            `yaml:"username_case"` // lower|preserve
	QueryField          string            `yaml:"query_field"`
	ExtraAttributes     []string          `yaml:"extra_attributes"`
	Attributes          map[string]string `yaml:"attributes"` // first_name|last_name|email -> LDAP attribute
	Profile             map[string]string `yaml:"profile"`    // profile field -> LDAP attribute
	PhotoAttribute      string            `yaml:"photo_attribute"`
	MultiValueSeparator string            `yaml:"multi_value_separator"`
	// StableIDAttribute is the directory's immutable id; "" picks it by
	// flavor (entryUUID, objectGUID, nsUniqueId).
	StableIDAttribute string `yaml:"stable_id_attribute"`
	// UsernameSuffix (e.g. "@contractors") is appended to this directory's
	// usernames in the store; users sign in with or without it.
	UsernameSuffix string `yaml:"username_suffix"`
}

// Searches is one search or a list of searches.
type Searches []Search

// Groups says how to find groups and their members.
type Groups struct {
	Search Searches `yaml:"search"`
	// Type is one of group_of_names, group_of_unique_names, posix,
	// member_dn, active_directory, organizational_role, member_of.
	Type            string `yaml:"type"`
	MemberAttribute string `yaml:"member_attribute"`
	Nested          bool   `yaml:"nested"`
	NameAttribute   string `yaml:"name_attribute"`
	Mirror          Mirror `yaml:"mirror"`
}

// Mirror selects which directory groups are kept in the store.
type Mirror struct {
	// Mode is none, all, only or except.
	Mode  string
	Names []string
}

// Includes reports whether a group of this name is mirrored.
func (m Mirror) Includes(name string) bool {
	switch m.Mode {
	case "none":
		return false
	case "only", "except":
		found := false
		for _, n := range m.Names {
			if n == name {
				found = true
				break
			}
		}
		return found == (m.Mode == "only")
	}
	return true
}

// Access is the login policy.
type Access struct {
	// Require and Deny are group queries; the zero query means no rule.
	Require ldapbridge.GroupQuery `yaml:"require"`
	Deny    ldapbridge.GroupQuery `yaml:"deny"`
	// Flags maps a flag name (is_active, is_staff, is_superuser or any
	// custom name) to the group query that sets it.
	Flags         map[string]ldapbridge.GroupQuery `yaml:"flags"`
	AlwaysUpdate  bool                             `yaml:"always_update"`
	NoNewUsers    bool                             `yaml:"no_new_users"`
	LocalAccounts bool                             `yaml:"local_accounts"`
	CacheTTL      Duration                         `yaml:"cache_ttl"`
	// LoginSource is directory (every login asks the directory for the
	// user's entry and groups) or mirror (while the live mirror is current,
	// within MirrorMaxLag, a stored user's DN and groups come from the store
	// and the directory is asked only for the bind).
	LoginSource  string   `yaml:"login_source"`
	MirrorMaxLag Duration `yaml:"mirror_max_lag"`
	// OfflineLogin lets users who signed in recently sign in while no
	// directory server answers, from a stored argon2id verifier.
	OfflineLogin OfflineLogin `yaml:"offline_login"`
	// PasswordChange enables the /password page and changing passwords
	// in the directory.
	PasswordChange bool `yaml:"password_change"`
	// SkipUnreachable lets a login go on to the next directory (of
	// directories:) when this one cannot be reached; default false: the
	// login fails with ldap_error.
	SkipUnreachable bool `yaml:"skip_unreachable"`
}

// OfflineLogin configures sign-in from cached verifiers while the
// directory is unreachable (access.offline_login).
type OfflineLogin struct {
	Enabled bool `yaml:"enabled"`
	// MaxAge is how old the last directory-checked login may be.
	MaxAge Duration `yaml:"max_age"`
	// MaxFailures wrong offline passwords delete the verifier.
	MaxFailures int `yaml:"max_failures"`
}

// Sync configures the directory sync.
type Sync struct {
	Schedule      string   `yaml:"schedule"` // interval (30m) or cron expression; "" = manual
	FullEvery     int      `yaml:"full_every"`
	Groups        bool     `yaml:"groups"`
	Memberships   bool     `yaml:"memberships"`
	RemovedUsers  string   `yaml:"removed_users"`  // deactivate|delete|keep
	RemovedGroups string   `yaml:"removed_groups"` // delete|keep
	MaxRemovals   Limit    `yaml:"max_removals"`
	ExemptUsers   []string `yaml:"exempt_users"`
	// KeepHistory is how long (or how many) sync runs, with their
	// changes, are kept; older ones are pruned after each run.
	KeepHistory History `yaml:"keep_history"`
	// PendingTTL is how long removals held by max_removals wait for
	// approval.
	PendingTTL Duration `yaml:"pending_ttl"`
	// Live keeps the store current continuously in serve (RFC 4533
	// refreshAndPersist, or Active Directory's highestCommittedUSN polled
	// every LiveInterval).
	Live         bool     `yaml:"live"`
	LiveInterval Duration `yaml:"live_interval"`
}

// History is a retention: an age ("2160h") or a number of runs ("100").
type History struct {
	Age  Duration
	Runs int
}

// Events configures the change events sent to webhooks.
type Events struct {
	Webhooks []Webhook `yaml:"webhooks"`
	// MaxAttempts is how many times an event is posted before it is
	// marked failed.
	MaxAttempts int `yaml:"max_attempts"`
}

// Webhook is one receiver of change events.
type Webhook struct {
	URL string `yaml:"url"`
	// Secret keys the HMAC-SHA256 signature (Ldapbridge-Signature).
	Secret Secret `yaml:"secret"`
	// Events lists the event types sent (user.deactivated, ...); empty
	// means all.
	Events []string `yaml:"events"`
}

// Limit is a count ("50") or a percentage ("5%").
type Limit struct {
	Count   int
	Percent float64
	IsPct   bool
}

// Of returns the limit for a population of total.
func (l Limit) Of(total int) int {
	if l.IsPct {
		// A percentage allows at least one when it is above zero, so one
		// person leaving a small directory does not need --force.
		n := int(float64(total) * l.Percent / 100)
		if n == 0 && l.Percent > 0 && total > 0 {
			n = 1
		}
		return n
	}
	return l.Count
}

// Store selects the database.
type Store struct {
	Driver string `yaml:"driver"` // sqlite|postgres
	DSN    Secret `yaml:"dsn"`
	// DSNFile names a file holding the DSN, read at load time.
	DSNFile string `yaml:"dsn_file"`
}

// Web configures the web app.
type Web struct {
	Listen             string     `yaml:"listen"`
	SessionIdleTimeout Duration   `yaml:"session_idle_timeout"`
	SessionLifetime    Duration   `yaml:"session_lifetime"`
	LoginRateLimit     RateLimits `yaml:"login_rate_limit"`
	// TrustProxy makes X-Forwarded-Proto and X-Forwarded-For count.
	TrustProxy bool `yaml:"trust_proxy"`
	// IdleTimeout closes a keep-alive connection that has waited this long
	// for its next request.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// ReadTimeout bounds reading one whole request, headers and body.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds one request from the end of its headers to the
	// end of the response.
	WriteTimeout Duration `yaml:"write_timeout"`
	// MaxConnections is the most client connections held open at once;
	// more wait in the kernel's listen queue (see web.Listen).
	MaxConnections int `yaml:"max_connections"`
	// MetricsToken, when set, is the Bearer token /metrics requires.
	MetricsToken Secret `yaml:"metrics_token"`
	// MetricsTokenFile names a file holding MetricsToken, read at load time.
	MetricsTokenFile string `yaml:"metrics_token_file"`
}

// RateLimits are the sign-in rate limits.
type RateLimits struct {
	PerUser Rate `yaml:"per_user"`
	PerIP   Rate `yaml:"per_ip"`
}

// Rate is N events per period, written "5/min", "30/hour", "10/30s".
type Rate struct {
	N   int
	Per time.Duration
}

// Duration is a time.Duration written as "30s", "5m", "12h".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Secret is a string that never prints itself: String and MarshalYAML
// give "[redacted]" when set.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// MarshalYAML hides the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// StoredGroupName is the name under which a group this directory calls
// name is stored and shown (users' groups, web.RequireGroup, the JSON):
// name itself for the first directory (the single form's default), and
// name@DIRECTORY for every other, so the same-named groups of two
// directories are two groups and never merge.
func (c *Config) StoredGroupName(name string) string {
	if c.Directories()[0].Name() == c.Name() {
		return name
	}
	return name + "@" + c.Name()
}

// DirectoryGroupName is the reverse of StoredGroupName: the directory's
// own name for the stored group name stored, and whether stored has this
// directory's form (for the first directory, every name has).
func (c *Config) DirectoryGroupName(stored string) (string, bool) {
	if c.Directories()[0].Name() == c.Name() {
		return stored, true
	}
	return strings.CutSuffix(stored, "@"+c.Name())
}
