package main

import "github.com/ldapbridge/ldapbridge/web"

// adminDeps fills what the web app's admin pages read from the
// configuration of a: the access rules, to mark the groups they name, and
// the service account (directory.bind_dn), to leave it out of the users.
func adminDeps(a *app, deps *web.Deps) {
	deps.Access = a.cfg.Access
	deps.ServiceAccountDN = a.cfg.Directory.BindDN
}
