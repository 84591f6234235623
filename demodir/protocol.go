package demodir

import (
	"crypto/subtle"
	"fmt"

	"github.com/jimlambrt/gldap"
)

const readOnlyMessage = "demodir is read-only over LDAP: change the demo data through the demodir Go API"

func (s *Server) router() (*gldap.Mux, error) {
	mux, err := gldap.NewMux()
	if err != nil {
		return nil, fmt.Errorf("demodir: new mux: %w", err)
	}
	routes := []func() error{
		func() error { return mux.Bind(s.bind) },
		func() error { return mux.Search(s.search) },
		func() error { return mux.Modify(s.refuseModify) },
		func() error { return mux.Add(s.refuse(gldap.ApplicationAddResponse)) },
		func() error { return mux.Delete(s.refuse(gldap.ApplicationDelResponse)) },
		func() error { return mux.DefaultRoute(s.refuse(gldap.ApplicationExtendedResponse)) },
	}
	for _, add := range routes {
		if err := add(); err != nil {
			return nil, fmt.Errorf("demodir: add route: %w", err)
		}
	}
	return mux, nil
}

// bind handles simple binds. Every bind first makes the connection
// anonymous, so a failed bind leaves no earlier identity behind.
func (s *Server) bind(w *gldap.ResponseWriter, r *gldap.Request) {
	resp := r.NewBindResponse(gldap.WithResponseCode(gldap.ResultInvalidCredentials))
	defer func() { _ = w.Write(resp) }()
	s.setBound(r.ConnectionID(), "")
	m, err := r.GetSimpleBindMessage()
	if err != nil {
		resp.SetResultCode(gldap.ResultAuthMethodNotSupported)
		resp.SetDiagnosticMessage("only simple binds are supported")
		return
	}
	name, password := m.UserName, string(m.Password)
	switch {
	case name == "" && password == "":
		resp.SetResultCode(gldap.ResultSuccess) // anonymous
		return
	case password == "":
		resp.SetResultCode(gldap.ResultUnwillingToPerform)
		resp.SetDiagnosticMessage("unauthenticated bind (DN with no password) disallowed")
		return
	}
	t := s.tree
	t.mu.RLock()
	rec := t.lookup(name)
	t.mu.RUnlock()
	if rec == nil || rec.password == "" ||
		subtle.ConstantTimeCompare([]byte(rec.password), []byte(password)) != 1 {
		return // invalidCredentials, whether the DN exists or not
	}
	s.setBound(r.ConnectionID(), rec.key())
	resp.SetResultCode(gldap.ResultSuccess)
}

func (s *Server) setBound(connID int, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == "" {
		delete(s.bound, connID)
		return
	}
	s.bound[connID] = key
}

func (s *Server) isBound(connID int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound[connID] != ""
}

func (s *Server) refuseModify(w *gldap.ResponseWriter, r *gldap.Request) {
	_ = w.Write(r.NewModifyResponse(gldap.WithResponseCode(gldap.ResultUnwillingToPerform),
		gldap.WithDiagnosticMessage(readOnlyMessage)))
}

func (s *Server) refuse(appCode int) gldap.HandlerFunc {
	return func(w *gldap.ResponseWriter, r *gldap.Request) {
		_ = w.Write(r.NewResponse(gldap.WithApplicationCode(appCode),
			gldap.WithResponseCode(gldap.ResultUnwillingToPerform),
			gldap.WithDiagnosticMessage(readOnlyMessage)))
	}
}
