// Package web is the ldapbridge web app: sign-in, profile and admin pages,
// a JSON API, health and metrics endpoints, and middleware that lets any Go
// application protect its own handlers with the same sessions.
//
// Sessions hold only the user's store ID. Every request that carries a
// session re-loads the user from the Store by that ID, and a user who was
// deleted, or whose stored admission verdict no longer admits them
// (inactive, removed from the directory, or refused by access.require or
// access.deny at the last login or sync, on any instance), is signed out on
// that very request: this is the revocation mechanism, and it needs no
// session bookkeeping in the sync engine.
//
// Cross-site request forgery is stopped by http.CrossOriginProtection on
// every handler (Sec-Fetch-Site, else Origin against Host) together with
// SameSite=Lax session cookies. There is no per-session form token: every
// browser that can run the app sends one of those headers on a POST, the
// check also refuses same-site sibling origins, and a token would add
// session state for no protection the headers do not already give.
//
// Sign-in is rate limited per username (attempts since the last successful
// sign-in) and per client address (every attempt), from
// web.login_rate_limit; see RateLimiter. The per-username count is keyed on
// the name's canonical form, which folds every spelling a directory matches
// as one name (case, spaces, fullwidth forms), and on the account the
// sign-in reached, so no spelling gets attempts of its own. A username
// longer than MaxUsernameLength never reaches the authenticator or the
// directory, and this package's log lines show at most 64 characters of
// a username.
//
// The HTTP edge — timeouts, header size and the connection limit — is set
// up by NewHTTPServer and Listen. Responses over HTTPS carry
// Strict-Transport-Security.
//
// Metrics stay outside this package, which must not import Prometheus, so
// a program that embeds the middleware does not pull in the metrics stack:
// the app counts sign-ins into Deps.Metrics (the small Metrics interface,
// which *metrics.Metrics implements) and serves Deps.MetricsHandler, when
// set, on /metrics — public unless web.metrics_token is set. The
// ldapbridge binary passes both, built on one Prometheus registry.
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
)

// ErrSyncRunning is StartSync's answer while a sync is running.
var ErrSyncRunning = errors.New("a sync is already running")

// Authenticator runs one sign-in; *auth.Authenticator implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (*auth.Result, error)
}

// PasswordChanger changes a user's password in the directory and signs
// the user in with the new one; *auth.Authenticator implements it.
type PasswordChanger interface {
	ChangePassword(ctx context.Context, username, oldPassword, newPassword string) (*auth.Result, error)
}

// Explainer shows how the login policy sees a user; *auth.Authenticator
// implements it.
type Explainer interface {
	Explain(ctx context.Context, username string) (*auth.Explanation, error)
}

// Metrics is what the web app counts: each sign-in's outcome and how long
// it took, and each sign-in refused by a rate limit. *metrics.Metrics
// implements it; both methods must be safe for concurrent use.
type Metrics interface {
	// ObserveLogin counts one sign-in attempt: directory is the one that
	// decided it ("" when none did), outcome an auth.Outcome or "error".
	ObserveLogin(directory, outcome string, d time.Duration)
	// ObserveRateLimited counts one sign-in refused by the limit named
	// "user" or "ip".
	ObserveRateLimited(limit string)
}

// noMetrics counts nothing; it stands in when Deps.Metrics is nil.
type noMetrics struct{}

func (noMetrics) ObserveLogin(string, string, time.Duration) {}
func (noMetrics) ObserveRateLimited(string)                  {}

// DirectoryHealth is the state of one configured directory server, shown on
// the admin page.
type DirectoryHealth struct {
	// Directory names the directory of the server (config directories:);
	// "" with one directory.
	Directory string `json:"directory,omitempty"`
	URL       string `json:"url"`
	Up        bool   `json:"up"`
	// Flavor and TLS describe the server as its root DSE and connection
	// last showed; "" when unknown (TLS "" also means plain LDAP).
	Flavor     string    `json:"flavor,omitempty"`
	TLS        string    `json:"tls,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	LastChange time.Time `json:"last_change"`
}

// SyncRun is one past sync run, shown on the admin page.
type SyncRun struct {
	// ID is the run's id in the history (its page: /admin/sync/runs/ID).
	ID          int64          `json:"id,omitempty"`
	StartedAt   time.Time      `json:"started_at"`
	Duration    time.Duration  `json:"duration"`
	Mode        string         `json:"mode"` // full or incremental
	Aborted     bool           `json:"aborted"`
	AbortReason string         `json:"abort_reason,omitempty"`
	Counts      map[string]int `json:"counts"` // keyed like `sync --json`
	// Outcome is the stored outcome (ok, aborted, cancelled, failed,
	// dry_run); "" reads as Aborted says.
	Outcome string `json:"outcome,omitempty"`
	// Running: the run has not finished (no duration yet).
	Running bool `json:"running,omitempty"`
	// Instance names the ldapbridge process that ran it and Server the
	// directory it read; StartedBy says who or what started it (the
	// schedule, an admin, the CLI), "" when that was not recorded.
	Instance  string `json:"instance,omitempty"`
	Server    string `json:"server,omitempty"`
	StartedBy string `json:"started_by,omitempty"`
	// Directory names the directory the run read (config directories:);
	// "" with a single directory.
	Directory string `json:"directory,omitempty"`
}

// Deps are the collaborators of a Server. Auth and Store are required; the
// rest are optional and the features that need them are hidden when nil.
type Deps struct {
	// Directories names the configured directories in login order; with
	// several, the users page filters and labels accounts by directory.
	Directories []string
	Auth        Authenticator
	Explain     Explainer
	Store       Store
	// LocalGroups lets superusers create and delete local groups and
	// change their members on the admin pages (usually the same store as
	// Store); nil shows local groups read-only.
	LocalGroups LocalGroups
	// LocalUsers lets superusers deactivate and reactivate local accounts
	// on the admin pages (usually the same store as Store); nil offers no
	// such action.
	LocalUsers LocalUsers
	// Sessions stores session data; nil means an in-memory store, so
	// sessions do not survive a restart or span several instances.
	Sessions scs.Store
	// Limiter enforces web.login_rate_limit; nil means a MemoryLimiter.
	Limiter RateLimiter
	Logger  *slog.Logger
	// Health reports each directory server's state for the admin page.
	Health func(ctx context.Context) []DirectoryHealth
	// Ready answers /readyz: nil error means ready. Nil means always ready.
	Ready func(ctx context.Context) error
	// ReadyDetail, when set, adds lines to /readyz's answer (ready or
	// not), e.g. one per directory: "directory corp: up".
	ReadyDetail func(ctx context.Context) []string
	// StartSync starts one sync in the background and returns at once; the
	// admin page offers it to superusers. The caller owns the sync: it is
	// not tied to the request. It returns ErrSyncRunning when a sync is
	// already running. SyncRunning reports whether one is.
	StartSync   func(by string) error
	SyncRunning func() bool
	// SyncProgress reports the sync running in this process (any: started
	// here, by the schedule or by a reload), which the admin page shows
	// and updates by polling; nil shows no progress.
	SyncProgress func() SyncProgress
	// SyncHistory returns the most recent runs first, at most limit
	// (0 = all); the admin page pages through it.
	SyncHistory func(ctx context.Context, limit int) ([]SyncRun, error)
	// Metrics receives the app's counts (a *metrics.Metrics); nil counts
	// nothing.
	Metrics Metrics
	// Access is the configured access policy: the admin pages mark the
	// groups its rules (require, deny, flags) name.
	Access config.Access
	// ServiceAccountDN is directory.bind_dn, the account the app searches
	// the directory with; a user with this DN (mirrored when it lies in
	// the user search base) is left out of the admin users list. A DN
	// template ({username}) names no service account.
	ServiceAccountDN string
	// Passwords changes directory passwords on /password, offered when
	// Access.PasswordChange is set (*auth.Authenticator implements it);
	// nil offers no /password.
	Passwords PasswordChanger
	// MetricsHandler is served on GET /metrics, behind web.metrics_token
	// when that is set (for example promhttp.HandlerFor on the registry
	// Metrics is registered on). Nil serves no /metrics.
	MetricsHandler http.Handler
	// Audit shows the sync change log, pending removals and the webhook
	// outbox (audit.go; the SQL stores implement it); nil shows none.
	// Approvals lets superusers approve or reject pending removals, and
	// Refresher refresh one account from the directory; nil offers
	// neither.
	Audit     Audit
	Approvals Approvals
	Refresher Refresher
}

// Server is the web app. Create it with New and serve Handler().
type Server struct {
	cfg      config.Web
	deps     Deps
	log      *slog.Logger
	sm       *scs.SessionManager
	limiter  RateLimiter
	accounts accountMemo
	metrics  Metrics
	csrf     *http.CrossOriginProtection
	pages    *pages
	handler  http.Handler
	// rules maps a normalized group DN to the access rules that name it.
	rules map[string][]string
	// serviceDN is Deps.ServiceAccountDN normalized, or "".
	serviceDN string
}

// Session keys; the session holds nothing but the user's ID.
const sessionUserID = "user_id"

// New builds the web app from the web configuration and its collaborators.
func New(cfg config.Web, deps Deps) (*Server, error) {
	if deps.Auth == nil {
		return nil, errors.New("web.New: Deps.Auth is required (an *auth.Authenticator)")
	}
	if deps.Store == nil {
		return nil, errors.New("web.New: Deps.Store is required")
	}
	s := &Server{cfg: cfg, deps: deps, log: deps.Logger, limiter: deps.Limiter,
		metrics: deps.Metrics}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.limiter == nil {
		s.limiter = NewMemoryLimiter()
	}
	if s.metrics == nil {
		s.metrics = noMetrics{}
	}
	p, err := loadPages()
	if err != nil {
		return nil, fmt.Errorf("web.New: templates: %w", err)
	}
	s.pages = p
	s.rules = ruleUses(deps.Access)
	if dn := strings.TrimSpace(deps.ServiceAccountDN); dn != "" && !strings.Contains(dn, "{") {
		s.serviceDN = normDN(dn)
	}
	s.sm = newSessionManager(cfg, deps.Sessions)
	s.csrf = http.NewCrossOriginProtection()
	s.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusForbidden, "This request came from another site, so it was refused to protect your account. Go back to the page and submit the form again.")
	}))
	s.handler = s.routes()
	return s, nil
}

// Handler returns the app's handler: pages, API, /healthz, /readyz and,
// when Deps.MetricsHandler is set, /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

func newSessionManager(cfg config.Web, store scs.Store) *scs.SessionManager {
	sm := scs.New()
	if store == nil {
		store = memstore.New()
	}
	sm.Store = store
	sm.IdleTimeout = cfg.SessionIdleTimeout.D()
	if sm.IdleTimeout <= 0 {
		sm.IdleTimeout = 30 * time.Minute
	}
	sm.Lifetime = cfg.SessionLifetime.D()
	if sm.Lifetime <= 0 {
		sm.Lifetime = 12 * time.Hour
	}
	sm.Cookie.Name = "ldapbridge_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	return sm
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.loginSubmit)
	mux.HandleFunc("POST /logout", s.logout)
	if s.passwordChangeOn() {
		mux.HandleFunc("GET /password", s.passwordForm)
		mux.HandleFunc("POST /password", s.passwordSubmit)
	}
	mux.Handle("GET /profile", s.needLogin(http.HandlerFunc(s.profile)))
	mux.Handle("GET /profile/photo", s.needLogin(http.HandlerFunc(s.ownPhoto)))

	staff := func(h http.HandlerFunc) http.Handler { return s.needLogin(s.needStaff(h)) }
	mux.Handle("GET /admin", staff(s.adminHome))
	mux.Handle("GET /admin/users", staff(s.adminUsers))
	mux.Handle("GET /admin/users/{name}", staff(s.adminUser))
	mux.Handle("GET /admin/users/{name}/photo", staff(s.adminPhoto))
	mux.Handle("POST /admin/users/{name}/sessions/end", staff(s.adminEndSessions))
	mux.Handle("POST /admin/users/{name}/deactivate", staff(s.adminSetActive(false)))
	mux.Handle("POST /admin/users/{name}/reactivate", staff(s.adminSetActive(true)))
	mux.Handle("GET /admin/explain", staff(s.adminExplain))
	mux.Handle("GET /admin/groups", staff(s.adminGroups))
	mux.Handle("GET /admin/groups/{name}", staff(s.adminGroup))
	mux.Handle("POST /admin/groups", staff(s.adminCreateGroup))
	mux.Handle("POST /admin/groups/{name}/delete", staff(s.adminDeleteGroup))
	mux.Handle("POST /admin/groups/{name}/members", staff(s.adminGroupMember(true)))
	mux.Handle("POST /admin/groups/{name}/members/remove", staff(s.adminGroupMember(false)))
	mux.Handle("POST /admin/sync", staff(s.adminSync))
	mux.Handle("GET /admin/sync/progress", staff(s.adminSyncProgress))
	mux.Handle("GET /admin/sync/runs/{id}", staff(s.adminSyncRun))
	mux.Handle("POST /admin/sync/runs/{id}/approve", staff(s.adminDecide(true)))
	mux.Handle("POST /admin/sync/runs/{id}/reject", staff(s.adminDecide(false)))
	mux.Handle("GET /admin/sync/pending", staff(s.adminPending))
	mux.Handle("GET /admin/users/{name}/changes", staff(s.adminUserChanges))
	mux.Handle("POST /admin/users/{name}/refresh", staff(s.adminRefresh))
	mux.Handle("POST /api/users/{name}/refresh", staff(s.apiRefresh))

	mux.HandleFunc("POST /api/login", s.apiLogin)
	mux.HandleFunc("POST /api/logout", s.apiLogout)
	mux.Handle("GET /api/me", s.needLogin(http.HandlerFunc(s.apiMe)))
	mux.Handle("GET /api/users", staff(s.apiUsers))
	mux.Handle("GET /api/users/{name}", staff(s.apiUser))
	mux.Handle("GET /api/groups", staff(s.apiGroups))
	mux.Handle("GET /api/groups/{name}", staff(s.apiGroup))

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	// Assets and probes are served without touching sessions or the store.
	outer := http.NewServeMux()
	outer.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(staticFS())))
	outer.HandleFunc("GET /healthz", s.healthz)
	outer.HandleFunc("GET /readyz", s.readyz)
	if s.deps.MetricsHandler != nil {
		outer.Handle("GET /metrics", s.needMetricsToken(s.deps.MetricsHandler))
	}
	outer.Handle("/", s.withSession(s.withUser(mux)))
	return s.securityHeaders(s.csrf.Handler(outer))
}

// hstsValue is the Strict-Transport-Security header sent over HTTPS: one
// year, this host only (other hosts of the domain may not serve HTTPS).
const hstsValue = "max-age=31536000"

// securityHeaders sets the headers every response carries, and
// Strict-Transport-Security on those that go over HTTPS (directly, or
// behind a trusted proxy that says so with X-Forwarded-Proto).
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if s.isTLS(r) {
			h.Set("Strict-Transport-Security", hstsValue)
		}
		next.ServeHTTP(w, r)
	})
}

// needMetricsToken guards /metrics with web.metrics_token when it is set:
// the request must carry Authorization: Bearer TOKEN, else 401.
func (s *Server) needMetricsToken(next http.Handler) http.Handler {
	token := s.cfg.MetricsToken.Reveal()
	if token == "" {
		return next
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		// Comparing digests takes the same time whatever the token sent,
		// its length included.
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ldapbridge metrics"`)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintln(w, "/metrics needs the header Authorization: Bearer TOKEN, with the token of web.metrics_token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.deps.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.deps.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			s.readyDetail(ctx, w)
			return
		}
	}
	fmt.Fprintln(w, "ready")
	s.readyDetail(r.Context(), w)
}

func (s *Server) readyDetail(ctx context.Context, w http.ResponseWriter) {
	if s.deps.ReadyDetail == nil {
		return
	}
	for _, line := range s.deps.ReadyDetail(ctx) {
		fmt.Fprintln(w, line)
	}
}
