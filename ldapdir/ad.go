package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

// ShowDeletedOID is LDAP_SERVER_SHOW_DELETED_OID (ldapbridge.ShowDeletedOID).
const ShowDeletedOID = ldapbridge.ShowDeletedOID

var (
	_ ldapbridge.Pinner          = (*Dir)(nil)
	_ ldapbridge.DeletedSearcher = (*Dir)(nil)
	_ ldapbridge.PinnedServer    = (*Pinned)(nil)
)

// Pinned is one service-account connection to one directory server, held
// outside the pool, so that every read of an Active Directory incremental
// sync goes to the server whose uSNChanged counter the cursor holds. It does
// not fail over: an error on it is returned as is.
type Pinned struct {
	d  *Dir
	mu sync.Mutex // guards pc.bad/pc.retry between operations
	pc *pconn
}

// Pin dials the preferred reachable server, binds as the service account
// and holds that connection until Close. The result is a *Pinned.
func (d *Dir) Pin(ctx context.Context) (ldapbridge.PinnedServer, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	c, s, err := d.dialAny(ctx)
	if err != nil {
		return nil, err
	}
	if err := d.serviceBind(ctx, c, s); err != nil {
		c.Close()
		return nil, err
	}
	return &Pinned{d: d, pc: &pconn{c: c, srv: s}}, nil
}

// URL is the pinned server's directory.urls entry.
func (p *Pinned) URL() string { return p.pc.srv.url }

// Close ends the connection.
func (p *Pinned) Close() error {
	p.pc.c.Close()
	return nil
}

func (p *Pinned) do(ctx context.Context, req *ldapbridge.SearchRequest, fn func([]*ldapbridge.Entry) error, extra ...ldap.Control) error {
	if err := validateRequest(req); err != nil {
		return err
	}
	if p.d.closed.Load() {
		return ErrClosed
	}
	p.d.stats.searches.Add(1)
	p.mu.Lock()
	bad := p.pc.bad
	p.mu.Unlock()
	if bad || p.pc.c.IsClosing() {
		return newKindError(fmt.Sprintf("%s: the connection this sync run is pinned to was lost; rerun the sync", p.pc.srv.name()), nil, ldapbridge.ErrUnavailable)
	}
	pc := &pconn{c: p.pc.c, srv: p.pc.srv}
	err := p.d.searchOn(ctx, pc, req, fn, extra...)
	if pc.bad {
		p.mu.Lock()
		p.pc.bad = true
		p.mu.Unlock()
	}
	return err
}

// Search returns every entry matching req, read from the pinned server.
func (p *Pinned) Search(ctx context.Context, req *ldapbridge.SearchRequest) ([]*ldapbridge.Entry, error) {
	var out []*ldapbridge.Entry
	err := p.SearchPages(ctx, req, func(page []*ldapbridge.Entry) error {
		out = append(out, page...)
		return nil
	})
	return out, err
}

// SearchPages is Dir.SearchPages on the pinned server, without retries.
func (p *Pinned) SearchPages(ctx context.Context, req *ldapbridge.SearchRequest, fn func(page []*ldapbridge.Entry) error) error {
	return p.do(ctx, req, fn)
}

// SearchDeleted is SearchPages with the show-deleted control, so the
// result includes tombstones.
func (p *Pinned) SearchDeleted(ctx context.Context, req *ldapbridge.SearchRequest, fn func(page []*ldapbridge.Entry) error) error {
	return p.do(ctx, req, fn, ldap.NewControlString(ShowDeletedOID, true, ""))
}

// Info reads the pinned server's root DSE (as Dir.Info does).
func (p *Pinned) Info(ctx context.Context) (*ldapbridge.ServerInfo, error) {
	p.d.stats.searches.Add(1)
	pc := &pconn{c: p.pc.c, srv: p.pc.srv}
	return p.d.readInfo(ctx, pc)
}

// InvocationID returns the pinned Active Directory server's invocationId
// (the GUID of its database, read from its NTDS Settings object named by
// the root DSE's dsServiceName), in canonical dashed form. It returns ""
// and no error when the bind account may not read it.
func (p *Pinned) InvocationID(ctx context.Context) (string, error) {
	var svc string
	root := &ldapbridge.SearchRequest{Scope: ldapbridge.ScopeBase, Attributes: []string{"dsServiceName"}}
	if err := p.do(ctx, root, func(page []*ldapbridge.Entry) error {
		svc = page[0].First("dsServiceName")
		return nil
	}); err != nil {
		return "", err
	}
	if svc == "" {
		return "", nil
	}
	var raw []byte
	req := &ldapbridge.SearchRequest{BaseDN: svc, Scope: ldapbridge.ScopeBase, Filter: "(objectClass=*)", Attributes: []string{"invocationId"}, SizeLimit: 1}
	err := p.do(ctx, req, func(page []*ldapbridge.Entry) error {
		if v := page[0].Raw("invocationId"); len(v) > 0 {
			raw = v[0]
		}
		return nil
	})
	if errors.Is(err, ldapbridge.ErrNotFound) || ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return formatGUID(raw), nil
}

// formatGUID renders a 16-byte Active Directory GUID in canonical form,
// whose first three fields are little-endian.
func formatGUID(b []byte) string {
	if len(b) != 16 {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%x-%x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8:10], b[10:])
}

// SearchDeleted is SearchPages with the show-deleted control, on the
// service pool.
func (d *Dir) SearchDeleted(ctx context.Context, req *ldapbridge.SearchRequest, fn func(page []*ldapbridge.Entry) error) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if err := validateRequest(req); err != nil {
		return err
	}
	d.stats.searches.Add(1)
	return d.withConn(ctx, d.svc, func(pc *pconn) error {
		return d.searchOn(ctx, pc, req, fn, ldap.NewControlString(ShowDeletedOID, true, ""))
	})
}
