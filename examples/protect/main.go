// Command protect shows how a Go web application protects its own handlers
// with ldapbridge: it signs users in against a directory and serves a small
// app behind web.RequireLogin and web.RequireGroup, with a staff-only page
// whose refusal is worded for end users.
//
// Without --config it starts the embedded demo directory and prints the
// demo logins; with --config it uses your ldapbridge.yaml (the same file as
// the ldapbridge command: directory, users, groups, access and store):
//
//	go run ./examples/protect --listen 127.0.0.1:8081
//	go run ./examples/protect --config ldapbridge.yaml --group Engineering
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/demodir"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/postgres"
	"github.com/ldapbridge/ldapbridge/sqlite"
	"github.com/ldapbridge/ldapbridge/web"
)

const demoConfig = `
directory: {urls: [%s], flavor: jumpcloud, bind_dn: "%s", bind_password: "%s"}
users: {search: {base_dn: "%s", filter: "(&(objectClass=inetOrgPerson)(uid={username}))"}}
groups: {search: {base_dn: "%[4]s", filter: "(objectClass=groupOfNames)"}, nested: true}
access:
  require: "%s"
  flags: {is_active: "%s", is_staff: "%s"}
store: {driver: sqlite, dsn: ":memory:"}
`

// options are the command-line flags, spelled with two dashes like the
// ldapbridge command's (Go's flag package accepts one or two).
type options struct {
	config string
	listen string
	group  string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("protect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "ldapbridge configuration file of your directory (default: the embedded demo directory)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8081", "address to serve on")
	fs.StringVar(&o.group, "group", "Engineering", "directory group whose members may open /app/group/")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: protect [--config FILE] [--listen ADDR] [--group NAME]")
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(stderr, "  --%s\n    \t%s%s\n", f.Name, f.Usage, def)
		})
	}
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fs.Usage()
	}
	return o, err
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	if err := run(context.Background(), o); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, o options) error {
	var cfg *config.Config
	if o.config == "" {
		demo, err := demodir.Start(ctx, "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer demo.Close()
		cfg, err = config.Parse(fmt.Appendf(nil, demoConfig, demo.URL(), demodir.ServiceDN, demodir.ServicePassword,
			demodir.UsersDN, demodir.GroupDjangoApp, demodir.GroupActive, demodir.GroupStaff), config.ParseOptions{})
		if err != nil {
			return err
		}
		for _, l := range demodir.Logins() {
			fmt.Printf("demo login: %s / %s (%s)\n", l.Username, l.Password, l.Roles)
		}
	} else {
		var err error
		if cfg, err = config.Load(o.config); err != nil {
			return fmt.Errorf("%s:\n%w", o.config, err)
		}
	}
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		return err
	}
	defer dir.Close()
	if f := cfg.Directory.Flavor; f == ldapbridge.FlavorAuto || f == "" {
		// Read the server's root DSE for the flavor's defaults, as
		// `ldapbridge serve` does.
		flavor := ldapbridge.FlavorOpenLDAP
		if info, err := dir.Info(ctx); err == nil {
			flavor = info.Flavor
		}
		cfg.ApplyFlavor(flavor)
	}
	store, deps, err := openStore(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer store.Close()
	authn, err := auth.New(cfg, dir, store, auth.Options{})
	if err != nil {
		return err
	}
	deps.Auth, deps.Store = authn, store
	srv, err := web.New(cfg.Web, deps)
	if err != nil {
		return err
	}

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := web.UserFrom(r.Context())
		fmt.Fprintf(w, "Hello %s, you may see %s.\n", u.Username, r.URL.Path)
	})
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler()) // /login, /logout, /profile, /admin, /api/...
	mux.Handle("/app/", srv.RequireLogin(hello))
	mux.Handle("/app/group/", srv.RequireGroup(o.group)(hello))
	mux.Handle("/app/staff/", srv.RequireLogin(staffOnly(hello)))

	fmt.Printf("listening on http://%s/app/\n", o.listen)
	return http.ListenAndServe(o.listen, mux)
}

// staffOnly admits staff and superusers (inside RequireLogin, which puts
// the user in the context). It does what srv.RequireFlag("is_staff") does,
// but words the refusal for the people who see it, without the name of the
// configuration flag.
func staffOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := web.UserFrom(r.Context())
		if !ok || !(u.IsStaff || u.IsSuperuser) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			name := ""
			if ok {
				name = ", " + html.EscapeString(u.Username)
			}
			fmt.Fprintf(w, "<!doctype html><title>Staff only</title><h1>Staff only</h1>"+
				"<p>Sorry%s: this page is for staff. If you need it for your work, ask your manager or the IT service desk for staff access.</p>"+
				`<p><a href="/app/">Back to the app</a></p>`, name)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// store is what this program needs of the ldapbridge store.
type store interface {
	web.Store
	auth.Store
	Close() error
}

// openStore opens and migrates the configured store and returns it with
// the web dependencies it provides (sessions that survive a restart; on
// PostgreSQL, sign-in limits shared by every instance).
func openStore(ctx context.Context, cfg config.Store) (store, web.Deps, error) {
	var none web.Deps
	switch cfg.Driver {
	case "sqlite", "":
		st, err := sqlite.Open(ctx, cfg.DSN.Reveal())
		if err != nil {
			return nil, none, fmt.Errorf("store.dsn: %w", err)
		}
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, none, err
		}
		return st, web.Deps{Sessions: st.Sessions()}, nil
	case "postgres":
		st, err := postgres.Open(ctx, cfg.DSN.Reveal())
		if err != nil {
			return nil, none, fmt.Errorf("store.dsn: %w", err)
		}
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, none, err
		}
		return st, web.Deps{Sessions: st.Sessions(), Limiter: st.RateLimiter()}, nil
	}
	return nil, none, fmt.Errorf("store.driver: %q is not supported — use sqlite or postgres", strings.TrimSpace(cfg.Driver))
}
