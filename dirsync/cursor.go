package dirsync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ldapbridge/ldapbridge/config"
)

// Cursor is what the store keeps per server between runs. The pipeline
// fills SinceFull and Config, and Kind with the source's Kind before
// ChangeSource.Checkpoint, which fills the source's own fields.
type Cursor struct {
	Kind string `json:"kind"`
	// TS is when the last successful read started (GeneralizedTime, UTC):
	// the modifyTimestamp source's.
	TS string `json:"ts,omitempty"`
	// USN is Active Directory's highestCommittedUSN when the last
	// successful read started; Host (dnsHostName) and InvocationID name the
	// server that issued it, since USNs are per server.
	USN          string `json:"usn,omitempty"`
	Host         string `json:"host,omitempty"`
	InvocationID string `json:"invocation_id,omitempty"`
	// SinceFull counts incremental runs since the last full one.
	SinceFull int `json:"since_full"`
	// Config fingerprints the settings that decide what is read and how it
	// maps; a cursor from other settings is unusable.
	Config string `json:"config"`
	// Cookies are RFC 4533 content-sync cookies (base64) per users.search base DN.
	Cookies map[string]string `json:"cookies,omitempty"`
}

func parseCursor(s string) (*Cursor, error) {
	var c Cursor
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, fmt.Errorf("stored cursor is not readable (%v)", err)
	}
	return &c, nil
}

func (c *Cursor) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// policyText renders access.flags, require and deny by their query text: a
// query's %v would print the addresses of its nested queries.
func policyText(cfg *config.Config) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(cfg.Access.Flags)) {
		fmt.Fprintf(&b, "%s=%s;", name, cfg.Access.Flags[name].String())
	}
	fmt.Fprintf(&b, "require=%s;deny=%s", cfg.Access.Require.String(), cfg.Access.Deny.String())
	return b.String()
}

// configFingerprint hashes the settings that decide which entries a sync
// reads and how they map and are judged, so changing them forces a full run.
func configFingerprint(cfg *config.Config) string {
	u, g := cfg.Users, cfg.Groups
	sum := sha256.Sum256([]byte(fmt.Sprintf("%v|%q|%q|%q|%v|%v|%q|%q|%q|%v|%v|%q|%v|%q|%v|%s",
		u.Search, u.SyncFilter, u.UsernameAttribute, u.UsernameCase, u.Attributes, u.Profile, u.PhotoAttribute,
		u.MultiValueSeparator, u.StableIDAttribute, g.Search, g.Type, g.MemberAttribute, g.Nested, g.NameAttribute,
		g.Mirror, policyText(cfg))))
	return hex.EncodeToString(sum[:8])
}

// cursorKey is the key of server's cursor in the store: the server's URL,
// prefixed by the directory's name with several directories (config
// directories:), so two directories never share a cursor.
func (s *Syncer) cursorKey(server string) string {
	if len(s.cfg.Directories()) <= 1 {
		return server
	}
	return s.cfg.Name() + " " + server
}
