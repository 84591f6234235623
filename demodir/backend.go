package demodir

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
)

// backend is the gldap server behind the relay, on a private loopback port.
type backend struct {
	srv  *gldap.Server
	addr string

	mu   sync.Mutex
	open int // connections dialed whose gldap close callback has not run yet
}

// startBackend runs gldap on a free loopback port. gldap only takes an
// address, so the port is found first and handed over; if something else
// takes it in between, the probe fails and another port is tried.
func startBackend(ctx context.Context, s *Server) (*backend, error) {
	var lastErr error
	for range 5 {
		b := &backend{}
		if lastErr = b.start(ctx, s); lastErr == nil {
			return b, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func (b *backend) start(ctx context.Context, s *Server) error {
	port, err := freeLoopbackPort()
	if err != nil {
		return err
	}
	b.addr = net.JoinHostPort("127.0.0.1", port)
	srv, err := gldap.NewServer(
		gldap.WithLogger(hclog.NewNullLogger()),
		gldap.WithOnClose(func(connID int) {
			s.connClosed(connID)
			b.mu.Lock()
			b.open--
			b.mu.Unlock()
		}),
	)
	if err != nil {
		return fmt.Errorf("demodir: new gldap server: %w", err)
	}
	mux, err := s.router()
	if err != nil {
		return err
	}
	if err := srv.Router(mux); err != nil {
		return fmt.Errorf("demodir: set gldap router: %w", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(b.addr) }()
	b.srv = srv

	deadline := time.Now().Add(5 * time.Second)
	for !srv.Ready() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = b.stop()
			return fmt.Errorf("demodir: gldap on %s did not become ready", b.addr)
		}
		time.Sleep(time.Millisecond)
	}
	// gldap reports ready even when its net.Listen failed; Run then returns
	// the error at once.
	select {
	case err := <-runErr:
		_ = b.stop()
		return fmt.Errorf("demodir: gldap listen on %s: %w", b.addr, err)
	case <-time.After(2 * time.Millisecond):
	}
	return b.probe()
}

// probe opens and closes one connection and waits for gldap's close
// callback, which proves the port is served by this gldap.
func (b *backend) probe() error {
	c, err := b.dial()
	if err != nil {
		_ = b.stop()
		return err
	}
	_ = c.Close()
	if !b.waitIdle(2 * time.Second) {
		_ = b.stop()
		return fmt.Errorf("demodir: %s answers, but not as this server's gldap", b.addr)
	}
	return nil
}

func (b *backend) dial() (net.Conn, error) {
	b.mu.Lock()
	b.open++
	b.mu.Unlock()
	c, err := net.DialTimeout("tcp", b.addr, 5*time.Second)
	if err != nil {
		b.mu.Lock()
		b.open--
		b.mu.Unlock()
		return nil, fmt.Errorf("demodir: connect to gldap on %s: %w", b.addr, err)
	}
	return c, nil
}

// waitIdle waits until every dialed connection has been closed on the gldap
// side, or the timeout passes.
func (b *backend) waitIdle(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		b.mu.Lock()
		open := b.open
		b.mu.Unlock()
		if open <= 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// stop waits for gldap to finish with every relayed connection (so no
// accept races its shutdown), then stops it.
func (b *backend) stop() error {
	b.waitIdle(2 * time.Second)
	if err := b.srv.Stop(); err != nil {
		return fmt.Errorf("demodir: stop gldap: %w", err)
	}
	return nil
}

func freeLoopbackPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demodir: find a free loopback port: %w", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}
