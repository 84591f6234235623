package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseScheduleAlignsIntervalsToTheWallClock(t *testing.T) {
	at := time.Date(2026, 3, 4, 10, 17, 42, 500, time.UTC)
	tests := []struct {
		schedule string
		from     time.Time
		want     time.Time
	}{
		{"30m", at, time.Date(2026, 3, 4, 10, 30, 0, 0, time.UTC)},
		{"30m", time.Date(2026, 3, 4, 10, 30, 0, 0, time.UTC), time.Date(2026, 3, 4, 11, 0, 0, 0, time.UTC)},
		{"1h", at, time.Date(2026, 3, 4, 11, 0, 0, 0, time.UTC)},
		{"*/15 * * * *", at, time.Date(2026, 3, 4, 10, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		next, err := parseSchedule(tt.schedule)
		if err != nil {
			t.Fatalf("parseSchedule(%q): %v", tt.schedule, err)
		}
		// Instances whose clocks differ by less than the interval agree.
		for _, skew := range []time.Duration{0, 300 * time.Millisecond} {
			if got := next(tt.from.Add(skew)); !got.Equal(tt.want) {
				t.Errorf("%q: next(%s) = %s, want %s", tt.schedule, tt.from.Add(skew), got, tt.want)
			}
		}
	}
}

func TestParseScheduleRefusesShortIntervalsUnlessTheTestFloorIsLowered(t *testing.T) {
	if _, err := parseSchedule("30s"); err == nil || !strings.Contains(err.Error(), "shorter than 1m0s") {
		t.Errorf("30s with the default floor: %v; want refused", err)
	}
	t.Setenv(minIntervalEnv, "1s")
	if next, err := parseSchedule("2s"); err != nil || next == nil {
		t.Errorf("2s with the floor at 1s: %v", err)
	}
	if _, err := parseSchedule("500ms"); err == nil {
		t.Error("500ms accepted; the floor never goes under 1s")
	}
	t.Setenv(minIntervalEnv, "100ms")
	if _, err := parseSchedule("500ms"); err == nil {
		t.Error("500ms accepted with the knob set under 1s")
	}
}
