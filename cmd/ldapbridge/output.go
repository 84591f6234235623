package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// loginUserJSON is the `user` object of `auth test --json`.
type loginUserJSON struct {
	Username    string            `json:"username"`
	FirstName   string            `json:"first_name"`
	LastName    string            `json:"last_name"`
	Email       string            `json:"email"`
	IsActive    bool              `json:"is_active"`
	IsStaff     bool              `json:"is_staff"`
	IsSuperuser bool              `json:"is_superuser"`
	Flags       map[string]bool   `json:"flags"`
	Groups      []string          `json:"groups"`
	Profile     map[string]string `json:"profile"`
}

func newLoginUserJSON(u *ldapbridge.User) *loginUserJSON {
	if u == nil {
		return nil
	}
	return &loginUserJSON{
		Username: u.Username, FirstName: u.FirstName, LastName: u.LastName, Email: u.Email,
		IsActive: u.IsActive, IsStaff: u.IsStaff, IsSuperuser: u.IsSuperuser,
		Flags: nonNilFlags(u.Flags), Groups: sorted(u.Groups), Profile: nonNilProfile(u.Profile),
	}
}

func nonNilFlags(m map[string]bool) map[string]bool {
	if m == nil {
		return map[string]bool{}
	}
	return m
}

func nonNilProfile(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// sorted returns a sorted copy, [] rather than nil.
func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// field prints one aligned "label: value" line.
func field(w io.Writer, label string, value any) {
	fmt.Fprintf(w, "%-14s %v\n", label+":", value)
}
