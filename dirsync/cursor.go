package dirsync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ldapbridge/ldapbridge/config"
)

// ChangeSource is the seam for change-tracking mechanisms: given a stored
// cursor it returns the users filter of an incremental read. The
// modifyTimestamp source and Active Directory's uSNChanged source (adusn.go:
// bound to one server, tombstones for deletions) are built in.
type ChangeSource interface {
	// Kind names the cursor kind this source reads and writes.
	Kind() string
	// Filter returns the incremental users filter for c, or an error when c
	// cannot be used (the run then falls back to full).
	Filter(syncFilter string, c *cursor) (string, error)
}

// cursor is what the store keeps per server between runs.
type cursor struct {
	Kind string `json:"kind"`
	// TS is when the last successful read started (GeneralizedTime, UTC).
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

func parseCursor(s string) (*cursor, error) {
	var c cursor
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, fmt.Errorf("stored cursor is not readable (%v)", err)
	}
	return &c, nil
}

func (c *cursor) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// modTimeSource reads users modified since the previous read started, less
// a skew margin that covers the clock difference between this host and the
// directory servers.
type modTimeSource struct{ skew time.Duration }

func (modTimeSource) Kind() string { return "modifyTimestamp" }

func (m modTimeSource) Filter(syncFilter string, c *cursor) (string, error) {
	ts, err := parseGeneralized(c.TS)
	if err != nil {
		return "", fmt.Errorf("stored modifyTimestamp %q is not usable (%v)", c.TS, err)
	}
	since := ts.Add(-m.skew).UTC().Format("20060102150405Z")
	if syncFilter == "" {
		syncFilter = "(objectClass=*)"
	}
	return "(&" + syncFilter + "(modifyTimestamp>=" + since + "))", nil
}

func parseGeneralized(s string) (time.Time, error) {
	for _, layout := range []string{"20060102150405Z0700", "20060102150405.999999Z0700", "20060102150405Z", "20060102150405.999999Z"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a GeneralizedTime")
}

// source returns the change source of a directory other than Active
// Directory (whose uSNChanged source is run.source), or why incremental
// runs are not available.
func (s *Syncer) source() (ChangeSource, string) {
	return modTimeSource{skew: s.o.SkewMargin}, ""
}

// configFingerprint hashes the settings that decide which entries a sync
// reads and how they map, so changing them forces a full run.
func configFingerprint(cfg *config.Config) string {
	u, g := cfg.Users, cfg.Groups
	sum := sha256.Sum256([]byte(fmt.Sprintf("%v|%q|%q|%q|%v|%v|%q|%q|%q|%v|%v|%q|%v|%q|%v|%v",
		u.Search, u.SyncFilter, u.UsernameAttribute, u.UsernameCase, u.Attributes, u.Profile, u.PhotoAttribute,
		u.MultiValueSeparator, u.StableIDAttribute, g.Search, g.Type, g.MemberAttribute, g.Nested, g.NameAttribute,
		g.Mirror, cfg.Access.Flags)))
	return hex.EncodeToString(sum[:8])
}
