package main

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// parseSchedule turns sync.schedule into a next-run function: a Go
// duration (30m) is an interval, anything else a five-field cron
// expression (or a descriptor such as @hourly). "" means no schedule.
func parseSchedule(s string) (func(time.Time) time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < time.Minute {
			return nil, usage(fmt.Errorf("sync.schedule: interval %s is shorter than 1m — use a longer interval", d))
		}
		return func(t time.Time) time.Time { return t.Add(d) }, nil
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, usage(fmt.Errorf("sync.schedule: %q is neither a duration (30m) nor a cron expression (*/30 * * * *): %v", s, err))
	}
	return sched.Next, nil
}
