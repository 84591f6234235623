// Package ldapdir is the LDAP implementation of ldapbridge.Directory: dial
// with failover, LDAPS or StartTLS, a pool of service-account connections,
// a separate pool for credential checks, page-at-a-time searches, and errors
// that name the configuration key to fix.
//
// Referrals are never followed: a referral makes the read fail with
// ldapbridge.ErrIncomplete, so a sync never mistakes it for a complete read.
//
// ldapdir must not import a store driver, auth, dirsync or web: it
// implements the root package's Directory and its capabilities.
package ldapdir

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
)

// Defaults applied when the configuration leaves a value at zero.
const (
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultPageSize       = 500
	DefaultPoolSize       = 4
	DefaultProbeInterval  = 10 * time.Second
)

// Observer receives one call per LDAP operation (dial, bind, search page,
// check_password), e.g. to feed metrics. It must be safe for concurrent use.
type Observer interface {
	ObserveOp(op, url string, d time.Duration, err error)
}

// Options tune a Dir beyond the configuration file.
type Options struct {
	// Logger receives warnings and server up/down changes; nil means slog.Default().
	Logger *slog.Logger
	// Observer, when set, sees every operation.
	Observer Observer
	// ProbeInterval is how often a server marked down is re-dialled (default 10s).
	ProbeInterval time.Duration
}

// Dir is an LDAP directory. It is safe for concurrent use.
type Dir struct {
	cfg            config.Directory
	bindPassword   string
	dialTimeout    time.Duration
	requestTimeout time.Duration
	pageSize       int
	log            *slog.Logger
	obs            Observer
	servers        []*server
	svc            *pool
	auth           *pool
	stats          counters

	closed atomic.Bool
	// ad is set when the flavor is (or was detected as) active_directory;
	// searches then carry the domain-scope control.
	ad        atomic.Bool
	stopProbe chan struct{}
	probeDone chan struct{}
	closeOnce sync.Once
}

var _ ldapbridge.Directory = (*Dir)(nil)

// server is one of directory.urls with its up/down state.
type server struct {
	index    int
	url      string
	scheme   string
	hostPort string
	tls      *tls.Config

	mu         sync.Mutex
	down       bool
	lastErr    string
	lastChange time.Time
}

func (s *server) host() string {
	h, _, _ := net.SplitHostPort(s.hostPort)
	return h
}

func (s *server) name() string { return fmt.Sprintf("directory.urls[%d]", s.index) }

func (s *server) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

// mark records a dial outcome and reports whether the state changed.
func (s *server) mark(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	down := err != nil
	changed := down != s.down
	if changed {
		s.lastChange = time.Now()
	}
	s.down = down
	if err != nil {
		s.lastErr = err.Error()
	}
	return changed
}

// Open validates the configuration and loads the TLS material. It does not
// contact any server: connections are dialled on first use.
func Open(ctx context.Context, cfg config.Directory, opts Options) (*Dir, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.BindAsUser && strings.Contains(cfg.BindDN, "{username}") {
		// bind_dn is then the template of each user's bind name, not a
		// service account: searches outside a user's session run anonymously.
		cfg.BindDN, cfg.BindPassword, cfg.BindPasswordFile = "", "", ""
	}
	d := &Dir{
		cfg:            cfg,
		bindPassword:   cfg.BindPassword.Reveal(),
		dialTimeout:    orDuration(cfg.DialTimeout.D(), DefaultDialTimeout),
		requestTimeout: orDuration(cfg.RequestTimeout.D(), DefaultRequestTimeout),
		pageSize:       cfg.PageSize,
		log:            opts.Logger,
		obs:            opts.Observer,
		stopProbe:      make(chan struct{}),
		probeDone:      make(chan struct{}),
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.pageSize <= 0 {
		d.pageSize = DefaultPageSize
	}
	d.ad.Store(cfg.Flavor == ldapbridge.FlavorActiveDirectory)
	if err := d.loadBindPassword(); err != nil {
		return nil, err
	}
	base, err := buildTLSConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	if len(cfg.URLs) == 0 {
		return nil, errors.New("directory.urls: empty — list at least one ldap:// or ldaps:// URL")
	}
	for i, raw := range cfg.URLs {
		s, err := parseServer(i, raw, cfg.StartTLS)
		if err != nil {
			return nil, err
		}
		s.tls = serverTLS(base, cfg.TLS.ServerName, s.host())
		d.servers = append(d.servers, s)
	}
	if cfg.TLS.InsecureSkipVerify {
		d.log.Warn("directory.tls.insecure_skip_verify is set: the directory's certificate is NOT verified and anyone on the network path can read passwords — set directory.tls.ca_file instead")
	}
	poolSize := cfg.PoolSize
	if poolSize <= 0 {
		poolSize = DefaultPoolSize
	}
	d.svc = newPool(d, "service", poolSize, true)
	d.auth = newPool(d, "auth", max(2, poolSize/2), false)
	interval := opts.ProbeInterval
	if interval <= 0 {
		interval = DefaultProbeInterval
	}
	go d.probeLoop(interval)
	return d, nil
}

func (d *Dir) loadBindPassword() error {
	if d.bindPassword == "" && d.cfg.BindPasswordFile != "" {
		b, err := os.ReadFile(d.cfg.BindPasswordFile)
		if err != nil {
			return fmt.Errorf("directory.bind_password_file: %w", err)
		}
		d.bindPassword = strings.TrimRight(string(b), "\r\n")
	}
	if d.cfg.BindDN != "" && d.bindPassword == "" {
		return errors.New("directory.bind_password: empty while directory.bind_dn is set — set directory.bind_password or directory.bind_password_file (an empty password is an unauthenticated bind)")
	}
	return nil
}

func parseServer(i int, raw string, startTLS bool) (*server, error) {
	key := fmt.Sprintf("directory.urls[%d]", i)
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: %q has no host — write ldap://HOST:389 or ldaps://HOST:636", key, raw)
	}
	s := &server{index: i, url: raw, scheme: strings.ToLower(u.Scheme)}
	port := u.Port()
	switch s.scheme {
	case "ldap":
		if port == "" {
			port = "389"
		}
	case "ldaps":
		if port == "" {
			port = "636"
		}
		if startTLS {
			return nil, fmt.Errorf("%s: %s is already TLS — directory.start_tls must be false with ldaps://", key, raw)
		}
	default:
		return nil, fmt.Errorf("%s: scheme %q is not supported — use ldap:// or ldaps://", key, u.Scheme)
	}
	s.hostPort = net.JoinHostPort(u.Hostname(), port)
	return s, nil
}

func orDuration(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// probeLoop re-dials servers marked down until Close.
func (d *Dir) probeLoop(interval time.Duration) {
	defer close(d.probeDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.stopProbe:
			return
		case <-t.C:
			for _, s := range d.servers {
				if s.isDown() {
					d.probe(s)
				}
			}
		}
	}
}

func (d *Dir) probe(s *server) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-d.stopProbe:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := d.dialServer(ctx, s)
	if err == nil {
		c.Close()
	}
	d.markServer(s, err)
}

func (d *Dir) markServer(s *server, err error) {
	if !s.mark(err) {
		return
	}
	if err != nil {
		d.log.Warn("directory server down", "url", s.url, "index", s.index, "error", err.Error())
	} else {
		d.log.Info("directory server up", "url", s.url, "index", s.index)
	}
}

// Close stops the background probe and closes every connection. Calls made
// afterwards return ErrClosed.
func (d *Dir) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		close(d.stopProbe)
		<-d.probeDone
		d.svc.close()
		d.auth.close()
	})
	return nil
}

// URLHealth is the state of one configured server, for an admin page.
type URLHealth struct {
	Index      int       `json:"index"`
	URL        string    `json:"url"`
	Up         bool      `json:"up"`
	LastError  string    `json:"last_error,omitempty"`
	LastChange time.Time `json:"last_change"`
}

// Health reports every configured server's up/down state as last observed.
func (d *Dir) Health() []URLHealth {
	out := make([]URLHealth, len(d.servers))
	for i, s := range d.servers {
		s.mu.Lock()
		out[i] = URLHealth{Index: s.index, URL: s.url, Up: !s.down, LastError: s.lastErr, LastChange: s.lastChange}
		s.mu.Unlock()
	}
	return out
}

// Stats are cumulative operation counts since Open, plus current pool use.
type Stats struct {
	Dials       int64 `json:"dials"`
	DialErrors  int64 `json:"dial_errors"`
	Binds       int64 `json:"binds"`
	Searches    int64 `json:"searches"`
	SearchPages int64 `json:"search_pages"`
	Entries     int64 `json:"entries"`
	Retries     int64 `json:"retries"`
	Errors      int64 `json:"errors"`

	ServiceInUse int `json:"service_in_use"`
	ServiceIdle  int `json:"service_idle"`
	AuthInUse    int `json:"auth_in_use"`
	AuthIdle     int `json:"auth_idle"`
}

type counters struct {
	dials, dialErrors, binds, searches, pages, entries, retries, errors atomic.Int64
}

// Stats returns the operation counters and pool use.
func (d *Dir) Stats() Stats {
	st := Stats{
		Dials:       d.stats.dials.Load(),
		DialErrors:  d.stats.dialErrors.Load(),
		Binds:       d.stats.binds.Load(),
		Searches:    d.stats.searches.Load(),
		SearchPages: d.stats.pages.Load(),
		Entries:     d.stats.entries.Load(),
		Retries:     d.stats.retries.Load(),
		Errors:      d.stats.errors.Load(),
	}
	st.ServiceInUse, st.ServiceIdle = d.svc.counts()
	st.AuthInUse, st.AuthIdle = d.auth.counts()
	return st
}

func (d *Dir) observe(op, url string, start time.Time, err error) {
	if err != nil {
		d.stats.errors.Add(1)
	}
	if d.obs != nil {
		d.obs.ObserveOp(op, url, time.Since(start), err)
	}
}
