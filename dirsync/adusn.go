package dirsync

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ldapbridge/ldapbridge"
)

// usnKind is the cursor kind of Active Directory runs.
const usnKind = "uSNChanged"

// adServer is what an Active Directory run reads from, beyond Directory:
// tombstones (the show-deleted control) and the server's invocationId.
// An ldapbridge.PinnedServer implements it.
type adServer interface {
	Directory
	ldapbridge.DeletedSearcher
	InvocationID(ctx context.Context) (string, error)
}

// adState is the Active Directory part of a run.
type adState struct {
	srv        adServer
	close      func() error
	usn        uint64 // highestCommittedUSN when the run started
	host       string // dnsHostName
	domain     string // defaultNamingContext: where tombstones are searched
	invocation string
}

// rangedGroups are the group entries of a read whose member values came
// back ranged, and their indexes in run.dg.
type rangedGroups struct {
	entries []*ldapbridge.Entry
	idx     []int32
}

func (r *run) isAD() bool {
	return r.s.cfg.Directory.Flavor == ldapbridge.FlavorActiveDirectory
}

// openAD pins the run to one server on Active Directory, so that the
// highestCommittedUSN read first and every search after it come from the
// same server. Other directories (and test fakes that cannot pin) keep
// Options.Dir.
func (r *run) openAD(ctx context.Context) error {
	r.dir = r.s.o.Dir
	if !r.isAD() {
		return nil
	}
	r.ad = &adState{}
	switch d := r.s.o.Dir.(type) {
	case ldapbridge.Pinner:
		p, err := d.Pin(ctx)
		if err != nil {
			return r.abort(fmt.Sprintf("connecting to the directory: %v", err), err)
		}
		r.dir, r.ad.srv, r.ad.close = p, p, p.Close
	case adServer:
		r.ad.srv = d
	}
	return nil
}

func (r *run) closeAD() {
	if r.ad != nil && r.ad.close != nil {
		_ = r.ad.close()
	}
}

// readADIdentity records the server's change counter and identity after
// the root DSE read.
func (r *run) readADIdentity(ctx context.Context, info *ldapbridge.ServerInfo) error {
	if r.ad == nil {
		return nil
	}
	r.ad.host = strings.ToLower(info.DNSHostName)
	r.ad.domain = info.DefaultNamingContext
	if info.HighestCommittedUSN != "" {
		n, err := strconv.ParseUint(info.HighestCommittedUSN, 10, 64)
		if err != nil {
			return r.abort(fmt.Sprintf("the root DSE's highestCommittedUSN %q is not a number", info.HighestCommittedUSN))
		}
		r.ad.usn = n
	}
	if r.ad.srv == nil {
		return nil
	}
	id, err := r.ad.srv.InvocationID(ctx)
	r.searches += 2
	if err != nil {
		return r.abort(fmt.Sprintf("reading the server's invocationId: %v", err), err)
	}
	r.ad.invocation = id
	return nil
}

// source returns the change source of this run, or why there is none.
func (r *run) source() (ChangeSource, string) {
	if r.ad == nil {
		return r.s.source()
	}
	switch {
	case r.ad.usn == 0:
		return nil, "the server publishes no highestCommittedUSN in its root DSE"
	case r.ad.srv == nil:
		return nil, "this directory client cannot read Active Directory tombstones, so deletions would be missed"
	case r.ad.domain == "":
		return nil, "the server publishes no defaultNamingContext, so its tombstones cannot be searched"
	}
	return usnSource{ad: r.ad}, ""
}

// usnSource reads the users whose uSNChanged is above the
// highestCommittedUSN the previous run started at, on the same server.
type usnSource struct{ ad *adState }

func (usnSource) Kind() string { return usnKind }

func (u usnSource) Filter(syncFilter string, c *cursor) (string, error) {
	n, err := strconv.ParseUint(c.USN, 10, 64)
	if err != nil {
		return "", fmt.Errorf("stored uSNChanged cursor %q is not a number", c.USN)
	}
	switch {
	case c.Host != "" && u.ad.host != "" && !strings.EqualFold(c.Host, u.ad.host):
		return "", fmt.Errorf("the cursor was issued by %s but this server is %s; uSNChanged values are per server", c.Host, u.ad.host)
	case c.InvocationID != "" && u.ad.invocation != "" && c.InvocationID != u.ad.invocation:
		return "", fmt.Errorf("the cursor was issued by the server with invocationId %s but this one has %s (another server, or its database was restored); uSNChanged values are per server database", c.InvocationID, u.ad.invocation)
	case n > u.ad.usn:
		return "", fmt.Errorf("the server's highestCommittedUSN %d is below the cursor's %d (restored from a backup?)", u.ad.usn, n)
	}
	if syncFilter == "" {
		syncFilter = "(objectClass=*)"
	}
	return "(&" + syncFilter + "(uSNChanged>=" + strconv.FormatUint(n+1, 10) + "))", nil
}

// fillADCursor binds the cursor to this run's server and change counter.
func (r *run) fillADCursor(c *cursor) {
	if r.ad == nil {
		return
	}
	c.Kind, c.TS = usnKind, ""
	c.USN = strconv.FormatUint(r.ad.usn, 10)
	c.Host, c.InvocationID = r.ad.host, r.ad.invocation
}

// noteRanged remembers a group entry whose member attribute came back as
// a range (member;range=0-1499), to complete it after the group read.
func (r *run) noteRanged(e *ldapbridge.Entry, idx int32) {
	prefix := strings.ToLower(r.s.groups.MemberAttribute()) + ";range="
	for _, a := range e.Attributes {
		if strings.HasPrefix(strings.ToLower(a.Name), prefix) {
			r.rng.entries = append(r.rng.entries, e)
			r.rng.idx = append(r.rng.idx, idx)
			return
		}
	}
}

// countingSearcher counts the searches of membership's ranged reads.
type countingSearcher struct {
	d Directory
	n *int
}

func (c countingSearcher) Search(ctx context.Context, req *ldapbridge.SearchRequest) ([]*ldapbridge.Entry, error) {
	*c.n++
	var out []*ldapbridge.Entry
	err := c.d.SearchPages(ctx, req, func(p []*ldapbridge.Entry) error { out = append(out, p...); return nil })
	return out, err
}

func (c countingSearcher) SearchPages(ctx context.Context, req *ldapbridge.SearchRequest, fn func([]*ldapbridge.Entry) error) error {
	*c.n++
	return c.d.SearchPages(ctx, req, fn)
}

// completeRanged reads the rest of every ranged member attribute, one base
// search per further range of 1,500 values.
func (r *run) completeRanged(ctx context.Context) error {
	cs := countingSearcher{d: r.dir, n: &r.searches}
	for k, e := range r.rng.entries {
		dns, err := r.s.groups.CompleteMembers(ctx, cs, e)
		if err != nil {
			return r.abort(fmt.Sprintf("reading the members of the large group %s: %v", e.DN, err), err)
		}
		g := &r.dg[r.rng.idx[k]]
		g.members = g.members[:0]
		for _, m := range dns {
			g.members = append(g.members, normDN(m))
		}
	}
	r.rng = rangedGroups{}
	return nil
}

// planDeleted finds the users deleted since the cursor from Active
// Directory's tombstones (show-deleted control, isDeleted=TRUE, uSNChanged
// above the cursor), matched to stored users by objectGUID, and applies
// sync.removed_users, sync.exempt_users and sync.max_removals to them.
func (r *run) planDeleted(ctx context.Context) ([]int, error) {
	if r.ad == nil || r.rep.Mode != Incremental {
		return nil, nil
	}
	m := r.s.o.Mapper
	n, _ := strconv.ParseUint(r.cur.USN, 10, 64)
	req := &ldapbridge.SearchRequest{
		BaseDN: r.ad.domain, Scope: ldapbridge.ScopeSub,
		Filter:     "(&(isDeleted=TRUE)(objectClass=user)(uSNChanged>=" + strconv.FormatUint(n+1, 10) + "))",
		Attributes: append(m.Attributes(), "isDeleted"),
	}
	var gone []int
	r.searches++
	err := r.ad.srv.SearchDeleted(ctx, req, func(page []*ldapbridge.Entry) error {
		for _, e := range page {
			if !strings.EqualFold(e.First("isDeleted"), "TRUE") {
				continue
			}
			id := m.StableID(e)
			i, ok := r.byStable[id]
			if id == "" || !ok || r.seen[i] {
				continue
			}
			r.seen[i] = true
			gone = append(gone, i)
		}
		return nil
	})
	if err != nil {
		return nil, r.abort(fmt.Sprintf("reading deleted objects (tombstones) under %q: %v — the bind account needs the right to list deleted objects, or run full syncs", req.BaseDN, err), err)
	}
	return r.removalsOf(gone)
}

// removalsOf applies the removal policy and guard to the stored users
// at indexes idx, as planRemovals does for a full run.
func (r *run) removalsOf(idx []int) ([]int, error) {
	policy := r.s.cfg.Sync.RemovedUsers
	if policy == "keep" {
		return nil, nil
	}
	var out []int
	for _, i := range idx {
		st := r.states[i]
		if st.Source != ldapbridge.SourceLDAP || slices.Contains(r.s.cfg.Sync.ExemptUsers, st.Username) {
			continue
		}
		if policy == "delete" {
			out = append(out, i)
			r.rep.Plan.add(&r.rep.Plan.Delete, st.Username)
		} else if st.IsActive {
			out = append(out, i)
			r.rep.Plan.add(&r.rep.Plan.Deactivate, st.Username)
		}
	}
	if limit := r.s.cfg.Sync.MaxRemovals.Of(r.ldapActive); len(out) > limit && !r.ro.Force {
		return nil, r.abort(fmt.Sprintf("%d of %d active directory users were deleted in the directory, more than sync.max_removals allows (%d) — nothing was removed; rerun with --force if the removals are intended",
			len(out), r.ldapActive, limit), ErrGuard)
	}
	return out, nil
}

// disabledMark ends the fields half of the sync hash of an Active Directory
// user whose userAccountControl disables the account (bit 2), so that
// refreshing the group-based flags of a user an incremental run did not
// re-read keeps the account inactive: enabling it changes the entry, which
// is then re-read.
const disabledMark = "~disabled"

func (r *run) adHash(e *ldapbridge.Entry, h string) string {
	if r.ad == nil || !adDisabled(e) {
		return h
	}
	fields, flags, _ := strings.Cut(h, ":")
	return fields + disabledMark + ":" + flags
}

func keepDisabled(fields string, f map[string]bool) {
	if strings.HasSuffix(fields, disabledMark) {
		f["is_active"] = false
	}
}

func adDisabled(e *ldapbridge.Entry) bool {
	v, err := strconv.ParseInt(strings.TrimSpace(e.First("userAccountControl")), 10, 64)
	return err == nil && v&2 != 0
}
