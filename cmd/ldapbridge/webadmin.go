package main

import "github.com/ldapbridge/ldapbridge/web"

// adminDeps fills what the web app's admin pages read from the
// configuration of a: the access rules, to mark the groups they name.
func adminDeps(a *app, deps *web.Deps) {
	deps.Access = a.cfg.Access
}
