package dirsync

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFinishingOutlivesTheCancelWithinTheGrace(t *testing.T) {
	old := batchGrace
	batchGrace = 100 * time.Millisecond
	t.Cleanup(func() { batchGrace = old })

	ctx, cancel := context.WithCancelCause(context.Background())
	fctx, done := finishing(ctx)
	cancel(errors.New("shutting down"))
	select {
	case <-fctx.Done():
		t.Fatal("the batch context ended with the run's; want it to outlive the cancel so the batch finishes")
	case <-time.After(30 * time.Millisecond):
	}
	select {
	case <-fctx.Done():
		if c := context.Cause(fctx); c == nil || !errors.Is(c, context.Cause(ctx)) {
			t.Errorf("cause after the grace: %v; want it to wrap the run's", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the batch context outlived the grace after the cancel")
	}
	done()

	// Released before any cancel: nothing is left running, and the context ends.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	fctx2, done2 := finishing(ctx2)
	done2()
	if fctx2.Err() == nil {
		t.Error("the batch context is still live after done")
	}
}
