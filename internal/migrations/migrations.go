// Package migrations reads a store's embedded, versioned schema steps:
// files named NNNN_description.sql, numbered 1, 2, 3, … without gaps.
package migrations

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema step.
type Migration struct {
	Version int
	Name    string // the file name without .sql
	SQL     string
}

// Load reads the steps matching pattern (e.g. "migrations/*.sql") from
// fsys, sorted by version. driver prefixes errors ("sqlite", "postgres").
func Load(fsys fs.FS, pattern, driver string) ([]Migration, error) {
	files, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, f := range files {
		base := path.Base(f)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("%s: migration file %s: name must be NNNN_description.sql", driver, base)
		}
		body, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: strings.TrimSuffix(base, ".sql"), SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("%s: migration %s: expected version %d (versions must have no gaps or duplicates)", driver, m.Name, i+1)
		}
	}
	return ms, nil
}

// Latest is the version load's steps lead to. It panics when load fails:
// embedded files are fixed at build time, and tests catch this.
func Latest(load func() ([]Migration, error)) int {
	ms, err := load()
	if err != nil {
		panic(err)
	}
	return len(ms)
}
