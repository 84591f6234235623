package config

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// EventTypes are the change event types a webhook can ask for.
var EventTypes = []string{
	"user.created", "user.updated", "user.deactivated", "user.reactivated", "user.deleted", "user.refused",
	"group.created", "group.updated", "group.deleted",
	"membership.added", "membership.removed",
	"sync.aborted",
}

// Wants reports whether the webhook takes events of type typ.
func (w Webhook) Wants(typ string) bool { return len(w.Events) == 0 || slices.Contains(w.Events, typ) }

func parseHistory(s string) (History, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 {
			return History{}, &badValue{quote(s) + " keeps no run", "write a positive number of runs (100) or an age (2160h)"}
		}
		return History{Runs: n}, nil
	}
	d, err := parseDuration(s)
	if err != nil || d <= 0 {
		return History{}, &badValue{quote(s) + " is neither a number of runs nor an age", "write a number of runs (100) or an age with a unit (2160h is 90 days)"}
	}
	return History{Age: d}, nil
}

// String returns the retention as "2160h" or "100".
func (h History) String() string {
	if h.Runs > 0 {
		return strconv.Itoa(h.Runs)
	}
	return formatDuration(h.Age.D())
}

// MarshalYAML writes the retention as an age or a count.
func (h History) MarshalYAML() (any, error) { return h.String(), nil }

// Cutoff returns the start time before which runs are pruned at now
// (zero when the retention is a count) and the number of runs kept
// (0 when it is an age).
func (h History) Cutoff(now time.Time) (time.Time, int) {
	if h.Runs > 0 {
		return time.Time{}, h.Runs
	}
	return now.Add(-h.Age.D()), 0
}

// webhooks reads events.webhooks: a list of {url, secret, events}.
func (d *decoder) webhooks(key string, n *yaml.Node) ([]Webhook, bool) {
	if n.Kind != yaml.SequenceNode {
		d.fail(key, "must be a list of {url, secret, events}, not "+kindName(n), "write - {url: https://..., secret: ${SECRET}}")
		return nil, false
	}
	out := make([]Webhook, len(n.Content))
	before := len(d.problems)
	for i, item := range n.Content {
		k := fmt.Sprintf("%s[%d]", key, i)
		if item = d.node(k, item); item == nil {
			return nil, false
		}
		if item.Kind != yaml.MappingNode {
			d.fail(k, "must be a mapping with url, secret and events, not "+kindName(item), "")
			continue
		}
		d.mapping(k, item, reflect.ValueOf(&out[i]).Elem())
		if out[i].Events == nil {
			out[i].Events = []string{}
		}
	}
	return out, len(d.problems) == before
}

func (c *Config) validateEvents(p *issues) {
	e := c.Events
	if e.MaxAttempts < 1 {
		p.add("events.max_attempts", "is less than 1", "use a count such as 10: an event is posted at most this many times")
	}
	for i, w := range e.Webhooks {
		k := fmt.Sprintf("events.webhooks[%d]", i)
		u, err := url.Parse(w.URL)
		if w.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.add(k+".url", quote(w.URL)+" is not an http(s) URL", "write the receiver's URL, e.g. https://app.example.com/hooks/ldapbridge")
		}
		if w.Secret == "" {
			p.add(k+".secret", "is empty", "set a secret (e.g. secret: ${LDAPBRIDGE_WEBHOOK_SECRET}); receivers check the signature with it")
		}
		for j, t := range w.Events {
			if !slices.Contains(EventTypes, t) {
				p.add(fmt.Sprintf("%s.events[%d]", k, j), quote(t)+" is not an event type", "use one of "+strings.Join(EventTypes, ", ")+", or leave events empty for all")
			}
		}
	}
}
