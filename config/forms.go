package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/ldaptext"
)

// maxQueryDepth bounds how deeply group queries may nest.
const maxQueryDepth = 16

func parseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, &badValue{"is empty", "write a duration with a unit, e.g. 30s, 5m or 12h"}
	}
	if s == "0" {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, &badValue{quote(s) + " has no unit", "write " + s + "s, " + s + "m or " + s + "h"}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, &badValue{quote(s) + " is not a duration", "write a number with a unit: 30s, 5m, 12h (for days use hours, e.g. 24h)"}
	}
	if d < 0 {
		return 0, &badValue{quote(s) + " is negative", "write a positive duration"}
	}
	return Duration(d), nil
}

func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

var ratePeriods = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
}

func parseRate(s string) (Rate, error) {
	bad := &badValue{quote(s) + " is not a rate", "write N/period, e.g. 5/min, 30/hour, 10/30s or 2/s"}
	num, per, found := strings.Cut(strings.TrimSpace(s), "/")
	if !found {
		return Rate{}, bad
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil {
		return Rate{}, bad
	}
	if n < 1 {
		return Rate{}, &badValue{quote(s) + " allows nothing", "the count must be at least 1"}
	}
	per = strings.TrimSpace(per)
	d, known := ratePeriods[per]
	if !known {
		pd, err := parseDuration(per)
		if err != nil || pd == 0 {
			return Rate{}, bad
		}
		d = pd.D()
	}
	return Rate{N: n, Per: d}, nil
}

func formatRate(r Rate) string {
	switch r.Per {
	case time.Second:
		return fmt.Sprintf("%d/s", r.N)
	case time.Minute:
		return fmt.Sprintf("%d/min", r.N)
	case time.Hour:
		return fmt.Sprintf("%d/hour", r.N)
	case 24 * time.Hour:
		return fmt.Sprintf("%d/day", r.N)
	}
	return fmt.Sprintf("%d/%s", r.N, formatDuration(r.Per))
}

func parseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 100 {
			return Limit{}, &badValue{quote(s) + " is not a percentage from 0% to 100%", "write e.g. 5%"}
		}
		return Limit{Percent: p, IsPct: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return Limit{}, &badValue{quote(s) + " is not a count or a percentage", "write a whole number (50) or a percentage (5%)"}
	}
	return Limit{Count: n}, nil
}

func formatLimit(l Limit) string {
	if l.IsPct {
		return strconv.FormatFloat(l.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(l.Count)
}

// groupQuery parses the group query forms: a DN, a list (any), or a
// mapping with exactly one of any, all or not. At depth 0 an empty string
// is the empty query (no rule).
func (d *decoder) groupQuery(key string, n *yaml.Node, depth int) (ldapbridge.GroupQuery, bool) {
	var zero ldapbridge.GroupQuery
	if n = d.node(key, n); n == nil {
		return zero, false
	}
	if depth > maxQueryDepth {
		d.fail(key, fmt.Sprintf("nests group queries more than %d levels deep", maxQueryDepth), "flatten the query")
		return zero, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if isNull(n) && depth == 0 {
			return zero, true
		}
		s, ok := d.scalar(key, n)
		if !ok {
			return zero, false
		}
		s = strings.TrimSpace(s)
		if s == "" {
			if depth == 0 {
				return zero, true
			}
			d.fail(key, "is an empty group DN", "write the group's DN or remove the entry")
			return zero, false
		}
		if err := checkDN(s); err != nil {
			d.fail(key, quote(s)+" is not a valid DN: "+err.Error(), "write the group's full DN, e.g. cn=staff,ou=Users,o=ORGID,dc=jumpcloud,dc=com (escape commas in values as \\,)")
			return zero, false
		}
		return ldapbridge.GroupQuery{DN: s}, true
	case yaml.SequenceNode:
		list, ok := d.queryList(key, n, depth)
		return ldapbridge.GroupQuery{Any: list}, ok
	case yaml.MappingNode:
		return d.queryMapping(key, n, depth)
	}
	d.fail(key, "must be a DN, a list of DNs or a mapping with any, all or not", "")
	return zero, false
}

func (d *decoder) queryList(key string, n *yaml.Node, depth int) ([]ldapbridge.GroupQuery, bool) {
	if n.Kind != yaml.SequenceNode {
		q, ok := d.groupQuery(key, n, depth+1)
		return []ldapbridge.GroupQuery{q}, ok
	}
	if len(n.Content) == 0 {
		d.fail(key, "is an empty list", "list at least one group DN, or remove the key")
		return nil, false
	}
	if i := splitDN(n); i >= 0 {
		d.fail(fmt.Sprintf("%s[%d]", key, i), quote(n.Content[i].Value+","+n.Content[i+1].Value)+" looks like one DN that the [ ] list split at its commas",
			"quote each DN inside [ ], or write one '- DN' per line")
		return nil, false
	}
	out := make([]ldapbridge.GroupQuery, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		q, good := d.groupQuery(fmt.Sprintf("%s[%d]", key, i), item, depth+1)
		ok = ok && good
		out = append(out, q)
	}
	return out, ok
}

func (d *decoder) queryMapping(key string, n *yaml.Node, depth int) (ldapbridge.GroupQuery, bool) {
	var zero ldapbridge.GroupQuery
	if len(n.Content) != 2 {
		fix := "nest them instead, e.g. {all: [cn=a,..., {not: cn=b,...}]}"
		if n.Style&yaml.FlowStyle != 0 {
			fix = "quote DNs inside { }: a comma ends a value there"
		}
		d.fail(key, "must have exactly one of any, all or not", fix)
		return zero, false
	}
	op := n.Content[0].Value
	k := join(key, op)
	val := n.Content[1]
	switch op {
	case "any", "all":
		list, ok := d.queryList(k, val, depth)
		if op == "any" {
			return ldapbridge.GroupQuery{Any: list}, ok
		}
		return ldapbridge.GroupQuery{All: list}, ok
	case "not":
		q, ok := d.groupQuery(k, val, depth+1)
		return ldapbridge.GroupQuery{Not: &q}, ok
	}
	d.unknownKey(k, op, []string{"any", "all", "not"})
	return zero, false
}

// splitDN finds a DN that a flow sequence ([a,b]) split at its commas: two
// plain items with "=" on one line, the second right after the first's
// comma. It returns the first item's index, or -1.
func splitDN(n *yaml.Node) int {
	if n.Style&yaml.FlowStyle == 0 {
		return -1
	}
	for i := 0; i+1 < len(n.Content); i++ {
		a, b := n.Content[i], n.Content[i+1]
		if a.Kind == yaml.ScalarNode && b.Kind == yaml.ScalarNode && a.Style == 0 && b.Style == 0 &&
			strings.Contains(a.Value, "=") && strings.Contains(b.Value, "=") && a.Line == b.Line &&
			b.Column == a.Column+utf8.RuneCountInString(a.Value)+1 {
			return i
		}
	}
	return -1
}

// checkDN reports whether s parses as a non-empty RFC 4514 DN.
func checkDN(s string) (err error) {
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("the DN parser failed on it")
		}
	}()
	dn, err := ldaptext.ParseDN(s)
	if err != nil {
		return err
	}
	if len(dn.RDNs) == 0 {
		return fmt.Errorf("it has no attribute=value parts")
	}
	return nil
}

// queryYAML renders a group query in the form the parser reads back.
func queryYAML(q ldapbridge.GroupQuery) any {
	switch {
	case q.DN != "":
		return q.DN
	case q.Not != nil:
		return map[string]any{"not": queryYAML(*q.Not)}
	case q.All != nil:
		return map[string]any{"all": queryListYAML(q.All)}
	case q.Any != nil:
		return map[string]any{"any": queryListYAML(q.Any)}
	}
	return ""
}

func queryListYAML(qs []ldapbridge.GroupQuery) []any {
	out := make([]any, len(qs))
	for i, q := range qs {
		out[i] = queryYAML(q)
	}
	return out
}

// unmarshalForm decodes a node with the config decoder's forms, without
// ${VAR} expansion (that happens only in Parse).
func unmarshalForm(n *yaml.Node, target any) error {
	d := newDecoder(nil)
	d.decodeForm("value", n, reflect.ValueOf(target).Elem())
	return d.problems.err()
}

// UnmarshalYAML reads a duration such as "30s", "5m" or "12h".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalForm(n, d)
}

// MarshalYAML writes the duration in its short form, e.g. "30m".
func (d Duration) MarshalYAML() (any, error) { return formatDuration(d.D()), nil }

// String returns the short form, e.g. "30m".
func (d Duration) String() string { return formatDuration(d.D()) }

// UnmarshalYAML reads a rate such as "5/min", "30/hour" or "10/30s".
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalForm(n, r)
}

// MarshalYAML writes the rate as N/period.
func (r Rate) MarshalYAML() (any, error) { return formatRate(r), nil }

// String returns the rate as N/period, e.g. "5/min".
func (r Rate) String() string { return formatRate(r) }

// UnmarshalYAML reads a count ("50") or a percentage ("5%").
func (l *Limit) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalForm(n, l)
}

// MarshalYAML writes the limit as "50" or "5%".
func (l Limit) MarshalYAML() (any, error) { return formatLimit(l), nil }

// String returns the limit as "50" or "5%".
func (l Limit) String() string { return formatLimit(l) }

// UnmarshalYAML reads none, all, {only: [names]} or {except: [names]}.
func (m *Mirror) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalForm(n, m)
}

// MarshalYAML writes the mirror in the form UnmarshalYAML reads.
func (m Mirror) MarshalYAML() (any, error) {
	switch m.Mode {
	case "only", "except":
		names := m.Names
		if names == nil {
			names = []string{}
		}
		return map[string][]string{m.Mode: names}, nil
	case "":
		return "all", nil
	}
	return m.Mode, nil
}

// UnmarshalYAML reads one search mapping or a list of them.
func (s *Searches) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalForm(n, s)
}

// MarshalYAML writes the searches as a list; no search is written as null.
func (s Searches) MarshalYAML() (any, error) {
	if len(s) == 0 {
		return nil, nil
	}
	return []Search(s), nil
}

// MarshalYAML writes the access policy with group queries in their YAML forms.
func (a Access) MarshalYAML() (any, error) {
	flags := map[string]any{}
	for name, q := range a.Flags {
		flags[name] = queryYAML(q)
	}
	return struct {
		Require       any            `yaml:"require"`
		Deny          any            `yaml:"deny"`
		Flags         map[string]any `yaml:"flags"`
		AlwaysUpdate  bool           `yaml:"always_update"`
		NoNewUsers    bool           `yaml:"no_new_users"`
		LocalAccounts bool           `yaml:"local_accounts"`
		CacheTTL      Duration       `yaml:"cache_ttl"`
		LoginSource   string         `yaml:"login_source"`
		MirrorMaxLag  Duration       `yaml:"mirror_max_lag"`
		OfflineLogin  OfflineLogin   `yaml:"offline_login"`
		// PasswordChange is the last key written.
		PasswordChange bool `yaml:"password_change"`
	}{queryYAML(a.Require), queryYAML(a.Deny), flags, a.AlwaysUpdate, a.NoNewUsers, a.LocalAccounts, a.CacheTTL, a.LoginSource, a.MirrorMaxLag,
		a.OfflineLogin, a.PasswordChange}, nil
}
