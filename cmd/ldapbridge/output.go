package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

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

// timeLayout is how the CLI prints a time: local, with the zone's name
// (or its offset when the zone has no abbreviation), so a reader can tell
// it from UTC.
const timeLayout = "2006-01-02 15:04:05 MST"

func fmtTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Local().Format(timeLayout)
}

// field prints one aligned "label: value" line.
func field(w io.Writer, label string, value any) {
	fmt.Fprintf(w, "%-14s %v\n", label+":", value)
}
