package main

import (
	"fmt"
	"os"
	"time"

	"github.com/robfig/cron/v3"
)

// minIntervalEnv lowers the shortest accepted sync.schedule interval (a Go
// duration, at least 1s). It exists for tests that need several ticks in a
// few seconds; production schedules keep the 1m floor.
const minIntervalEnv = "LDAPBRIDGE_TEST_MIN_SCHEDULE"

// minInterval is the shortest interval sync.schedule accepts.
func minInterval() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(minIntervalEnv)); err == nil && d >= time.Second {
		return d
	}
	return time.Minute
}

// parseSchedule turns sync.schedule into a next-tick function: a Go
// duration (30m) is an interval, anything else a five-field cron
// expression (or a descriptor such as @hourly). "" means no schedule.
// Interval ticks fall on wall-clock multiples of the interval (30m ticks at
// :00 and :30 UTC), so instances sharing a database agree on each tick.
func parseSchedule(s string) (func(time.Time) time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if min := minInterval(); d < min {
			return nil, usage(fmt.Errorf("sync.schedule: interval %s is shorter than %s — use a longer interval", d, min))
		}
		return func(t time.Time) time.Time { return t.Truncate(d).Add(d) }, nil
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, usage(fmt.Errorf("sync.schedule: %q is neither a duration (30m) nor a cron expression (*/30 * * * *): %v", s, err))
	}
	return sched.Next, nil
}
