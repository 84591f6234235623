// Package demodir is an embedded LDAP server holding a JumpCloud-shaped demo
// organisation: people with profiles and photos, groupOfNames groups (one
// nested pair) and a service account. It speaks real LDAP on a TCP port, so
// login and sync run against it exactly as against a real directory: simple
// binds, filters, scopes, requested attributes, size limits and the paged
// results control.
package demodir

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
)

// Server is a running demo directory. It is safe for concurrent use.
type Server struct {
	srv  *gldap.Server
	addr string // host:port actually listened on
	tree *tree

	mu        sync.Mutex
	bound     map[int]string     // connection ID → normalized bound DN; "" = anonymous
	paging    map[int]*pageState // connection ID → the connection's paged search in progress
	sizeLimit int                // server-wide cap on plain (unpaged) searches; 0 = none

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

// Start listens on addr (host:port; port 0 picks a free port) and serves the
// demo organisation until Close is called or ctx is cancelled.
func Start(ctx context.Context, addr string) (*Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("demodir: listen address %q: %w (want host:port, e.g. 127.0.0.1:0)", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	t, err := newDemoTree()
	if err != nil {
		return nil, fmt.Errorf("demodir: build demo data: %w", err)
	}
	s := &Server{
		tree:   t,
		bound:  map[int]string{},
		paging: map[int]*pageState{},
		closed: make(chan struct{}),
	}
	attempts := 1
	if port == "0" {
		attempts = 5
	}
	for i := 0; ; i++ {
		err = s.listen(ctx, host, port)
		if err == nil || i+1 >= attempts || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.closed:
		}
	}()
	return s, nil
}

// listen starts one gldap server on host:port. gldap cannot listen on a
// caller-supplied listener nor report the port it bound, so for port 0 a free
// port is found first and handed to gldap; the tiny race this leaves is
// covered by Start retrying.
func (s *Server) listen(ctx context.Context, host, port string) error {
	if port == "0" {
		p, err := freePort(host)
		if err != nil {
			return err
		}
		port = p
	}
	addr := net.JoinHostPort(host, port)
	srv, err := gldap.NewServer(
		gldap.WithLogger(hclog.NewNullLogger()),
		gldap.WithOnClose(s.connClosed),
	)
	if err != nil {
		return fmt.Errorf("demodir: new gldap server: %w", err)
	}
	mux, err := s.router()
	if err != nil {
		return err
	}
	if err := srv.Router(mux); err != nil {
		return fmt.Errorf("demodir: set router: %w", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(addr) }()

	deadline := time.Now().Add(5 * time.Second)
	for !srv.Ready() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = srv.Stop()
			return fmt.Errorf("demodir: listen on %s: server did not become ready", addr)
		}
		time.Sleep(time.Millisecond)
	}
	// gldap marks itself ready even when net.Listen failed and Run returns
	// the error right after; give it that moment, then prove the port answers.
	select {
	case err := <-runErr:
		_ = srv.Stop()
		return fmt.Errorf("demodir: listen on %s: %w", addr, err)
	case <-time.After(5 * time.Millisecond):
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		_ = srv.Stop()
		return fmt.Errorf("demodir: listen on %s: %w", addr, err)
	}
	_ = c.Close()
	s.srv = srv
	s.addr = addr
	return nil
}

func freePort(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("demodir: find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// URL is the server's address as an ldap:// URL, e.g. ldap://127.0.0.1:38421.
func (s *Server) URL() string {
	host, port, _ := net.SplitHostPort(s.addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "ldap://" + net.JoinHostPort(host, port)
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// Close stops the server and closes every client connection. It is safe to
// call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.closeErr = s.srv.Stop()
	})
	return s.closeErr
}

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
