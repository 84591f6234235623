package auth

import (
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
