package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ldapbridge/ldapbridge"
)

// decoder fills a Config from a yaml.Node tree: it expands ${VAR} in
// values, rejects unknown keys, names the key in every type error, and
// records which keys the file set.
type decoder struct {
	lookup   func(string) (string, bool)
	problems issues
	set      map[string]bool
	inline   map[string]bool
	failed   map[string]bool
	// budget caps the nodes visited, so alias bombs stay cheap.
	budget int
}

func newDecoder(lookup func(string) (string, bool)) *decoder {
	return &decoder{
		lookup: lookup,
		set:    map[string]bool{},
		inline: map[string]bool{},
		failed: map[string]bool{},
		budget: 100000,
	}
}

var (
	durationType   = reflect.TypeFor[Duration]()
	rateType       = reflect.TypeFor[Rate]()
	limitType      = reflect.TypeFor[Limit]()
	historyType    = reflect.TypeFor[History]()
	webhooksType   = reflect.TypeFor[[]Webhook]()
	mirrorType     = reflect.TypeFor[Mirror]()
	searchesType   = reflect.TypeFor[Searches]()
	queryType      = reflect.TypeFor[ldapbridge.GroupQuery]()
	secretType     = reflect.TypeFor[Secret]()
	flagsType      = reflect.TypeFor[map[string]ldapbridge.GroupQuery]()
	stringsType    = reflect.TypeFor[[]string]()
	stringMapType  = reflect.TypeFor[map[string]string]()
	validEnvName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	errOutOfBudget = &badValue{"the document is too large (too many nodes or aliases)", "write the configuration out without YAML alias tricks"}
)

// badValue is a problem with a value, with its fix.
type badValue struct{ problem, fix string }

func (b *badValue) Error() string { return b.problem + " — " + b.fix }

func (d *decoder) fail(key, problem, fix string) {
	d.problems.add(key, problem, fix)
	d.failed[key] = true
}

func (d *decoder) failWith(key string, err error) {
	if b, ok := err.(*badValue); ok {
		d.fail(key, b.problem, b.fix)
		return
	}
	d.fail(key, err.Error(), "")
}

func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

func index(key string, i, n int) string {
	if n == 1 {
		return key
	}
	return fmt.Sprintf("%s[%d]", key, i)
}

// quote renders a user value for an error message, shortened when long.
func quote(s string) string {
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return strconv.Quote(s)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "a single value"
}

// node follows aliases and spends budget; nil means the node is unusable
// (a problem has been recorded).
func (d *decoder) node(key string, n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		d.fail(key, "is an alias that leads nowhere", "define the anchor before using it")
		return nil
	}
	d.budget--
	if d.budget == -1 {
		d.failWith(key, errOutOfBudget)
	}
	if d.budget < 0 {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// expand replaces ${VAR} with the variable's value; $${ is a literal ${.
// refs reports whether any variable was referenced.
func (d *decoder) expand(key, s string) (out string, refs bool, ok bool) {
	if d.lookup == nil || !strings.Contains(s, "${") {
		return s, false, true
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), refs, true
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			d.fail(key, "has ${ without a closing }", "write ${NAME}, or $${ for a literal ${")
			return "", refs, false
		}
		name := s[i+2 : i+end]
		if !validEnvName.MatchString(name) {
			d.fail(key, fmt.Sprintf("${%s} is not a valid variable reference", name), "use ${NAME} with letters, digits and _, or $${ for a literal ${")
			return "", refs, false
		}
		val, found := d.lookup(name)
		if !found {
			d.fail(key, "environment variable "+name+" is not set", "export "+name+" before starting ldapbridge, or write $${ for a literal ${")
			return "", refs, false
		}
		refs = true
		b.WriteString(val)
		s = s[i+end+1:]
	}
}

// scalar returns the expanded text of a single-value node.
func (d *decoder) scalar(key string, n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(key, "must be a single value, not "+kindName(n), "")
		return "", false
	}
	s, _, ok := d.expand(key, n.Value)
	return s, ok
}

// decode stores the node n into v, which has the type of the key.
func (d *decoder) decode(key string, n *yaml.Node, v reflect.Value) {
	if n = d.node(key, n); n == nil || isNull(n) {
		return
	}
	d.set[key] = true
	if d.decodeForm(key, n, v) {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(key, n, v)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(key, "must be a single value, not "+kindName(n), "")
			return
		}
		s, refs, ok := d.expand(key, n.Value)
		if !ok {
			return
		}
		if v.Type() == secretType && !refs && s != "" {
			d.inline[key] = true
		}
		v.SetString(s)
	case reflect.Bool:
		if s, ok := d.scalar(key, n); ok {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true":
				v.SetBool(true)
			case "false":
				v.SetBool(false)
			default:
				d.fail(key, quote(s)+" is not true or false", "write true or false")
			}
		}
	case reflect.Int:
		if s, ok := d.scalar(key, n); ok {
			i, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				d.fail(key, quote(s)+" is not a number", "write a whole number, e.g. 500")
				return
			}
			v.SetInt(int64(i))
		}
	default:
		d.fail(key, "cannot be decoded (internal: "+v.Type().String()+")", "")
	}
}

// decodeForm handles the types with their own YAML forms.
func (d *decoder) decodeForm(key string, n *yaml.Node, v reflect.Value) bool {
	var parse func(string) (any, error)
	switch v.Type() {
	case durationType:
		parse = func(s string) (any, error) { return parseDuration(s) }
	case rateType:
		parse = func(s string) (any, error) { return parseRate(s) }
	case limitType:
		parse = func(s string) (any, error) { return parseLimit(s) }
	case historyType:
		parse = func(s string) (any, error) { return parseHistory(s) }
	case webhooksType:
		if w, ok := d.webhooks(key, n); ok {
			v.Set(reflect.ValueOf(w))
		}
		return true
	case mirrorType:
		if m, ok := d.mirror(key, n); ok {
			v.Set(reflect.ValueOf(m))
		}
		return true
	case searchesType:
		if s, ok := d.searches(key, n); ok {
			v.Set(reflect.ValueOf(s))
		}
		return true
	case queryType:
		if q, ok := d.groupQuery(key, n, 0); ok {
			v.Set(reflect.ValueOf(q))
		}
		return true
	case flagsType:
		d.flags(key, n, v)
		return true
	case stringsType:
		if l, ok := d.stringList(key, n); ok {
			v.Set(reflect.ValueOf(l))
		}
		return true
	case stringMapType:
		d.stringMap(key, n, v)
		return true
	default:
		return false
	}
	s, ok := d.scalar(key, n)
	if !ok {
		return true
	}
	val, err := parse(s)
	if err != nil {
		d.failWith(key, err)
		return true
	}
	v.Set(reflect.ValueOf(val).Convert(v.Type()))
	return true
}

// pairs walks a mapping's key/value pairs, rejecting non-string and
// repeated keys. fn receives the key name and its value node.
func (d *decoder) pairs(key string, n *yaml.Node, fn func(name string, k, val *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		d.fail(key, "must be a mapping (name: value lines), not "+kindName(n), "")
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			d.fail(key, "has a key that is "+kindName(k), "keys must be plain names")
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.fail(join(key, k.Value), "merge keys (<<) are not supported", "write the keys out")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.fail(join(key, k.Value), fmt.Sprintf("is set twice (lines %d and %d)", line, k.Line), "keep one")
			continue
		}
		seen[k.Value] = k.Line
		fn(k.Value, k, n.Content[i+1])
	}
	return true
}

// mapping decodes a YAML mapping into a struct with yaml tags.
func (d *decoder) mapping(key string, n *yaml.Node, v reflect.Value) {
	fields := map[string]int{}
	var names []string
	t := v.Type()
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" && tag != "-" {
			fields[tag] = i
			names = append(names, tag)
		}
	}
	d.pairs(key, n, func(name string, _, val *yaml.Node) {
		i, ok := fields[name]
		if !ok {
			d.unknownKey(join(key, name), name, names)
			return
		}
		d.decode(join(key, name), val, v.Field(i))
	})
}

// removedKeys are keys the configuration no longer accepts, each with
// what to do instead; a file that sets one is refused with that fix.
var removedKeys = map[string]struct{ problem, fix string }{
	"directory.follow_referrals": {
		"is not supported: referrals are never followed, a referral makes a read fail with ErrIncomplete (a sync then aborts without removals)",
		"remove the key, and point users.search and groups.search at bases this server holds",
	},
}

func (d *decoder) unknownKey(path, name string, siblings []string) {
	if r, ok := removedKeys[path]; ok {
		d.fail(path, r.problem, r.fix)
		return
	}
	fix := ""
	if strings.Contains(name, "=") {
		fix = "this looks like part of a DN that a { } mapping split at its commas — quote DNs inside { }"
	} else if s := suggest(name, siblings); s != "" {
		fix = "did you mean " + s + "?"
	} else if elsewhere := keysNamed(name); len(elsewhere) > 0 {
		fix = "did you mean " + strings.Join(elsewhere, " or ") + "? (it belongs in another section)"
	} else if len(siblings) > 0 {
		fix = "known keys here: " + strings.Join(siblings, ", ")
	}
	d.fail(path, "unknown key", fix)
}

// keysNamed lists the full paths of every configuration key called name.
func keysNamed(name string) []string {
	var out []string
	for _, path := range allKeys() {
		if path == name || strings.HasSuffix(path, "."+name) {
			out = append(out, path)
		}
	}
	return out
}

// allKeys lists every configuration key as a dotted path, from the yaml
// tags of Config (what the decoder accepts), parents before their keys.
// A key whose value is a group query, a mirror setting or a rate is one
// key, not its parts.
func allKeys() []string {
	var out []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			tag := t.Field(i).Tag.Get("yaml")
			if tag == "" || tag == "-" {
				continue
			}
			path := join(prefix, tag)
			out = append(out, path)
			ft := t.Field(i).Type
			if ft == searchesType {
				ft = reflect.TypeFor[Search]()
			}
			if ft == webhooksType {
				ft = reflect.TypeFor[Webhook]()
			}
			if ft.Kind() == reflect.Struct && ft != mirrorType && ft != queryType && ft != rateType && ft != limitType && ft != historyType {
				walk(path, ft)
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
	return out
}

func (d *decoder) stringList(key string, n *yaml.Node) ([]string, bool) {
	if n.Kind != yaml.SequenceNode {
		d.fail(key, "must be a list, not "+kindName(n), "write [a, b] or one '- item' per line")
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		k := fmt.Sprintf("%s[%d]", key, i)
		if item = d.node(k, item); item == nil {
			return nil, false
		}
		s, good := d.scalar(k, item)
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

func (d *decoder) stringMap(key string, n *yaml.Node, v reflect.Value) {
	m := map[string]string{}
	ok := d.pairs(key, n, func(name string, _, val *yaml.Node) {
		k := join(key, name)
		if val = d.node(k, val); val == nil {
			return
		}
		if s, good := d.scalar(k, val); good {
			m[name] = s
		}
	})
	if ok {
		v.Set(reflect.ValueOf(m))
	}
}

func (d *decoder) flags(key string, n *yaml.Node, v reflect.Value) {
	m := map[string]ldapbridge.GroupQuery{}
	ok := d.pairs(key, n, func(name string, _, val *yaml.Node) {
		if q, good := d.groupQuery(join(key, name), val, 0); good {
			m[name] = q
		}
	})
	if ok {
		v.Set(reflect.ValueOf(m))
	}
}

func (d *decoder) searches(key string, n *yaml.Node) (Searches, bool) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
		if len(items) == 0 {
			d.fail(key, "is an empty list", "give one search (base_dn, scope, filter) or remove the key")
			return nil, false
		}
	}
	out := make(Searches, len(items))
	before := len(d.problems)
	for i, item := range items {
		k := index(key, i, len(items))
		if item = d.node(k, item); item == nil {
			return nil, false
		}
		if item.Kind != yaml.MappingNode {
			d.fail(k, "must be a mapping with base_dn, scope and filter, not "+kindName(item), "")
			continue
		}
		d.mapping(k, item, reflect.ValueOf(&out[i]).Elem())
		if out[i].Scope == "" {
			out[i].Scope = "sub"
		}
	}
	return out, len(d.problems) == before
}

func (d *decoder) mirror(key string, n *yaml.Node) (Mirror, bool) {
	if n.Kind == yaml.ScalarNode {
		s, ok := d.scalar(key, n)
		if !ok {
			return Mirror{}, false
		}
		if s == "none" || s == "all" {
			return Mirror{Mode: s}, true
		}
		d.fail(key, quote(s)+" is not a mirror mode", "write none, all, {only: [names]} or {except: [names]}")
		return Mirror{}, false
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		d.fail(key, "must be none, all, or a mapping with exactly one of only/except", "e.g. mirror: {only: [staff, admins]}")
		return Mirror{}, false
	}
	mode := n.Content[0].Value
	k := join(key, mode)
	if mode != "only" && mode != "except" {
		d.unknownKey(k, mode, []string{"only", "except"})
		return Mirror{}, false
	}
	val := d.node(k, n.Content[1])
	if val == nil {
		return Mirror{}, false
	}
	names, ok := d.stringList(k, val)
	if !ok {
		return Mirror{}, false
	}
	for i, name := range names {
		if strings.TrimSpace(name) == "" {
			d.fail(fmt.Sprintf("%s[%d]", k, i), "is an empty group name", "remove it")
			return Mirror{}, false
		}
	}
	return Mirror{Mode: mode, Names: names}, true
}
