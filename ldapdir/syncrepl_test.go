package ldapdir

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

var syncUsersReq = &ldapbridge.SearchRequest{BaseDN: slapdtest.JCUsersDN, Scope: ldapbridge.ScopeSub,
	Filter: "(objectClass=inetOrgPerson)", Attributes: []string{"uid", "entryUUID"}}

// syncRead is everything one refresh returned.
type syncRead struct {
	entries          []SyncEntry
	deleted, present []string
	batches          int
	res              *SyncResult
}

func (s *syncRead) uids() []string {
	var out []string
	for _, e := range s.entries {
		out = append(out, e.Entry.First("uid"))
	}
	slices.Sort(out)
	return out
}

func contentSync(t *testing.T, d *Dir, req *ldapbridge.SearchRequest, cookie []byte) (*syncRead, error) {
	t.Helper()
	got := &syncRead{}
	res, err := d.ContentSync(context.Background(), req, cookie, func(b SyncBatch) error {
		got.batches++
		if len(b.Entries) > d.pageSize {
			t.Errorf("batch of %d entries, page size %d", len(b.Entries), d.pageSize)
		}
		got.entries = append(got.entries, b.Entries...)
		got.deleted = append(got.deleted, b.Deleted...)
		got.present = append(got.present, b.Present...)
		return nil
	})
	got.res = res
	return got, err
}

func TestContentSyncAgainstSlapd(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	d := openDir(t, jcConfig(srv.URL))

	info, err := d.Info(context.Background())
	if err != nil || !slices.Contains(info.SupportedControl, ContentSyncOID) {
		t.Fatalf("root DSE does not list the sync request control: %v %v", info, err)
	}
	first, err := contentSync(t, d, syncUsersReq, nil)
	if err != nil {
		t.Fatalf("initial refresh: %v", err)
	}
	if len(first.entries) != 11 || first.batches < 4 || len(first.res.Cookie) == 0 {
		t.Fatalf("initial refresh: %d entries in %d batches, cookie %q; want 11 in at least 4 batches of 3 and a cookie", len(first.entries), first.batches, first.res.Cookie)
	}
	uuidOf := map[string]string{}
	for _, e := range first.entries {
		if e.State != SyncAdd || len(e.UUID) != 36 || e.UUID != e.Entry.First("entryUUID") {
			t.Errorf("%s: state %s uuid %q, entryUUID %q", e.Entry.DN, e.State, e.UUID, e.Entry.First("entryUUID"))
		}
		uuidOf[e.Entry.First("uid")] = e.UUID
	}

	t.Run("a cookie resumes: only the modified entry and the deleted UUID", func(t *testing.T) {
		srv.Apply(t, "dn: "+slapdtest.JCAliceDN+"\nchangetype: modify\nreplace: sn\nsn: Resumed\n\n"+
			"dn: "+slapdtest.JCGraceDN+"\nchangetype: delete\n")
		got, err := contentSync(t, d, syncUsersReq, first.res.Cookie)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got.uids(), ",") != "alice" || !slices.Equal(got.deleted, []string{uuidOf["grace"]}) || !got.res.RefreshDeletes {
			t.Errorf("entries %v deleted %v refreshDeletes %v; want alice, grace's %s, true", got.uids(), got.deleted, got.res.RefreshDeletes, uuidOf["grace"])
		}
		if string(got.res.Cookie) == string(first.res.Cookie) || len(got.res.Cookie) == 0 {
			t.Errorf("cookie not advanced: %q", got.res.Cookie)
		}
		again, err := contentSync(t, d, syncUsersReq, got.res.Cookie)
		if err != nil || len(again.entries)+len(again.deleted)+len(again.present) != 0 || again.batches != 0 {
			t.Errorf("no-change refresh: %v entries %v deleted %v present %d", err, again.uids(), again.deleted, len(again.present))
		}
	})

	t.Run("a base-scoped refresh that matches nothing still returns a usable cookie", func(t *testing.T) {
		req := &ldapbridge.SearchRequest{BaseDN: slapdtest.JCUsersDN, Scope: ldapbridge.ScopeBase, Filter: "(!(objectClass=*))", Attributes: []string{"1.1"}}
		probe, err := contentSync(t, d, req, nil)
		if err != nil || len(probe.entries) != 0 || len(probe.res.Cookie) == 0 {
			t.Fatalf("probe: %v, %d entries, cookie %q", err, len(probe.entries), probe.res.Cookie)
		}
		srv.Apply(t, "dn: "+slapdtest.JCBobDN+"\nchangetype: modify\nreplace: sn\nsn: AfterProbe\n")
		got, err := contentSync(t, d, syncUsersReq, probe.res.Cookie)
		if err != nil || strings.Join(got.uids(), ",") != "bob" {
			t.Errorf("resumed from the probe's cookie: %v, entries %v; want bob only", err, got.uids())
		}
	})

	t.Run("a cookie newer than the server's state is refused", func(t *testing.T) {
		_, err := contentSync(t, d, syncUsersReq, []byte("rid=000,csn=20990101000000.000000Z#000000#000#000000"))
		if !errors.Is(err, ErrSyncRefreshRequired) || !strings.Contains(err.Error(), "directory.urls[0]") {
			t.Errorf("err = %v, want ErrSyncRefreshRequired naming the server", err)
		}
	})

	t.Run("the callback's error stops the refresh", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		_, err := d.ContentSync(context.Background(), syncUsersReq, nil, func(SyncBatch) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("err %v after %d calls, want stop after 1", err, calls)
		}
	})

	t.Run("a cancelled context ends the refresh", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := d.ContentSync(ctx, syncUsersReq, nil, func(SyncBatch) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

func TestContentSyncSizeLimit(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}, SizeLimit: 5})
	d := openDir(t, jcConfig(srv.URL))
	_, err := contentSync(t, d, syncUsersReq, nil)
	if !errors.Is(err, ErrSyncSizeLimit) || !errors.Is(err, ldapbridge.ErrIncomplete) || !strings.Contains(err.Error(), "size limit") {
		t.Errorf("err = %v, want ErrSyncSizeLimit and ErrIncomplete", err)
	}
}

func TestContentSyncOIDMatchesGoLDAP(t *testing.T) {
	if ldapbridge.ContentSyncOID != ldap.ControlTypeSyncRequest {
		t.Fatalf("ldapbridge.ContentSyncOID = %q, go-ldap says %q", ldapbridge.ContentSyncOID, ldap.ControlTypeSyncRequest)
	}
}
