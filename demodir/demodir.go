// Package demodir is an embedded LDAP server holding a JumpCloud-shaped demo
// organisation: people with profiles and photos, groupOfNames groups (one
// nested pair) and a service account. It speaks real LDAP on a TCP port, so
// login and sync run against it exactly as against a real directory: simple
// binds, filters, scopes, requested attributes, size limits and the paged
// results control.
//
// demodir must not import the product's packages beyond the root package:
// it stands in for a real directory.
package demodir

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Server is a running demo directory. It is safe for concurrent use.
//
// Clients connect to a listener the Server owns, which relays each
// connection to a gldap server on an internal loopback port. gldap v0.1.14
// cannot serve a caller's listener, report its port, or end idle connections
// when stopped; the relay gives port 0 support, a Close that never waits on an
// idle client, and no connection being accepted while gldap stops.
type Server struct {
	ln      net.Listener
	backend *backend
	tree    *tree

	mu        sync.Mutex
	bound     map[int]string     // gldap connection ID → normalized bound DN
	paging    map[int]*pageState // gldap connection ID → its paged search in progress
	sizeLimit int                // server-wide cap on plain (unpaged) searches; 0 = none
	conns     map[net.Conn]struct{}
	relays    sync.WaitGroup

	closeOnce sync.Once
	closed    chan struct{} // closed when Close starts
	stopped   chan struct{} // closed when the server has stopped
	closeErr  error
}

// Start listens on addr (host:port; port 0 picks a free port) and serves the
// demo organisation until Close is called or ctx is cancelled.
func Start(ctx context.Context, addr string) (*Server, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("demodir: listen address %q: %w (want host:port, e.g. 127.0.0.1:0)", addr, err)
	}
	t, err := newDemoTree()
	if err != nil {
		return nil, fmt.Errorf("demodir: build demo data: %w", err)
	}
	s := &Server{
		tree:    t,
		bound:   map[int]string{},
		paging:  map[int]*pageState{},
		conns:   map[net.Conn]struct{}{},
		closed:  make(chan struct{}),
		stopped: make(chan struct{}),
	}
	var lc net.ListenConfig
	s.ln, err = lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demodir: listen on %s: %w", addr, err)
	}
	if s.backend, err = startBackend(ctx, s); err != nil {
		_ = s.ln.Close()
		return nil, err
	}
	s.relays.Add(1)
	go s.accept()
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.closed:
		}
	}()
	return s, nil
}

func (s *Server) accept() {
	defer s.relays.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		s.relays.Add(1)
		go func() {
			defer s.relays.Done()
			s.relay(c)
		}()
	}
}

// relay copies bytes between a client and a new gldap connection until
// either side closes.
func (s *Server) relay(client net.Conn) {
	if !s.track(client) {
		_ = client.Close()
		return
	}
	defer s.untrack(client)
	back, err := s.backend.dial()
	if err != nil {
		_ = client.Close()
		return
	}
	if !s.track(back) {
		_ = back.Close()
		_ = client.Close()
		return
	}
	defer s.untrack(back)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32*1024)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	go pipe(back, client)
	go pipe(client, back)
	<-done
	_ = client.Close()
	_ = back.Close()
	<-done
}

// track registers a connection for Close, refusing once Close has begun.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return false
	default:
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	_ = c.Close()
}

// URL is the server's address as an ldap:// URL, e.g. ldap://127.0.0.1:38421.
func (s *Server) URL() string {
	host, port, _ := net.SplitHostPort(s.Addr())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "ldap://" + net.JoinHostPort(host, port)
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server: it stops accepting, closes every client
// connection, then stops the LDAP engine. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.closed)
		err := s.ln.Close()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.relays.Wait()
		s.closeErr = errors.Join(err, s.backend.stop())
		close(s.stopped)
	})
	<-s.stopped
	return s.closeErr
}

// Done is closed once the server has stopped, by Close or by the
// cancellation of the context given to Start.
func (s *Server) Done() <-chan struct{} { return s.stopped }

// SetSizeLimit sets a server-wide cap on the entries a plain (unpaged) search
// returns, like slapd's sizelimit; paged searches are not capped. 0 removes it.
func (s *Server) SetSizeLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sizeLimit = n
}

func (s *Server) connClosed(connID int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.bound, connID)
	delete(s.paging, connID)
}

// ErrNoSuchEntry is returned by the modification methods for a DN that is not
// in the directory.
var ErrNoSuchEntry = errors.New("no such entry")
