package main

import (
	"testing"
	"time"
)

func TestCLITimesCarryTheirZone(t *testing.T) {
	saved := time.Local
	t.Cleanup(func() { time.Local = saved })
	time.Local = time.FixedZone("CET", 3600)
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	if got := fmtTime(&at); got != "2026-03-01 09:00:00 CET" {
		t.Errorf("fmtTime = %q, want the local time with its zone, 2026-03-01 09:00:00 CET", got)
	}
	if got := fmtTime(nil); got != "never" {
		t.Errorf("fmtTime(nil) = %q", got)
	}
}
