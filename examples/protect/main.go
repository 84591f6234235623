// Command protect shows how a Go web application protects its own handlers
// with ldapbridge: it starts the embedded demo directory, signs users in
// against it, and serves a small app behind web.RequireLogin, RequireGroup
// and RequireFlag.
//
//	go run ./examples/protect -listen 127.0.0.1:8081
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/demodir"
	"github.com/ldapbridge/ldapbridge/ldapdir"
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
`

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve on")
	flag.Parse()
	ctx := context.Background()
	demo := must(demodir.Start(ctx, "127.0.0.1:0"))
	cfg := must(config.Parse(fmt.Appendf(nil, demoConfig, demo.URL(), demodir.ServiceDN, demodir.ServicePassword,
		demodir.UsersDN, demodir.GroupDjangoApp, demodir.GroupActive, demodir.GroupStaff), config.ParseOptions{}))
	dir := must(ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{}))
	store := must(sqlite.Open(ctx, ":memory:"))
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	authn := must(auth.New(cfg, dir, store, auth.Options{}))
	srv := must(web.New(cfg.Web, web.Deps{Auth: authn, Store: store}))

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := web.UserFrom(r.Context())
		fmt.Fprintf(w, "Hello %s, you may see %s.\n", u.Username, r.URL.Path)
	})
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler()) // /login, /logout, /profile, /admin, /api/...
	mux.Handle("/app/", srv.RequireLogin(hello))
	mux.Handle("/app/engineering/", srv.RequireGroup("Engineering")(hello))
	mux.Handle("/app/staff/", srv.RequireFlag("is_staff")(hello))

	for _, l := range demodir.Logins() {
		fmt.Printf("demo login: %s / %s (%s)\n", l.Username, l.Password, l.Roles)
	}
	fmt.Printf("listening on http://%s/app/\n", *listen)
	log.Fatal(http.ListenAndServe(*listen, mux))
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
