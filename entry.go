package ldapbridge

import (
	"sort"
	"strings"
)

// Attribute is one attribute of a directory entry. Values are raw bytes so
// binary attributes (jpegPhoto, objectGUID) survive intact.
type Attribute struct {
	Name   string
	Values [][]byte
}

// Entry is a directory entry as read from the server. Attribute names are
// matched case-insensitively, as LDAP does.
type Entry struct {
	DN         string
	Attributes []Attribute
}

// NewEntry builds an entry from string values; convenient in tests and hooks.
func NewEntry(dn string, attrs map[string][]string) *Entry {
	e := &Entry{DN: dn}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e.Set(n, attrs[n]...)
	}
	return e
}

// Raw returns the raw values of the named attribute, or nil.
func (e *Entry) Raw(name string) [][]byte {
	if e == nil {
		return nil
	}
	for i := range e.Attributes {
		if strings.EqualFold(e.Attributes[i].Name, name) {
			return e.Attributes[i].Values
		}
	}
	return nil
}

// Values returns the values of the named attribute as strings, or nil.
func (e *Entry) Values(name string) []string {
	raw := e.Raw(name)
	if raw == nil {
		return nil
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		out[i] = string(v)
	}
	return out
}

// First returns the first value of the named attribute, or "".
func (e *Entry) First(name string) string {
	raw := e.Raw(name)
	if len(raw) == 0 {
		return ""
	}
	return string(raw[0])
}

// Has reports whether the entry carries the named attribute with at least one value.
func (e *Entry) Has(name string) bool { return len(e.Raw(name)) > 0 }

// Set replaces the values of the named attribute, adding it if missing.
func (e *Entry) Set(name string, values ...string) {
	raw := make([][]byte, len(values))
	for i, v := range values {
		raw[i] = []byte(v)
	}
	e.SetRaw(name, raw...)
}

// SetRaw replaces the raw values of the named attribute, adding it if missing.
func (e *Entry) SetRaw(name string, values ...[]byte) {
	for i := range e.Attributes {
		if strings.EqualFold(e.Attributes[i].Name, name) {
			e.Attributes[i].Values = values
			return
		}
	}
	e.Attributes = append(e.Attributes, Attribute{Name: name, Values: values})
}
