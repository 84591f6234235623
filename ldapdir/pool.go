package ldapdir

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-ldap/ldap/v3"
)

// pconn is a pooled connection and what the last operation learnt about it.
type pconn struct {
	c   *ldap.Conn
	srv *server
	// bad: discard instead of returning to the pool.
	bad bool
	// retry: the operation failed in a way a fresh connection may cure, and
	// nothing was handed to the caller yet.
	retry bool
}

// pool holds up to size connections. sem counts the connections handed
// out; a new one is dialled only when none is idle, so in-use plus idle
// stays within size.
type pool struct {
	d           *Dir
	name        string
	bindService bool
	sem         chan struct{}

	mu     sync.Mutex
	idle   []*pconn
	closed bool
}

func newPool(d *Dir, name string, size int, bindService bool) *pool {
	return &pool{d: d, name: name, bindService: bindService, sem: make(chan struct{}, size)}
}

// get returns a connection: an idle one unless fresh, else a newly dialled
// (and, for the service pool, bound) one. It waits for a free slot within ctx.
func (p *pool) get(ctx context.Context, fresh bool) (*pconn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free %s connection (directory.pool_size): %w", p.name, ctx.Err())
	}
	if !fresh {
		if pc := p.popIdle(); pc != nil {
			pc.bad, pc.retry = false, false
			return pc, nil
		}
	}
	c, s, err := p.d.dialAny(ctx)
	if err != nil {
		<-p.sem
		return nil, err
	}
	if p.bindService {
		if err := p.d.serviceBind(ctx, c, s); err != nil {
			c.Close()
			<-p.sem
			return nil, err
		}
	}
	return &pconn{c: c, srv: s}, nil
}

// popIdle returns the most recently used live idle connection. It drops
// connections go-ldap has closed and connections to a lower-priority server
// when a higher one is up again (fail back).
func (p *pool) popIdle() *pconn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		pc := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if !pc.c.IsClosing() && !p.d.preferredUp(pc.srv) {
			return pc
		}
		pc.c.Close()
	}
}

// preferredUp reports whether a server listed before s is up.
func (d *Dir) preferredUp(s *server) bool {
	for _, o := range d.servers[:s.index] {
		if !o.isDown() {
			return true
		}
	}
	return false
}

// put returns a connection to the pool, or closes it when it is broken.
func (p *pool) put(pc *pconn) {
	defer func() { <-p.sem }()
	p.mu.Lock()
	if !p.closed && !pc.bad && !pc.c.IsClosing() && len(p.idle) < cap(p.sem) {
		p.idle = append(p.idle, pc)
		p.mu.Unlock()
		return
	}
	closed := p.closed
	p.mu.Unlock()
	if closed && !pc.bad && pc.c.Unbind() == nil {
		return // the Dir closed while pc was in use: end its session too
	}
	pc.c.Close()
}

func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	p.mu.Unlock()
	for _, pc := range idle {
		// UNBIND tells the server the session ends (RFC 4511 §4.3), so it
		// does not log a dropped connection; Unbind closes the connection.
		if pc.c.Unbind() != nil {
			pc.c.Close()
		}
	}
}

func (p *pool) counts() (inUse, idle int) {
	p.mu.Lock()
	idle = len(p.idle)
	p.mu.Unlock()
	return len(p.sem), idle
}
