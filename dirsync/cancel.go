package dirsync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrCancelled marks a run stopped because its context ended (a shutdown,
// Ctrl-C). The run stops between batches: every batch it began is written
// whole, nothing after it is, no removal is planned from an incomplete read
// and the cursor is not advanced. The history records the run with the
// outcome "cancelled".
var ErrCancelled = errors.New("sync cancelled")

// batchGrace bounds how long a batch begun before its run was cancelled
// may take to finish (a variable so tests can shorten it).
var batchGrace = 10 * time.Second

// finishing returns the context one batch is written under: it is not
// cancelled with ctx, so a begun batch completes and a cancelled run stops
// at the next batch boundary, but it gives up batchGrace after ctx ends,
// so a hung store cannot hold a shutdown. done releases it.
func finishing(ctx context.Context) (context.Context, func()) {
	fctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	release, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-release:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(batchGrace)
		defer t.Stop()
		select {
		case <-release:
		case <-t.C:
			cancel(fmt.Errorf("a batch was still being written %s after the sync was cancelled: %w", batchGrace, context.Cause(ctx)))
		}
	}()
	return fctx, func() {
		close(release)
		<-exited
		cancel(nil)
	}
}
