// Package membership knows the directory's group types and resolves a user's
// groups, nested ones included, at a bounded cost: one LDAP search per
// configured group search base per nesting level, or a single in-chain search
// on Active Directory.
//
// It works over any ldapbridge.Searcher (the service account's pool, a
// session bound as the user, or a fake in tests) and records every search it
// issues so that `explain` can show them.
//
// Cost and limits, by group type:
//   - DN-valued types (group_of_names, group_of_unique_names, member_dn,
//     active_directory, organizational_role): the direct groups cost one
//     search per base with (member=<user DN>). With groups.nested, each
//     further level costs one search per base whose filter ORs the whole
//     frontier (the groups found at the previous level); a frontier of more
//     than MaxORTerms DNs is split into several ORs of at most MaxORTerms
//     terms, one search each. Cycles stop at a visited set of normalised DNs.
//     A group found more than Options.MaxDepth levels above the user's
//     direct groups is an error wrapping ErrTooDeep, so a resolution costs
//     at most MaxDepth+2 levels of searches.
//   - group_of_unique_names: a uniqueMember value may carry the member's
//     x500UniqueIdentifier after its DN (cn=x,...#'0101'B). Directories
//     match such a value only with the same identifier (OpenLDAP's
//     uniqueMemberMatch), so the direct search ORs the plain DN with the
//     DN#identifier of each x500UniqueIdentifier the user carries; a value
//     with another identifier names an earlier holder of a reused DN and
//     does not count. Members (for sync) strips the suffix.
//   - Active Directory (type active_directory, or any DN-valued type with
//     flavor active_directory): nested resolution is one search per base with
//     LDAP_MATCHING_RULE_IN_CHAIN. Direct is taken from the user's memberOf
//     (requested by UserAttributes); when the user entry carries no memberOf
//     at all, Direct is unknown and reported true for every group.
//   - posix: memberUid holds usernames, and the group whose gidNumber is the
//     user's primary gidNumber counts too; one search per base. posixGroup
//     entries cannot contain groups, so nested is a no-op. memberUid is an
//     IA5 (ASCII) string: a non-ASCII username is simply not a memberUid.
//   - member_of: the user's memberOf values are the direct group DNs; no
//     membership search. The group entries are read (for names and stable
//     ids) with one search per base whose filter ORs the RDNs of the wanted
//     DNs, e.g. (|(cn=Sales\2c EMEA)(cn=Ops)), keeping only entries whose DN
//     is wanted; bases that cannot hold any wanted DN are not searched. With
//     groups.nested, the groups' own memberOf values are the next frontier,
//     read the same way, one search per base per level.
//
// membership must not import the LDAP or store drivers, auth, dirsync or web;
// it searches through the root package's Searcher.
package membership

import (
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
)

// Group types accepted in groups.type.
const (
	TypeGroupOfNames       = "group_of_names"
	TypeGroupOfUniqueNames = "group_of_unique_names"
	TypePosix              = "posix"
	TypeMemberDN           = "member_dn"
	TypeActiveDirectory    = "active_directory"
	TypeOrganizationalRole = "organizational_role"
	TypeMemberOf           = "member_of"
)

// uniqueIDAttr is the user attribute whose value a uniqueMember value may
// carry after the DN (RFC 4519 NameAndOptionalUID).
const uniqueIDAttr = "x500UniqueIdentifier"

// MaxORTerms is the most frontier DNs one nested search ORs together; a
// larger frontier is split into several searches.
const MaxORTerms = 500

// DefaultMaxDepth is the nesting depth allowed when Options.MaxDepth is 0.
const DefaultMaxDepth = 20

// InChainRule is LDAP_MATCHING_RULE_IN_CHAIN, Active Directory's transitive
// membership matching rule.
const InChainRule = "1.2.840.113556.1.4.1941"

// Options tunes a Resolver beyond the groups configuration.
type Options struct {
	// Flavor is the directory's kind; active_directory enables the
	// in-chain nested search.
	Flavor ldapbridge.Flavor
	// UsernameAttribute holds the username that posix memberUid values
	// name; default uid (sAMAccountName on Active Directory).
	UsernameAttribute string
	// StableIDAttribute names the groups' immutable id; "" picks it by
	// flavor (objectGUID, nsUniqueId, entryUUID).
	StableIDAttribute string
	// MaxDepth caps the nesting levels followed; 0 means DefaultMaxDepth.
	MaxDepth int
}

// Resolver resolves users' groups for one groups configuration. It is safe
// for concurrent use.
type Resolver struct {
	typ        string
	memberAttr string // attribute holding members on group entries
	nameAttr   string
	nested     bool
	inChain    bool
	ad         bool // a DN-valued type on Active Directory: primary group by objectSid
	searches   []search
	userAttr   string
	stableIDs  []string
	maxDepth   int
}

type search struct {
	index  int
	base   string
	norm   string
	scope  ldapbridge.Scope
	filter string
}

var defaultFilters = map[string]string{
	TypeGroupOfNames:       "(objectClass=groupOfNames)",
	TypeGroupOfUniqueNames: "(objectClass=groupOfUniqueNames)",
	TypePosix:              "(objectClass=posixGroup)",
	TypeMemberDN:           "(objectClass=*)",
	TypeActiveDirectory:    "(objectClass=group)",
	TypeOrganizationalRole: "(objectClass=organizationalRole)",
	TypeMemberOf:           "(objectClass=*)",
}

var defaultMemberAttrs = map[string]string{
	TypeGroupOfNames:       "member",
	TypeGroupOfUniqueNames: "uniqueMember",
	TypePosix:              "memberUid",
	TypeActiveDirectory:    "member",
	TypeOrganizationalRole: "roleOccupant",
	TypeMemberOf:           "member",
}

// New checks cfg and builds a Resolver. An empty groups.type means
// group_of_names, an empty search filter the type's objectClass, an empty
// name_attribute cn. groups.member_attribute is required for member_dn; for
// the other DN-valued types it overrides the usual attribute, and for
// member_of it names the attribute that lists a group's members for sync.
func New(cfg config.Groups, opts Options) (*Resolver, error) {
	r := &Resolver{
		typ:      cfg.Type,
		nameAttr: cfg.NameAttribute,
		nested:   cfg.Nested,
		userAttr: opts.UsernameAttribute,
		maxDepth: opts.MaxDepth,
	}
	if r.typ == "" {
		r.typ = TypeGroupOfNames
	}
	def, ok := defaultFilters[r.typ]
	if !ok {
		return nil, fmt.Errorf("groups.type: unknown type %q — use one of group_of_names, group_of_unique_names, posix, member_dn, active_directory, organizational_role, member_of", cfg.Type)
	}
	r.memberAttr = defaultMemberAttrs[r.typ]
	if cfg.MemberAttribute != "" {
		if r.typ == TypePosix && !strings.EqualFold(cfg.MemberAttribute, "memberUid") {
			return nil, fmt.Errorf("groups.member_attribute: posix groups list members in memberUid, not %q — leave member_attribute empty", cfg.MemberAttribute)
		}
		r.memberAttr = cfg.MemberAttribute
	}
	if r.memberAttr == "" {
		return nil, fmt.Errorf("groups.member_attribute: required when groups.type is member_dn — name the attribute that holds member DNs")
	}
	if r.nameAttr == "" {
		r.nameAttr = "cn"
	}
	if r.userAttr == "" {
		r.userAttr = "uid"
		if opts.Flavor == ldapbridge.FlavorActiveDirectory {
			r.userAttr = "sAMAccountName"
		}
	}
	if r.maxDepth <= 0 {
		r.maxDepth = DefaultMaxDepth
	}
	r.ad = r.typ != TypePosix && r.typ != TypeMemberOf &&
		(r.typ == TypeActiveDirectory || opts.Flavor == ldapbridge.FlavorActiveDirectory)
	r.inChain = r.nested && r.ad
	r.stableIDs = stableIDAttributes(opts)
	if len(cfg.Search) == 0 {
		return nil, fmt.Errorf("groups.search: required — set base_dn (and filter) of the groups")
	}
	for i, s := range cfg.Search {
		key := fmt.Sprintf("groups.search[%d]", i)
		if s.BaseDN == "" {
			return nil, fmt.Errorf("%s.base_dn: required — the DN under which groups live", key)
		}
		norm, err := normalize(s.BaseDN)
		if err != nil {
			return nil, fmt.Errorf("%s.base_dn: %w", key, err)
		}
		filter := strings.TrimSpace(s.Filter)
		if filter == "" {
			filter = def
		}
		if !strings.HasPrefix(filter, "(") {
			filter = "(" + filter + ")"
		}
		if _, err := ldap.CompileFilter(filter); err != nil {
			return nil, fmt.Errorf("%s.filter: %q is not an LDAP filter: %v", key, s.Filter, err)
		}
		r.searches = append(r.searches, search{index: i, base: s.BaseDN, norm: norm, scope: s.LDAPScope(), filter: filter})
	}
	return r, nil
}

func stableIDAttributes(opts Options) []string {
	if opts.StableIDAttribute != "" {
		return []string{opts.StableIDAttribute}
	}
	switch opts.Flavor {
	case ldapbridge.FlavorActiveDirectory:
		return []string{"objectGUID"}
	case ldapbridge.Flavor389DS:
		return []string{"nsUniqueId"}
	case ldapbridge.FlavorOpenLDAP, ldapbridge.FlavorJumpCloud:
		return []string{"entryUUID"}
	}
	return []string{"entryUUID", "objectGUID", "nsUniqueId"}
}

// Type returns the group type in use (groups.type, defaulted).
func (r *Resolver) Type() string { return r.typ }

// MemberAttribute returns the attribute that lists a group's members.
func (r *Resolver) MemberAttribute() string { return r.memberAttr }

// NameAttribute returns the attribute that names a group.
func (r *Resolver) NameAttribute() string { return r.nameAttr }

// UserAttributes lists the attributes the user search must request so that
// UserGroups can resolve the user's groups.
func (r *Resolver) UserAttributes() []string {
	switch {
	case r.typ == TypePosix:
		return []string{r.userAttr, "gidNumber"}
	case r.inChain:
		return []string{"memberOf", "objectSid", "primaryGroupID"}
	case r.ad:
		return []string{"objectSid", "primaryGroupID"}
	case r.typ == TypeMemberOf:
		return []string{"memberOf"}
	case r.typ == TypeGroupOfUniqueNames:
		return []string{uniqueIDAttr}
	}
	return []string{}
}

// GroupAttributes lists the attributes to request on group entries for a
// sync: the name, objectClass, the stable id, the member attribute, and
// gidNumber (posix) or memberOf (member_of).
func (r *Resolver) GroupAttributes() []string {
	attrs := r.readAttributes()
	attrs = append(attrs, r.memberAttr)
	switch r.typ {
	case TypePosix:
		attrs = append(attrs, "gidNumber")
	case TypeMemberOf:
		attrs = append(attrs, "memberOf")
	}
	return dedupeFold(attrs)
}

// readAttributes are the attributes UserGroups needs on every group entry.
func (r *Resolver) readAttributes() []string {
	attrs := []string{r.nameAttr, "objectClass"}
	if r.ad {
		attrs = append(attrs, "objectSid")
	}
	return dedupeFold(append(attrs, r.stableIDs...))
}

// SyncRequests returns the searches that read every group for a sync: one
// per configured base, with the configured filter and GroupAttributes.
func (r *Resolver) SyncRequests() []*ldapbridge.SearchRequest {
	out := make([]*ldapbridge.SearchRequest, len(r.searches))
	for i, s := range r.searches {
		out[i] = &ldapbridge.SearchRequest{BaseDN: s.base, Scope: s.scope, Filter: s.filter, Attributes: r.GroupAttributes()}
	}
	return out
}

// SyncGroupFilter returns the group filter of the first search base, with
// the type's default applied.
func (r *Resolver) SyncGroupFilter() string { return r.searches[0].filter }

func dedupeFold(in []string) []string {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, a := range in {
		k := strings.ToLower(a)
		if a == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, a)
	}
	return out
}
