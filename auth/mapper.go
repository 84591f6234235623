package auth

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/membership"
)

// Standard flag names; any other name in access.flags lands in User.Flags.
const (
	FlagIsActive    = "is_active"
	FlagIsStaff     = "is_staff"
	FlagIsSuperuser = "is_superuser"
)

// Mapper turns a directory entry and its groups into a User. It is the one
// mapping shared by logins and the sync engine.
type Mapper struct {
	users    config.Users
	flags    map[string]ldapbridge.GroupQuery
	require  ldapbridge.GroupQuery // access.require
	deny     ldapbridge.GroupQuery // access.deny
	flavor   ldapbridge.Flavor
	groups   GroupResolver
	toLocal  func(string) string
	stableID []string
	// stampAttrs are the password-change stamp attributes read for
	// offline sign-in (access.offline_login); nil when it is off.
	stampAttrs []string
	// onPopulate is Hooks.OnPopulate of the Authenticator that built the
	// mapper (auth.New), so a sync sharing the mapper runs the login's hook.
	onPopulate func(ctx context.Context, u *ldapbridge.User, e *ldapbridge.Entry) error
	// directory is the name of the directory the mapped users belong to
	// (config.Config.Name).
	directory string
}

// NewMapper builds the mapping of cfg. groups (required) decides group
// membership for flags and adds the user attributes it reads; toLocal (may be nil) renames a
// directory username to the local one.
func NewMapper(cfg *config.Config, groups GroupResolver, toLocal func(string) string) *Mapper {
	m := &Mapper{
		users:   cfg.Users,
		flags:   cfg.Access.Flags,
		require: cfg.Access.Require,
		deny:    cfg.Access.Deny,
		flavor:  cfg.Directory.Flavor,
		groups:  groups,
		toLocal: toLocal,

		directory: cfg.Name(),
	}
	if cfg.Access.OfflineLogin.Enabled {
		m.stampAttrs = passwordStampAttributes(m.flavor)
	}
	switch {
	case cfg.Users.StableIDAttribute != "":
		m.stableID = []string{cfg.Users.StableIDAttribute}
	case m.flavor == ldapbridge.FlavorActiveDirectory:
		m.stableID = []string{"objectGUID"}
	case m.flavor == ldapbridge.Flavor389DS:
		m.stableID = []string{"nsUniqueId"}
	case m.flavor == ldapbridge.FlavorOpenLDAP || m.flavor == ldapbridge.FlavorJumpCloud:
		m.stableID = []string{"entryUUID"}
	default: // auto: whichever the server publishes
		m.stableID = []string{"entryUUID", "objectGUID", "nsUniqueId"}
	}
	return m
}

// OnPopulate returns the Hooks.OnPopulate given to auth.New for the
// Authenticator whose Mapper this is (nil for none, and for a mapper made by
// NewMapper). The sync engine runs it for every user it creates or updates,
// so a login and a sync leave the same record.
func (m *Mapper) OnPopulate() func(ctx context.Context, u *ldapbridge.User, e *ldapbridge.Entry) error {
	return m.onPopulate
}

// Directory is the name of the directory whose users this mapper maps.
func (m *Mapper) Directory() string { return m.directory }

// UsernameAttribute is users.username_attribute, or the flavor's default
// (sAMAccountName on Active Directory, uid elsewhere).
func (m *Mapper) UsernameAttribute() string {
	if m.users.UsernameAttribute != "" {
		return m.users.UsernameAttribute
	}
	if m.flavor == ldapbridge.FlavorActiveDirectory {
		return "sAMAccountName"
	}
	return "uid"
}

// Attributes lists what to request for a user entry: the username, mapped,
// profile, photo, stable id and extra attributes, and the ones the group
// resolver reads. It never contains "*".
func (m *Mapper) Attributes() []string {
	var out []string
	seen := map[string]bool{}
	add := func(names ...string) {
		for _, n := range names {
			if k := strings.ToLower(n); n != "" && !seen[k] {
				seen[k] = true
				out = append(out, n)
			}
		}
	}
	add(m.UsernameAttribute())
	for _, k := range sortedKeys(m.users.Attributes) {
		add(m.users.Attributes[k])
	}
	for _, k := range sortedKeys(m.users.Profile) {
		add(m.users.Profile[k])
	}
	add(m.users.PhotoAttribute)
	add(m.stableID...)
	if m.flavor == ldapbridge.FlavorActiveDirectory {
		add("userAccountControl")
	}
	add(m.stampAttrs...)
	add(m.users.ExtraAttributes...)
	add(m.groups.UserAttributes()...)
	return out
}

// Username returns the local username of entry: its username attribute,
// NFC, cased per users.username_case, then through the ToLocal hook, with
// users.username_suffix appended.
func (m *Mapper) Username(entry *ldapbridge.Entry) (string, error) {
	attr := m.UsernameAttribute()
	v := entry.First(attr)
	if v == "" {
		return "", fmt.Errorf("entry %q has no %s value; set users.username_attribute to an attribute every user carries", entry.DN, attr)
	}
	return m.localName(v), nil
}

// localName turns a directory-side name into the stored username.
func (m *Mapper) localName(name string) string {
	name = foldUsername(name, m.users.UsernameCase)
	if m.toLocal != nil {
		name = m.toLocal(name)
	}
	return name + m.users.UsernameSuffix
}

// StableID returns the entry's immutable identity: entryUUID or nsUniqueId
// as published, objectGUID as its canonical GUID string; "" when absent.
func (m *Mapper) StableID(entry *ldapbridge.Entry) string {
	for _, attr := range m.stableID {
		raw := entry.Raw(attr)
		if len(raw) == 0 || len(raw[0]) == 0 {
			continue
		}
		if strings.EqualFold(attr, "objectGUID") && len(raw[0]) == 16 {
			return membership.FormatGUID(raw[0])
		}
		return string(raw[0])
	}
	return ""
}

// Flags evaluates every access.flags entry against groups. is_active is
// true when no is_active flag is configured.
func (m *Mapper) Flags(groups []membership.Group) map[string]bool {
	out := map[string]bool{FlagIsActive: true, FlagIsStaff: false, FlagIsSuperuser: false}
	contains := m.groups.Contains(groups)
	for name, q := range m.flags {
		out[name] = q.Eval(contains)
	}
	return out
}

// PolicyQueries returns the group queries whose groups decide a user's
// flags and verdict: access.flags, access.require and access.deny. A sync
// resolves only the groups these name before it calls Judge.
func (m *Mapper) PolicyQueries() []ldapbridge.GroupQuery {
	out := make([]ldapbridge.GroupQuery, 0, len(m.flags)+2)
	for _, name := range slices.Sorted(maps.Keys(m.flags)) {
		out = append(out, m.flags[name])
	}
	for _, q := range []ldapbridge.GroupQuery{m.require, m.deny} {
		if !q.IsZero() {
			out = append(out, q)
		}
	}
	return out
}

// Judge is the one admission decision: given the user's effective groups
// and whether the account is active (after flags and the directory's
// disabled bit), it returns the verdict and its reason. A login, a sync,
// users populate and explain all take their verdict from here.
func (m *Mapper) Judge(groups []membership.Group, active bool) (verdict, reason string) {
	contains := m.groups.Contains(groups)
	switch {
	case !m.require.IsZero() && !m.require.Eval(contains):
		return ldapbridge.VerdictRequireGroup, "not in the required group(s): " + m.require.String()
	case !m.deny.IsZero() && m.deny.Eval(contains):
		return ldapbridge.VerdictDenyGroup, "in a denied group: " + m.deny.String()
	case !active:
		return ldapbridge.VerdictInactive, "the account is inactive (disabled in the directory, or access.flags.is_active is false)"
	}
	return ldapbridge.VerdictOK, ""
}

// MapUser maps entry and the user's effective groups to a directory user:
// username, DN, stable id, names, email, profile, photo, flags and the
// admission verdict (Judge). Source is ldap and the password hash is
// always empty. Groups and ID are not set.
func (m *Mapper) MapUser(entry *ldapbridge.Entry, groups []membership.Group) (*ldapbridge.User, error) {
	name, err := m.Username(entry)
	if err != nil {
		return nil, err
	}
	u := &ldapbridge.User{
		Username:  name,
		Source:    ldapbridge.SourceLDAP,
		Directory: m.directory,
		DN:        entry.DN,
		StableID:  m.StableID(entry),
		FirstName: entry.First(m.users.Attributes["first_name"]),
		LastName:  entry.First(m.users.Attributes["last_name"]),
		Email:     entry.First(m.users.Attributes["email"]),
		Flags:     map[string]bool{},
		Profile:   map[string]string{},
	}
	sep := m.users.MultiValueSeparator
	if sep == "" {
		sep = "|"
	}
	for field, attr := range m.users.Profile {
		if vs := entry.Values(attr); len(vs) > 0 {
			u.Profile[field] = strings.Join(vs, sep)
		}
	}
	if m.users.PhotoAttribute != "" {
		if raw := entry.Raw(m.users.PhotoAttribute); len(raw) > 0 && len(raw[0]) > 0 {
			u.Photo = raw[0]
			u.HasPhoto = true
		}
	}
	for name, v := range m.Flags(groups) {
		switch name {
		case FlagIsActive:
			u.IsActive = v
		case FlagIsStaff:
			u.IsStaff = v
		case FlagIsSuperuser:
			u.IsSuperuser = v
		default:
			u.Flags[name] = v
		}
	}
	if m.flavor == ldapbridge.FlavorActiveDirectory && adDisabled(entry) {
		u.IsActive = false
	}
	u.Verdict, u.VerdictReason = m.Judge(groups, u.IsActive)
	u.PasswordChanged = passwordStamp(m.stampAttrs, entry)
	return u, nil
}

// adDisabled reports userAccountControl bit 2 (ACCOUNTDISABLE).
func adDisabled(entry *ldapbridge.Entry) bool {
	v, err := strconv.ParseInt(entry.First("userAccountControl"), 10, 64)
	return err == nil && v&2 != 0
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
