package web

import (
	"container/list"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ldapbridge/ldapbridge/config"
)

// MaxHeaderBytes is the most a request's line and headers may take; a
// larger request is answered 431 Request Header Fields Too Large.
const MaxHeaderBytes = 64 << 10

// maxReadHeaderTimeout bounds reading a request's headers when
// web.read_timeout is longer.
const maxReadHeaderTimeout = 10 * time.Second

// NewHTTPServer returns the *http.Server that serves h on the edge configured
// by cfg: web.read_timeout bounds reading each whole request (headers and
// body), web.write_timeout each response, web.idle_timeout how long a
// keep-alive connection may wait for its next request, and headers are at
// most MaxHeaderBytes. Serve it on a listener from Listen, which enforces
// web.max_connections.
func NewHTTPServer(cfg config.Web, h http.Handler) *http.Server {
	read := cfg.ReadTimeout.D()
	header := maxReadHeaderTimeout
	if read > 0 && read < header {
		header = read
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: header,
		ReadTimeout:       read,
		WriteTimeout:      cfg.WriteTimeout.D(),
		IdleTimeout:       cfg.IdleTimeout.D(),
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// Listen opens a TCP listener on web.listen for hs that holds at most
// web.max_connections client connections open at once, and installs a
// ConnState hook on hs to follow them (chaining any hook already set).
// Serve hs on the returned listener.
//
// At the limit, a new connection makes room by closing the connection that
// has been idle longest — a keep-alive connection waiting for its next
// request, or failing that the oldest one that has not sent a complete
// request header within a second of opening — so clients holding idle
// connections cannot lock others out.
// When every held connection is busy with a request, Listen's listener
// stops accepting: further connections wait in the kernel's listen queue
// (its length is net.core.somaxconn) and are accepted in order as held
// ones close; once that queue is full the kernel drops new connection
// attempts, which clients retry and eventually time out. The process holds
// at most max_connections+1 client sockets, so it cannot run out of file
// descriptors however many connections clients open.
func Listen(cfg config.Web, hs *http.Server) (net.Listener, error) {
	if cfg.MaxConnections < 1 {
		return nil, fmt.Errorf("web.max_connections is %d — set it to at least 1 (the default is 1024)", cfg.MaxConnections)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, err
	}
	return LimitListener(ln, hs, cfg.MaxConnections), nil
}

// newConnGrace is how long a new connection may take to send its first
// request header before, at the limit, it counts as idle and can be closed
// to make room.
const newConnGrace = time.Second

// evictPoll is how often an Accept waiting for room looks again for an
// idle connection to close.
const evictPoll = 100 * time.Millisecond

// LimitListener wraps ln so that at most max connections accepted from it
// are open at once, following their state through hs.ConnState; see Listen
// for the behaviour at the limit. It panics if max < 1.
func LimitListener(ln net.Listener, hs *http.Server, max int) net.Listener {
	if max < 1 {
		panic("web.LimitListener: max must be at least 1")
	}
	l := &limitListener{Listener: ln, slots: make(chan struct{}, max), done: make(chan struct{}),
		conns: map[net.Conn]*limitConn{}, idle: list.New(), now: time.Now}
	next := hs.ConnState
	hs.ConnState = func(c net.Conn, st http.ConnState) {
		l.connState(c, st)
		if next != nil {
			next(c, st)
		}
	}
	return l
}

type limitListener struct {
	net.Listener
	slots chan struct{} // one token per open connection
	done  chan struct{}
	once  sync.Once
	now   func() time.Time

	mu    sync.Mutex
	conns map[net.Conn]*limitConn
	// idle holds the connections that may be closed to make room, in the
	// order they became idle (front: longest idle). New connections enter
	// it once they have stayed silent for newConnGrace.
	idle *list.List
}

// Accept waits for a connection and for room to hold it.
func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if err := l.acquire(); err != nil {
		c.Close()
		return nil, err
	}
	lc := &limitConn{Conn: c, l: l, state: http.StateNew, since: l.now()}
	l.mu.Lock()
	l.conns[lc] = lc
	l.mu.Unlock()
	return lc, nil
}

// acquire takes a slot, closing idle connections to make one when full.
func (l *limitListener) acquire() error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTicker(evictPoll)
	defer t.Stop()
	for {
		l.evictOne()
		select {
		case l.slots <- struct{}{}:
			return nil
		case <-l.done:
			return net.ErrClosed
		case <-t.C:
		}
	}
}

// evictOne closes the connection idle longest, if any may be closed.
func (l *limitListener) evictOne() {
	l.mu.Lock()
	now := l.now()
	var victim *limitConn
	if e := l.idle.Front(); e != nil {
		victim = e.Value.(*limitConn)
	} else {
		// No keep-alive connection is idle: take the oldest connection
		// that has not sent a whole request header within newConnGrace.
		for _, c := range l.conns {
			if c.state == http.StateNew && now.Sub(c.since) >= newConnGrace &&
				(victim == nil || c.since.Before(victim.since)) {
				victim = c
			}
		}
	}
	if victim != nil {
		l.forgetLocked(victim)
	}
	l.mu.Unlock()
	if victim != nil {
		victim.Close()
	}
}

// connState follows the server's view of each connection.
func (l *limitListener) connState(nc net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.conns[nc]
	if !ok {
		return
	}
	switch st {
	case http.StateIdle:
		c.state, c.since = st, l.now()
		if c.elem == nil {
			c.elem = l.idle.PushBack(c)
		}
	case http.StateActive:
		c.state = st
		if c.elem != nil {
			l.idle.Remove(c.elem)
			c.elem = nil
		}
	case http.StateHijacked, http.StateClosed:
		// A hijacked connection is the handler's now; it keeps its slot
		// until closed, but is never evicted.
		if c.elem != nil {
			l.idle.Remove(c.elem)
			c.elem = nil
		}
		c.state = st
		if st == http.StateClosed {
			delete(l.conns, c)
		}
	}
}

// forgetLocked stops tracking c; l.mu is held.
func (l *limitListener) forgetLocked(c *limitConn) {
	if c.elem != nil {
		l.idle.Remove(c.elem)
		c.elem = nil
	}
	delete(l.conns, c)
}

// Close stops accepting, including an Accept waiting for room.
func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn is a held connection; closing it frees its slot once.
type limitConn struct {
	net.Conn
	l         *limitListener
	closeOnce sync.Once

	// Guarded by l.mu.
	state http.ConnState
	since time.Time // opened, or became idle
	elem  *list.Element
}

// Close closes the connection and frees its slot.
func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.l.mu.Lock()
		c.l.forgetLocked(c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}
