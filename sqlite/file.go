package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
)

// FilePath returns the path of the database file that dsn names (a plain
// path or a "file:" URI, as Open accepts), or "" when dsn names an
// in-memory or temporary database, which has no file.
func FilePath(dsn string) string {
	dsn = strings.TrimSpace(dsn)
	if dsn == "" || dsn == ":memory:" {
		return ""
	}
	rest, isURI := strings.CutPrefix(dsn, "file:")
	if !isURI {
		// The driver strips a query from a plain file name.
		if i := strings.IndexByte(dsn, '?'); i >= 1 {
			dsn = dsn[:i]
		}
		return dsn
	}
	// RFC 3986 as SQLite reads it (https://sqlite.org/uri.html):
	// file:[//authority]path[?query][#fragment].
	rest, _, _ = strings.Cut(rest, "#")
	rest, query, _ := strings.Cut(rest, "?")
	if q, err := url.ParseQuery(query); err == nil && (q.Get("mode") == "memory" || q.Get("vfs") == "memdb") {
		return ""
	}
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		// The authority must be empty or "localhost"; SQLite refuses others.
		i := strings.IndexByte(after, '/')
		if i < 0 {
			return ""
		}
		rest = after[i:]
	}
	p, err := url.PathUnescape(rest)
	if err != nil {
		p = rest
	}
	if p == "" || p == ":memory:" {
		return ""
	}
	return p
}

// readOnlyURI reports whether dsn is a "file:" URI that opens the
// database read-only (mode=ro), which must not create the file.
func readOnlyURI(dsn string) bool {
	rest, ok := strings.CutPrefix(strings.TrimSpace(dsn), "file:")
	if !ok {
		return false
	}
	_, query, _ := strings.Cut(rest, "?")
	query, _, _ = strings.Cut(query, "#")
	q, err := url.ParseQuery(query)
	return err == nil && q.Get("mode") == "ro"
}

// FileMode is the mode of a database file this package creates. SQLite
// creates the -wal and -shm files with the mode of the database file, so
// they get it too.
const FileMode fs.FileMode = 0o600

// createPrivate creates the database file at path, empty and with mode
// FileMode, unless it exists: SQLite would create it world-readable
// (0644 less the umask). An existing file keeps its mode; `ldapbridge
// check` warns when group or others can read it. A missing directory is
// left for SQLite to report.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	switch {
	case err == nil:
		// The umask may only have removed bits; make the mode exact.
		if err := f.Chmod(FileMode); err != nil {
			f.Close()
			return fmt.Errorf("sqlite: create %s with mode %04o: %w", path, FileMode, err)
		}
		return f.Close()
	case errors.Is(err, fs.ErrExist), errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("sqlite: create %s: %w — check that its directory is writable", path, err)
	}
}

// LoosePermissions returns, for the database file dsn names and its -wal
// and -shm files, those that exist and that group or others may read or
// write, each with its mode. It returns nothing for an in-memory database.
func LoosePermissions(dsn string) ([]LooseFile, error) {
	path := FilePath(dsn)
	if path == "" {
		return nil, nil
	}
	var out []LooseFile
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("sqlite: stat %s: %w", p, err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			out = append(out, LooseFile{Path: p, Mode: st.Mode().Perm()})
		}
	}
	return out, nil
}

// LooseFile is a database file that group or others may read or write.
type LooseFile struct {
	Path string
	Mode fs.FileMode // permission bits
}
