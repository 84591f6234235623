package ldapbridge

import "context"

// Scope is an LDAP search scope.
type Scope int

const (
	ScopeBase Scope = iota // the base entry only
	ScopeOne               // the base's immediate children
	ScopeSub               // the base and everything under it
)

// String returns base, one or sub.
func (s Scope) String() string {
	switch s {
	case ScopeBase:
		return "base"
	case ScopeOne:
		return "one"
	default:
		return "sub"
	}
}

// Flavor is a kind of directory server, which decides defaults and quirks.
type Flavor string

const (
	FlavorAuto            Flavor = "auto"
	FlavorOpenLDAP        Flavor = "openldap"
	FlavorActiveDirectory Flavor = "active_directory"
	FlavorJumpCloud       Flavor = "jumpcloud"
	Flavor389DS           Flavor = "389ds"
)

// SearchRequest is one LDAP search. Filter must already be escaped: build
// it with the escaping helpers of ldapdir, never by pasting user input.
type SearchRequest struct {
	BaseDN     string
	Scope      Scope
	Filter     string
	Attributes []string // nil means all user attributes
	// SizeLimit caps the number of entries; 0 means no cap (paged).
	SizeLimit int
	// Few says the caller expects a handful of entries (a login's user
	// search, one user's groups): the search is one request without the
	// paged-results control, read again paged only when the server's size
	// limit cuts it short.
	Few bool
}

// Searcher runs searches. Every implementation pages under the hood and
// returns ErrIncomplete-wrapped errors for size limits and referrals it
// could not follow.
type Searcher interface {
	// Search returns every matching entry.
	Search(ctx context.Context, req *SearchRequest) ([]*Entry, error)
	// SearchPages calls fn once per page of results, so a caller can process
	// a large result without holding it all in memory. An error from fn
	// stops the search and is returned.
	SearchPages(ctx context.Context, req *SearchRequest, fn func(page []*Entry) error) error
}

// Directory is a directory service: searches as the service account (or
// anonymously), and credential checks.
type Directory interface {
	Searcher
	// CheckPassword binds as dn with password on a connection that is used
	// for nothing else afterwards. It returns nil, ErrEmptyPassword (without
	// any network call), ErrInvalidCredentials or another error kind.
	CheckPassword(ctx context.Context, dn, password string) error
	// BindAs opens a session bound as dn, for configurations without a
	// service account (directory.bind_as_user). The caller closes it.
	BindAs(ctx context.Context, dn, password string) (Session, error)
	// Info reads the root DSE of the server currently in use.
	Info(ctx context.Context) (*ServerInfo, error)
	// Close releases every connection.
	Close() error
}

// Session is a connection bound as one user.
type Session interface {
	Searcher
	Close() error
}

// ServerInfo is what the root DSE says about a server.
type ServerInfo struct {
	URL    string
	Flavor Flavor
	// Vendor is vendorName/vendorVersion where published.
	Vendor string
	// NamingContexts lists the server's suffixes.
	NamingContexts   []string
	SupportedControl []string
	// SupportedExtension lists the extended operations' OIDs.
	SupportedExtension []string
	// DefaultNamingContext, DNSHostName and DomainFunctionality are AD's.
	DefaultNamingContext string
	DNSHostName          string
	DomainFunctionality  string
	// ForestFunctionality is AD's forest functional level.
	ForestFunctionality string
	// DNSDomain (e.g. corp.example.com, from DefaultNamingContext) and
	// NetBIOSDomain (e.g. CORP) name an AD server's domain.
	DNSDomain     string
	NetBIOSDomain string
	// HighestCommittedUSN is AD's change counter.
	HighestCommittedUSN string
	// ContextCSN is OpenLDAP's change state, where readable.
	ContextCSN []string
	// TLS describes the connection's TLS ("" when plain LDAP).
	TLS string
}
