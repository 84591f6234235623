package ldapdir

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
)

// silentServer accepts TCP connections and never answers, like a hung
// directory.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "ldap://" + l.Addr().String()
}

func TestContextDeadlineStopsAHungCall(t *testing.T) {
	d := openDir(t, config.Directory{URLs: []string{silentServer(t)}, RequestTimeout: config.Duration(time.Minute)})
	req := &ldapbridge.SearchRequest{BaseDN: "dc=example,dc=com", Filter: "(uid=x)"}
	for name, call := range map[string]func(context.Context) error{
		"search":         func(ctx context.Context) error { _, err := d.Search(ctx, req); return err },
		"check password": func(ctx context.Context) error { return d.CheckPassword(ctx, "uid=x,dc=example,dc=com", "pw") },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		err := call(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v", name, err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("%s took %s with a 200ms deadline", name, el)
		}
	}
}

func TestRequestTimeoutBoundsEachOperation(t *testing.T) {
	d := openDir(t, config.Directory{URLs: []string{silentServer(t)}, RequestTimeout: config.Duration(200 * time.Millisecond)})
	start := time.Now()
	_, err := d.Search(context.Background(), &ldapbridge.SearchRequest{BaseDN: "dc=example,dc=com"})
	if !errors.Is(err, ldapbridge.ErrUnavailable) || !strings.Contains(err.Error(), "directory.request_timeout") {
		t.Errorf("got %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s with request_timeout 200ms (a timeout must not be retried)", el)
	}
	if st := d.Stats(); st.Retries != 0 {
		t.Errorf("timeout retried: %+v", st)
	}
}

func TestSearchErrorMapsIncompleteResults(t *testing.T) {
	d := &Dir{requestTimeout: time.Second}
	pc := &pconn{srv: &server{index: 2, url: "ldap://h"}}
	sr := ldap.NewSearchRequest("dc=x", ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=a)", nil, nil)
	tests := []struct {
		code uint16
		kind error
		want string
	}{
		{ldap.LDAPResultSizeLimitExceeded, ldapbridge.ErrIncomplete, "size limit"},
		{ldap.LDAPResultReferral, ldapbridge.ErrIncomplete, "ldapbridge does not follow referrals"},
		{ldap.LDAPResultTimeLimitExceeded, ldapbridge.ErrIncomplete, "stopped the search early"},
		{ldap.LDAPResultNoSuchObject, ldapbridge.ErrNotFound, "base DN does not exist"},
		{ldap.ErrorNetwork, ldapbridge.ErrUnavailable, "connection broke"},
	}
	for _, tt := range tests {
		pc.bad = false
		err := d.searchError(context.Background(), pc, sr, ldap.NewError(tt.code, errors.New("diag")))
		if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "directory.urls[2]") {
			t.Errorf("code %d: %v", tt.code, err)
		}
		if pc.bad != (tt.code == ldap.ErrorNetwork) {
			t.Errorf("code %d: connection bad = %v", tt.code, pc.bad)
		}
	}
}
