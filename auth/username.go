package auth

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// NormalizeUsername returns name in Unicode NFC, so that a name typed with
// combining characters (NFD) and its precomposed form are one name.
func NormalizeUsername(name string) string { return norm.NFC.String(name) }

// foldUsername applies users.username_case to an NFC name: "lower" lowercases
// it Unicode-correctly (JOSÉ → josé), "preserve" keeps it.
func foldUsername(name, usernameCase string) string {
	name = NormalizeUsername(name)
	if usernameCase == "preserve" {
		return name
	}
	// A Caser keeps state, so each call gets its own.
	return norm.NFC.String(cases.Lower(language.Und).String(name))
}

// MaxLoggedName is how many characters of a username a log line shows.
const MaxLoggedName = 64

// LogName is name as a log line shows it: at most MaxLoggedName
// characters, the rest replaced by a note of its full length, so a huge
// username cannot flood the log.
func LogName(name string) string { return clip(name, MaxLoggedName) }

// clip cuts s to at most n characters, noting its full length in bytes.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i, count := 0, 0
	for i < len(s) && count < n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	if i == len(s) {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:i], len(s))
}
