package web

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/ldaptext"
)

// MaxUsernameLength is the longest username, in characters, that sign-in
// passes to the directory; a longer one is refused as an unknown user
// without a directory call. Directory usernames are far shorter (uid is at
// most 256 characters by its schema, sAMAccountName 20, a mail address 254).
const MaxUsernameLength = 256

// usernameTooLong reports whether name is longer than MaxUsernameLength
// characters, without counting the characters of a huge input.
func usernameTooLong(name string) bool {
	return len(name) > utf8.UTFMax*MaxUsernameLength || utf8.RuneCountInString(name) > MaxUsernameLength
}

// canonicalUsername folds every spelling of a username that an LDAP
// directory's case-insensitive matching treats as the same name into one
// string, following the string preparation of RFC 4518: control and
// formatting characters (zero-width spaces and joiners, soft hyphens,
// variation selectors) are removed, every kind of space becomes a plain
// space, the name is case-folded and NFKC-normalised (so fullwidth "ａｓｍｉｔｈ"
// is "asmith"), and leading, trailing and repeated spaces are dropped.
// Sign-in rate limits are keyed on it.
func canonicalUsername(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		switch {
		case r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' || r == 0x85:
			b.WriteByte(' ')
		case r == 0x00AD || r == 0x1806 || r == 0x034F || r == 0x200B || r == 0xFFFC ||
			(r >= 0x180B && r <= 0x180D) || (r >= 0xFE00 && r <= 0xFE0F) ||
			unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError:
			// Mapped to nothing.
		case unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	// NFKC before folding maps compatibility characters (ℌ, ﬃ) to letters
	// that have a case; NFKC after folding restores the normal form.
	s := norm.NFKC.String(cases.Fold().String(norm.NFKC.String(b.String())))
	return strings.Join(strings.Fields(s), " ")
}

// maxKeyName is the longest name written into a rate-limit key as is;
// longer ones are hashed, so keys stay short enough for any store's index.
const maxKeyName = 128

// limitKey is a rate-limit key for the canonical name under prefix.
func limitKey(prefix, canonical string) string {
	if len(canonical) <= maxKeyName {
		return prefix + canonical
	}
	sum := sha256.Sum256([]byte(canonical))
	return prefix + "sha256:" + hex.EncodeToString(sum[:])
}

// userLimitKey is the per-user key of a username as typed.
func userLimitKey(username string) string {
	return limitKey("login-user:", canonicalUsername(username))
}

// accountLimitKey is the per-user key of the account a sign-in reached:
// its directory entry's DN, else (a local account) its stored username;
// "" when the sign-in resolved no account.
func accountLimitKey(res *auth.Result) string {
	if res == nil {
		return ""
	}
	dn := res.DN
	if dn == "" && res.User != nil {
		dn = res.User.DN
	}
	if dn != "" {
		if n, err := ldaptext.NormalizeDN(dn); err == nil {
			dn = n
		}
		return limitKey("login-account:dn:", canonicalUsername(dn))
	}
	if res.User != nil && res.User.Username != "" {
		return limitKey("login-account:user:", canonicalUsername(res.User.Username))
	}
	return ""
}

// maxAccountMemo bounds the accounts remembered by name.
const maxAccountMemo = 10000

// accountMemo remembers which account each canonical name reached last, so
// the account's limit is checked before the directory is asked again for a
// spelling that canonicalisation cannot fold (an alias, a DOMAIN\ prefix).
type accountMemo struct {
	mu sync.Mutex
	m  map[string]string
}

func (a *accountMemo) get(userKey string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m[userKey]
}

func (a *accountMemo) put(userKey, accountKey string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil || len(a.m) >= maxAccountMemo {
		a.m = map[string]string{}
	}
	a.m[userKey] = accountKey
}

// maxLoggedName is how many characters of a username a log line shows.
const maxLoggedName = auth.MaxLoggedName

// logName is name as a log line shows it (auth.LogName).
func logName(name string) string { return auth.LogName(name) }
