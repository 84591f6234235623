package dirsync

import (
	"context"
	"fmt"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// modTimeKind is the cursor kind of modifyTimestamp runs.
const modTimeKind = "modifyTimestamp"

// modTimeSource reads the users modified since the previous read started,
// less a skew margin that covers the clock difference between this host and
// the directory servers (Options.SkewMargin). It cannot see deletions: the
// full runs that sync.full_every forces find them.
type modTimeSource struct {
	pagedRead
	info       *ldapbridge.ServerInfo // read by the chooser
	syncFilter string
	skew       time.Duration
	start      time.Time // when this run started: the next run's cursor
}

func (*modTimeSource) Kind() string { return modTimeKind }

func (m *modTimeSource) Open(context.Context) (Directory, *ldapbridge.ServerInfo, error) {
	return m.dir, m.info, nil
}

func (*modTimeSource) Incremental() error { return nil }

func (m *modTimeSource) Resume(since *Cursor) error {
	_, err := m.filter(since)
	return err
}

func (m *modTimeSource) filter(since *Cursor) (string, error) {
	ts, err := parseGeneralized(since.TS)
	if err != nil {
		return "", fmt.Errorf("stored modifyTimestamp %q is not usable (%v)", since.TS, err)
	}
	after := ts.Add(-m.skew).UTC().Format("20060102150405Z")
	return "(&" + orEverything(m.syncFilter) + "(modifyTimestamp>=" + after + "))", nil
}

func (m *modTimeSource) Read(ctx context.Context, since *Cursor, out UserSink) error {
	if since == nil {
		return m.readAll(ctx, m.syncFilter, out)
	}
	filter, err := m.filter(since)
	if err != nil {
		return err
	}
	return m.readAll(ctx, filter, out)
}

func (m *modTimeSource) Checkpoint(next *Cursor) {
	next.Kind, next.TS = modTimeKind, generalized(m.start)
}

func (*modTimeSource) Close() error { return nil }

// generalized formats t as a GeneralizedTime in UTC.
func generalized(t time.Time) string { return t.UTC().Format("20060102150405Z") }

func parseGeneralized(s string) (time.Time, error) {
	for _, layout := range []string{"20060102150405Z0700", "20060102150405.999999Z0700", "20060102150405Z", "20060102150405.999999Z"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a GeneralizedTime")
}

// orEverything is filter, or (objectClass=*) when it is empty.
func orEverything(filter string) string {
	if filter == "" {
		return "(objectClass=*)"
	}
	return filter
}
