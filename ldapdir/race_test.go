package ldapdir

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/internal/slapdtest"
)

// TestConcurrentSearchesOfAMissingBaseShareOneConnection is the race
// detector's regression test for withConn: a search of a base that does not
// exist fails without spoiling its connection, so the connection goes back
// to the pool and straight to the next goroutine, which resets its retry
// state while the first still decides whether to retry. Run with -race.
func TestConcurrentSearchesOfAMissingBaseShareOneConnection(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Options{Fixtures: []string{slapdtest.JumpCloud}})
	cfg := jcConfig(srv.URL)
	cfg.PoolSize = 1
	d := openDir(t, cfg)
	req := &ldapbridge.SearchRequest{BaseDN: "ou=Missing," + slapdtest.JCBaseDN, Scope: ldapbridge.ScopeSub,
		Filter: "(uid=alice)", Attributes: []string{"uid"}}
	ctx := context.Background()
	const goroutines, rounds = 8, 25
	errs := make(chan error, goroutines*rounds)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				_, err := d.Search(ctx, req)
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ldapbridge.ErrNotFound) {
			t.Fatalf("search of a missing base: %v; want an error wrapping ErrNotFound", err)
		}
	}
	if st := d.Stats(); st.Retries != 0 || st.ServiceInUse != 0 {
		t.Errorf("stats after the searches: %+v; want no retries (a missing base is not cured by a fresh connection) and no connection in use", st)
	}
}
