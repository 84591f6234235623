package dirsync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
)

// ChangeSource is the seam for change-tracking mechanisms: given a stored
// cursor it returns the users filter of an incremental read. The
// modifyTimestamp source is built in; Active Directory's uSNChanged (bound
// to one server, with tombstones for deletions) is a later implementation.
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
	// SinceFull counts incremental runs since the last full one.
	SinceFull int `json:"since_full"`
	// Config fingerprints the settings that decide what is read and how it
	// maps; a cursor from other settings is unusable.
	Config string `json:"config"`
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

// source returns the change source for the directory's flavor, or why
// incremental runs are not available.
func (s *Syncer) source() (ChangeSource, string) {
	if s.cfg.Directory.Flavor == ldapbridge.FlavorActiveDirectory {
		return nil, "incremental sync on Active Directory (uSNChanged) is not implemented yet"
	}
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
