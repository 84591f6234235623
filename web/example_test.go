package web_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ldapbridge/ldapbridge/auth"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/demodir"
	"github.com/ldapbridge/ldapbridge/ldapdir"
	"github.com/ldapbridge/ldapbridge/sqlite"
	"github.com/ldapbridge/ldapbridge/web"
)

// ExampleServer_RequireLogin protects an application's own handlers: the
// web server's handler answers /login and /logout, RequireLogin admits
// signed-in users, and RequireGroup and RequireFlag narrow that down. The
// directory is the embedded demo one.
func ExampleServer_RequireLogin() {
	ctx := context.Background()
	demo, err := demodir.Start(ctx, "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer demo.Close()
	tmp, err := os.MkdirTemp("", "ldapbridge-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cfg, err := config.Parse(demodir.ConfigYAML(demo.URL(), filepath.Join(tmp, "app.db")), config.ParseOptions{})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := ldapdir.Open(ctx, cfg.Directory, ldapdir.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer dir.Close()
	store, err := sqlite.Open(ctx, cfg.Store.DSN.Reveal())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	authn, err := auth.New(cfg, dir, store, auth.Options{})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := web.New(cfg.Web, web.Deps{Auth: authn, Store: store, Sessions: store.Sessions()})
	if err != nil {
		log.Fatal(err)
	}

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := web.UserFrom(r.Context())
		fmt.Fprintf(w, "Hello %s", u.Username)
	})
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler()) // /login, /logout, /profile, ...
	mux.Handle("/app/", srv.RequireLogin(hello))
	mux.Handle("/app/engineering/", srv.RequireGroup("Engineering")(hello))
	mux.Handle("/app/staff/", srv.RequireFlag("is_staff")(hello))
	app := httptest.NewServer(mux)
	defer app.Close()

	// A browser: keeps cookies, shows redirects instead of following them.
	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	get := func(c *http.Client, path string) {
		resp, err := c.Get(app.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		switch resp.StatusCode {
		case http.StatusOK:
			fmt.Printf("GET %s: %s\n", path, body)
		case http.StatusSeeOther:
			fmt.Printf("GET %s: %d to %s\n", path, resp.StatusCode, resp.Header.Get("Location"))
		default:
			fmt.Printf("GET %s: %d\n", path, resp.StatusCode)
		}
	}
	signIn := func(c *http.Client, username string) {
		req, _ := http.NewRequest("POST", app.URL+"/login", strings.NewReader(url.Values{
			"username": {username}, "password": {demodir.DemoPassword(username)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", app.URL) // browsers send it; cross-site posts are refused
		resp, err := c.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Printf("sign in as %s: %d\n", username, resp.StatusCode)
	}

	anonymous := browser()
	get(anonymous, "/app/")

	jdoe := browser()
	signIn(jdoe, "jdoe")
	get(jdoe, "/app/")
	get(jdoe, "/app/engineering/") // through the nested Backend group
	get(jdoe, "/app/staff/")

	bjones := browser()
	signIn(bjones, "bjones")
	get(bjones, "/app/staff/")
	// Output:
	// GET /app/: 303 to /login?next=%2Fapp%2F
	// sign in as jdoe: 303
	// GET /app/: Hello jdoe
	// GET /app/engineering/: Hello jdoe
	// GET /app/staff/: 403
	// sign in as bjones: 303
	// GET /app/staff/: Hello bjones
}
