package dirsync

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/ldaptext"
)

// userHash is the sync hash of a mapped user: a hash of the entry-derived
// fields, a colon, and a hash of the group-derived flags and verdict, so an
// incremental run can refresh them without re-reading the entry.
func userHash(u *ldapbridge.User) string {
	return fieldsHash(u) + ":" + flagsHash(u.IsActive, u.IsStaff, u.IsSuperuser, u.Flags, u.Verdict, u.VerdictReason)
}

func fieldsHash(u *ldapbridge.User) string {
	h := sha256.New()
	w := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	w(u.Username)
	w(u.DN)
	w(u.StableID)
	w(u.FirstName)
	w(u.LastName)
	w(u.Email)
	keys := make([]string, 0, len(u.Profile))
	for k := range u.Profile {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w(k)
		w(u.Profile[k])
	}
	w("photo")
	h.Write(u.Photo)
	if u.PasswordChanged != "" {
		// Read only with access.offline_login: a password change rewrites
		// the user, and the store then drops the offline verifier.
		w("password_changed")
		w(u.PasswordChanged)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func flagsHash(active, staff, super bool, flags map[string]bool, verdict, reason string) string {
	var b strings.Builder
	for _, v := range []bool{active, staff, super} {
		if v {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("," + k + "=")
		if flags[k] {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	b.WriteString("|" + verdict + "|" + reason)
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:6])
}

// splitHash returns the two halves of a stored sync hash; ok is false for
// an empty or foreign value.
func splitHash(h string) (fields, flags string, ok bool) {
	fields, flags, ok = strings.Cut(h, ":")
	return fields, flags, ok && fields != "" && flags != ""
}

// normDN is ldaptext.NormalizeDN with a fast path for the plain ASCII DNs
// that make up nearly every directory: those normalise to their lowercase.
func normDN(dn string) string {
	eqs := 0
	for i := 0; i < len(dn); i++ {
		c := dn[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == '_', c == '@':
		case c >= 'A' && c <= 'Z':
		case c == '=':
			eqs++
			if eqs > 1 {
				return slowNorm(dn)
			}
		case c == ',':
			if eqs != 1 {
				return slowNorm(dn)
			}
			eqs = 0
		default:
			return slowNorm(dn)
		}
	}
	if eqs != 1 {
		return slowNorm(dn)
	}
	return strings.ToLower(dn)
}

func slowNorm(dn string) string { return ldaptext.MustNormalizeDN(dn) }
