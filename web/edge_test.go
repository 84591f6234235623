package web

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/config"
)

// edgeConfig is a web configuration with long edge timeouts, for tests to
// shorten the one they exercise.
func edgeConfig() config.Web {
	cfg := defaultWebConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.IdleTimeout = config.Duration(time.Minute)
	cfg.ReadTimeout = config.Duration(time.Minute)
	cfg.WriteTimeout = config.Duration(time.Minute)
	cfg.MaxConnections = 64
	return cfg
}

// serveEdge serves h with NewHTTPServer on a Listen listener on 127.0.0.1,
// as serve and demo do, and returns the address. With a watch, the
// listener is LimitListener over one that counts the sockets it accepted
// and not yet closed, and the watch's ConnState hook is installed first
// (LimitListener must chain it).
func serveEdge(t *testing.T, cfg config.Web, h http.Handler, watch *connWatch) string {
	t.Helper()
	hs := NewHTTPServer(cfg, h)
	var ln net.Listener
	var err error
	if watch == nil {
		ln, err = Listen(cfg, hs)
	} else {
		hs.ConnState = watch.hook
		ln, err = net.Listen("tcp", cfg.Listen)
		if err == nil {
			ln = LimitListener(&countingListener{Listener: ln, w: watch}, hs, cfg.MaxConnections)
		}
	}
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		hs.Close()
		<-done
	})
	return ln.Addr().String()
}

// countingListener counts the server's open sockets into a connWatch.
type countingListener struct {
	net.Listener
	w *connWatch
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.w.mu.Lock()
	l.w.open++
	l.w.maxOpen = max(l.w.maxOpen, l.w.open)
	l.w.mu.Unlock()
	return &countingConn{Conn: c, w: l.w}, nil
}

type countingConn struct {
	net.Conn
	w    *connWatch
	once sync.Once
}

func (c *countingConn) Close() error {
	c.once.Do(func() {
		c.w.mu.Lock()
		c.w.open--
		c.w.mu.Unlock()
	})
	return c.Conn.Close()
}

// rawConn is a client connection driven by hand.
type rawConn struct {
	t *testing.T
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, Conn: c, br: bufio.NewReader(c)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// response reads one response within d and returns its status and body.
func (c *rawConn) response(d time.Duration) (int, string, error) {
	c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// closedByServer waits up to d for the server to close the connection and
// reports whether it did (as opposed to the wait running out).
func (c *rawConn) closedByServer(d time.Duration) (bool, error) {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, err
	}
	return true, err // EOF (io.Copy gives nil) or a reset
}

const getHealthz = "GET /healthz HTTP/1.1\r\nHost: ldapbridge.test\r\n\r\n"

func TestIdleKeepAliveConnectionIsClosedAfterIdleTimeout(t *testing.T) {
	cfg := edgeConfig()
	cfg.IdleTimeout = config.Duration(200 * time.Millisecond)
	f := newFixture(t, cfg, nil)
	c := dialRaw(t, serveEdge(t, cfg, f.srv.Handler(), nil))
	c.send(getHealthz)
	if code, _, err := c.response(10 * time.Second); err != nil || code != http.StatusOK {
		t.Fatalf("GET /healthz: %d %v", code, err)
	}
	// Keep-alive: the connection now waits for a next request that never
	// comes. The server must close it after web.idle_timeout (200ms); the
	// test waits fifty times that.
	if closed, err := c.closedByServer(10 * time.Second); !closed {
		t.Fatalf("an idle keep-alive connection was still open 10s after web.idle_timeout (200ms): %v", err)
	}
}

func TestSlowBodyIsCutAfterReadTimeout(t *testing.T) {
	cfg := edgeConfig()
	cfg.ReadTimeout = config.Duration(300 * time.Millisecond)
	f := newFixture(t, cfg, nil)
	c := dialRaw(t, serveEdge(t, cfg, f.srv.Handler(), nil))
	const size = 10000
	c.send("POST /login HTTP/1.1\r\nHost: ldapbridge.test\r\nSec-Fetch-Site: same-origin\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + fmt.Sprint(size) + "\r\n\r\nusername=")
	// One byte every 20ms: each read is quick, the whole body would take
	// 200s. web.read_timeout bounds the request as a whole.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	sent := 0
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for sent < size-len("username=") {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := c.Conn.Write([]byte("a")); err != nil {
				return
			}
			sent++
		}
	}()
	code, _, err := c.response(10 * time.Second)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a body sent one byte every 20ms was still being read 10s after web.read_timeout (300ms)")
	}
	if err == nil && code != http.StatusBadRequest {
		t.Errorf("status %d for a request cut by read_timeout, want 400", code)
	}
	if closed, err := c.closedByServer(10 * time.Second); !closed {
		t.Errorf("the connection of a cut request stayed open: %v", err)
	}
	close(stop)
	wg.Wait()
	if sent >= size-len("username=") {
		t.Error("the whole slow body was read")
	}
}

func TestOversizedHeadersAreRefused(t *testing.T) {
	cfg := edgeConfig()
	f := newFixture(t, cfg, nil)
	addr := serveEdge(t, cfg, f.srv.Handler(), nil)
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Filler", strings.Repeat("a", 2*MaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a %d KiB header: status %d, want 431", 2*MaxHeaderBytes>>10, resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a normal request after it: status %d", resp.StatusCode)
	}
}

func TestNewHTTPServerSetsEveryEdgeTimeout(t *testing.T) {
	cfg := edgeConfig()
	cfg.IdleTimeout = config.Duration(2 * time.Minute)
	cfg.ReadTimeout = config.Duration(3 * time.Second)
	cfg.WriteTimeout = config.Duration(time.Minute)
	hs := NewHTTPServer(cfg, http.NotFoundHandler())
	if hs.IdleTimeout != 2*time.Minute || hs.ReadTimeout != 3*time.Second || hs.WriteTimeout != time.Minute ||
		hs.ReadHeaderTimeout != 3*time.Second || hs.MaxHeaderBytes != MaxHeaderBytes {
		t.Errorf("server = idle %v read %v header %v write %v max header %d", hs.IdleTimeout, hs.ReadTimeout,
			hs.ReadHeaderTimeout, hs.WriteTimeout, hs.MaxHeaderBytes)
	}
	cfg.ReadTimeout = config.Duration(time.Minute)
	if hs := NewHTTPServer(cfg, http.NotFoundHandler()); hs.ReadHeaderTimeout != maxReadHeaderTimeout {
		t.Errorf("ReadHeaderTimeout with a 1m read_timeout = %v, want %v", hs.ReadHeaderTimeout, maxReadHeaderTimeout)
	}
	cfg.MaxConnections = 0
	if _, err := Listen(cfg, hs); err == nil || !strings.Contains(err.Error(), "web.max_connections") {
		t.Errorf("Listen with max_connections 0: %v, want an error naming web.max_connections", err)
	}
}

// connWatch counts the server's open sockets (see countingListener) and
// is told through ConnState when a request starts.
type connWatch struct {
	mu      sync.Mutex
	open    int
	maxOpen int
	active  chan struct{}
}

func newConnWatch() *connWatch { return &connWatch{active: make(chan struct{}, 1000)} }

func (w *connWatch) hook(_ net.Conn, st http.ConnState) {
	if st == http.StateActive {
		w.active <- struct{}{}
	}
}

func (w *connWatch) waitActive(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-w.active:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d connections became active", i, n)
		}
	}
}

// wantPeakWithinLimit checks that the server never had more sockets open
// than max connections plus the one accepted connection waiting for room.
func (w *connWatch) wantPeakWithinLimit(t *testing.T, max int) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.maxOpen > max+1 {
		t.Errorf("the server had %d client sockets open at once, want at most web.max_connections+1 (%d)", w.maxOpen, max+1)
	}
}

// holdBusy opens a connection whose request body never arrives, so the
// server is busy reading it (not idle) until the client closes it.
func holdBusy(t *testing.T, addr string) *rawConn {
	c := dialRaw(t, addr)
	c.send("POST /login HTTP/1.1\r\nHost: ldapbridge.test\r\nSec-Fetch-Site: same-origin\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nu")
	return c
}

func TestHealthzAnswersOnceABusyConnectionIsReleased(t *testing.T) {
	cfg := edgeConfig()
	cfg.MaxConnections = 4
	f := newFixture(t, cfg, nil)
	watch := newConnWatch()
	addr := serveEdge(t, cfg, f.srv.Handler(), watch)
	var held []*rawConn
	for range cfg.MaxConnections {
		held = append(held, holdBusy(t, addr))
	}
	watch.waitActive(t, cfg.MaxConnections)

	probe := dialRaw(t, addr) // waits: every held connection is busy
	probe.send(getHealthz)
	if code, _, err := probe.response(300 * time.Millisecond); err == nil {
		t.Fatalf("GET /healthz answered %d while web.max_connections (%d) busy connections were held", code, cfg.MaxConnections)
	}
	held[0].Close()
	released := time.Now()
	code, body, err := probe.response(5 * time.Second)
	if err != nil || code != http.StatusOK || body != "ok\n" {
		t.Fatalf("GET /healthz after releasing one connection: %d %q %v", code, body, err)
	}
	if d := time.Since(released); d > time.Second {
		t.Errorf("GET /healthz answered %v after a connection was released, want within a second", d)
	}
	watch.wantPeakWithinLimit(t, cfg.MaxConnections)
}

func TestIdleConnectionsMakeRoomAtTheLimit(t *testing.T) {
	cfg := edgeConfig()
	cfg.MaxConnections = 4
	f := newFixture(t, cfg, nil)
	watch := newConnWatch()
	addr := serveEdge(t, cfg, f.srv.Handler(), watch)
	var idle []*rawConn
	for range cfg.MaxConnections {
		c := dialRaw(t, addr)
		c.send(getHealthz)
		if code, _, err := c.response(10 * time.Second); err != nil || code != http.StatusOK {
			t.Fatalf("GET /healthz: %d %v", code, err)
		}
		idle = append(idle, c) // now an idle keep-alive connection
	}
	// Every slot holds an idle connection (web.idle_timeout is a minute);
	// a new client is still answered, at once.
	for i := range 3 * cfg.MaxConnections {
		probe := dialRaw(t, addr)
		probe.send(getHealthz)
		if code, _, err := probe.response(5 * time.Second); err != nil || code != http.StatusOK {
			t.Fatalf("probe %d: GET /healthz with every slot idle: %d %v", i, code, err)
		}
	}
	// The longest-idle connection made room.
	if closed, err := idle[0].closedByServer(5 * time.Second); !closed {
		t.Errorf("the longest-idle connection is still open: %v", err)
	}
	watch.wantPeakWithinLimit(t, cfg.MaxConnections)
}

func TestExtraConnectionsWaitAndAreServedInTurn(t *testing.T) {
	cfg := edgeConfig()
	cfg.MaxConnections = 4
	f := newFixture(t, cfg, nil)
	watch := newConnWatch()
	addr := serveEdge(t, cfg, f.srv.Handler(), watch)
	fds0 := openFiles()
	var held []*rawConn
	for range cfg.MaxConnections {
		held = append(held, holdBusy(t, addr))
	}
	watch.waitActive(t, cfg.MaxConnections)
	const extra = 40
	var waiting []*rawConn
	for range extra {
		c := dialRaw(t, addr)
		c.send(getHealthz)
		waiting = append(waiting, c)
	}
	// The extra connections wait in the kernel's listen queue: this
	// process holds its own client sockets and at most max_connections+1
	// server sockets, not one per client.
	if fds0 >= 0 {
		clients := cfg.MaxConnections + extra
		if grew := openFiles() - fds0; grew > clients+cfg.MaxConnections+1+8 {
			t.Errorf("open files grew by %d for %d client connections, want at most %d (clients + max_connections + 1 + slack)",
				grew, clients, clients+cfg.MaxConnections+1+8)
		}
	}
	for _, c := range held {
		c.Close()
	}
	for i, c := range waiting {
		if code, _, err := c.response(10 * time.Second); err != nil || code != http.StatusOK {
			t.Fatalf("waiting connection %d: %d %v", i, code, err)
		}
	}
	watch.wantPeakWithinLimit(t, cfg.MaxConnections)
}

// openFiles counts this process's open file descriptors, or -1 where
// /proc/self/fd does not exist.
func openFiles() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(es)
}
