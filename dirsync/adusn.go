package dirsync

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
)

// usnKind is the cursor kind of Active Directory runs.
const usnKind = "uSNChanged"

// tombstoneReader is what an Active Directory run reads beyond Directory:
// tombstones (the show-deleted control) and the server's invocationId. A
// pinned server (ldapbridge.PinnedServer) is one.
type tombstoneReader interface {
	Directory
	ldapbridge.DeletedSearcher
	InvocationID(ctx context.Context) (string, error)
}

// usnSource is Active Directory's change source. Its cursor is the
// server's highestCommittedUSN, read from the root DSE before anything
// else, and bound to the server that issued it (dnsHostName and
// invocationId): every search of the run goes over one pinned connection,
// since uSNChanged values are per server and per database. An incremental
// read takes the users whose uSNChanged is above the cursor, then finds
// deletions from tombstones.
type usnSource struct {
	pagedRead
	base       Directory // Options.Dir; pagedRead.dir is the pinned server
	syncFilter string
	mapper     *auth.Mapper

	tombstones tombstoneReader // nil when the directory client cannot read them
	pinned     ldapbridge.PinnedServer
	usn        uint64 // highestCommittedUSN when the run started
	host       string // dnsHostName
	domain     string // defaultNamingContext: where tombstones are searched
	invocation string
}

func (*usnSource) Kind() string { return usnKind }

// Open pins the run to one server, so that the highestCommittedUSN read
// first and every search after it come from the same server, and reads
// that server's change counter and identity. A directory that cannot pin
// (a test fake) is read as it is.
func (a *usnSource) Open(ctx context.Context) (Directory, *ldapbridge.ServerInfo, error) {
	a.dir = a.base
	switch d := a.base.(type) {
	case ldapbridge.Pinner:
		p, err := d.Pin(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("connecting to the directory: %w", err)
		}
		a.dir, a.tombstones, a.pinned = p, p, p
	case tombstoneReader:
		a.tombstones = d
	}
	info, err := a.dir.Info(ctx)
	a.searches++
	if err != nil {
		return nil, nil, fmt.Errorf("reading the server's root DSE: %w", err)
	}
	a.host, a.domain = strings.ToLower(info.DNSHostName), info.DefaultNamingContext
	if info.HighestCommittedUSN != "" {
		n, err := strconv.ParseUint(info.HighestCommittedUSN, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("the root DSE's highestCommittedUSN %q is not a number", info.HighestCommittedUSN)
		}
		a.usn = n
	}
	if a.tombstones == nil {
		return a.dir, info, nil
	}
	id, err := a.tombstones.InvocationID(ctx)
	a.searches += 2
	if err != nil {
		return nil, nil, fmt.Errorf("reading the server's invocationId: %w", err)
	}
	a.invocation = id
	return a.dir, info, nil
}

func (a *usnSource) Incremental() error {
	switch {
	case a.usn == 0:
		return errors.New("the server publishes no highestCommittedUSN in its root DSE")
	case a.tombstones == nil:
		return errors.New("this directory client cannot read Active Directory tombstones, so deletions would be missed")
	case a.domain == "":
		return errors.New("the server publishes no defaultNamingContext, so its tombstones cannot be searched")
	}
	return nil
}

func (a *usnSource) Resume(since *Cursor) error {
	_, err := a.after(since)
	return err
}

// after returns the cursor's USN, or why this server cannot resume from it.
func (a *usnSource) after(c *Cursor) (uint64, error) {
	n, err := strconv.ParseUint(c.USN, 10, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("stored uSNChanged cursor %q is not a number", c.USN)
	case c.Host != "" && a.host != "" && !strings.EqualFold(c.Host, a.host):
		return 0, fmt.Errorf("the cursor was issued by %s but this server is %s; uSNChanged values are per server", c.Host, a.host)
	case c.InvocationID != "" && a.invocation != "" && c.InvocationID != a.invocation:
		return 0, fmt.Errorf("the cursor was issued by the server with invocationId %s but this one has %s (another server, or its database was restored); uSNChanged values are per server database", c.InvocationID, a.invocation)
	case n > a.usn:
		return 0, fmt.Errorf("the server's highestCommittedUSN %d is below the cursor's %d (restored from a backup?)", a.usn, n)
	}
	return n, nil
}

// Read reads every user, or those whose uSNChanged is above the cursor and
// then the tombstones of the users deleted since.
func (a *usnSource) Read(ctx context.Context, since *Cursor, out UserSink) error {
	if since == nil {
		return a.readAll(ctx, a.syncFilter, out)
	}
	n, err := a.after(since)
	if err != nil {
		return err
	}
	above := strconv.FormatUint(n+1, 10)
	if err := a.readAll(ctx, "(&"+orEverything(a.syncFilter)+"(uSNChanged>="+above+"))", out); err != nil {
		return err
	}
	return a.readTombstones(ctx, above, out)
}

// readTombstones reports the users deleted since the cursor: one search of
// the domain with the show-deleted control for deleted users whose
// uSNChanged is above the cursor, by objectGUID. Listing tombstones needs
// the right to list CN=Deleted Objects; without it the search returns
// nothing and deletions wait for the full runs of sync.full_every.
func (a *usnSource) readTombstones(ctx context.Context, above string, out UserSink) error {
	req := &ldapbridge.SearchRequest{
		BaseDN: a.domain, Scope: ldapbridge.ScopeSub,
		Filter:     "(&(isDeleted=TRUE)(objectClass=user)(uSNChanged>=" + above + "))",
		Attributes: append(a.mapper.Attributes(), "isDeleted"),
	}
	a.searches++
	err := a.tombstones.SearchDeleted(ctx, req, func(page []*ldapbridge.Entry) error {
		for _, e := range page {
			if !strings.EqualFold(e.First("isDeleted"), "TRUE") {
				continue
			}
			if id := a.mapper.StableID(e); id != "" {
				out.Deleted(id)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading deleted objects (tombstones) under %q: %w — the bind account needs the right to list deleted objects, or run full syncs", req.BaseDN, err)
	}
	return nil
}

// Checkpoint binds the cursor to this run's server and change counter.
func (a *usnSource) Checkpoint(next *Cursor) {
	next.Kind, next.TS = usnKind, ""
	next.USN = strconv.FormatUint(a.usn, 10)
	next.Host, next.InvocationID = a.host, a.invocation
}

func (a *usnSource) Close() error {
	if a.pinned == nil {
		return nil
	}
	return a.pinned.Close()
}

// disabledMark ends the fields half of the sync hash of an Active Directory
// user whose userAccountControl disables the account (bit 2), so that
// refreshing the group-based flags of a user an incremental run did not
// re-read keeps the account inactive: enabling it changes the entry, which
// is then re-read.
const disabledMark = "~disabled"

// markDisabled adds disabledMark to hash when e is a disabled account.
func markDisabled(e *ldapbridge.Entry, hash string) string {
	v, err := strconv.ParseInt(strings.TrimSpace(e.First("userAccountControl")), 10, 64)
	if err != nil || v&2 == 0 {
		return hash
	}
	fields, flags, _ := strings.Cut(hash, ":")
	return fields + disabledMark + ":" + flags
}

func keepDisabled(fields string, f map[string]bool) {
	if strings.HasSuffix(fields, disabledMark) {
		f["is_active"] = false
	}
}
