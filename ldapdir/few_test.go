package ldapdir

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// A Few search (a login's user search, one user's groups) is one request
// without the paged-results control; when the server's size limit cuts it
// short it is read again, paged, and returns every entry once.
func TestFewSearchIsUnpagedAndFallsBackToPaging(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, SizeLimit: 5})
	ctx := context.Background()
	d := openDir(t, jcConfig(srv.URL)) // page_size 3
	four := &ldapbridge.SearchRequest{BaseDN: slapdtest.JCUsersDN, Scope: ldapbridge.ScopeSub, Few: true,
		Filter:     "(|(uid=" + slapdtest.JCAliceUID + ")(uid=" + slapdtest.JCBobUID + ")(uid=" + slapdtest.JCCarolUID + ")(uid=" + slapdtest.JCDaveUID + "))",
		Attributes: []string{"uid"}}
	before := d.Stats()
	got, err := d.Search(ctx, four)
	if err != nil || len(got) != 4 {
		t.Fatalf("Few search: %d entries, %v; want 4", len(got), err)
	}
	if pages := d.Stats().SearchPages - before.SearchPages; pages != 1 {
		t.Errorf("4 entries with page_size 3 took %d requests; a Few search is one unpaged request", pages)
	}

	paged, err := d.Search(ctx, usersReq)
	if err != nil || len(paged) <= 5 {
		t.Fatalf("paged search: %d entries, %v; the fixture needs more users than the size limit 5", len(paged), err)
	}
	few := *usersReq
	few.Few = true
	got, err = d.Search(ctx, &few)
	if err != nil {
		t.Fatalf("Few search over the size limit: %v", err)
	}
	if len(got) != len(paged) {
		t.Errorf("Few search over the size limit returned %d entries, the paged search %d", len(got), len(paged))
	}
}

// Close ends each idle connection with an UNBIND request (RFC 4511 §4.3)
// before closing it: a proxy between the Dir and slapd sees the client's
// last message be an UnbindRequest ([APPLICATION 2] NULL: 0x42 0x00).
func TestCloseUnbinds(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	target := strings.TrimPrefix(srv.URL, "ldap://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var sent [][]byte // client→server bytes of each proxied connection, once it ended
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf bytes.Buffer
				go func() { io.Copy(c, s); c.Close() }()
				io.Copy(io.MultiWriter(s, &buf), c)
				s.Close()
				mu.Lock()
				sent = append(sent, buf.Bytes())
				mu.Unlock()
			}()
		}
	}()
	d := openDir(t, jcConfig("ldap://"+ln.Addr().String()))
	if _, err := d.Search(context.Background(), usersReq); err != nil {
		t.Fatal(err)
	}
	d.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the Dir's connections were still open 10 s after Close")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) == 0 {
		t.Fatal("no connection went through the proxy")
	}
	for i, b := range sent {
		if !bytes.HasSuffix(b, []byte{0x42, 0x00}) {
			t.Errorf("connection %d: the client's last bytes are % x, not an UnbindRequest (42 00)", i, b[max(0, len(b)-8):])
		}
	}
}
