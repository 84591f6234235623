package demodir

import (
	"crypto/rand"
	"crypto/sha1"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge"
)

const (
	generalizedTime = "20060102150405Z"
	managerDN       = "cn=demodir," + SuffixDN
)

// record is one stored entry. Records are immutable once in the tree: every
// change stores a modified copy, so a paged search can hold on to them.
type record struct {
	dn       string
	rdns     []string // normalized RDNs, leaf first
	attrs    []ldapbridge.Attribute
	password string
	uuid     string
	created  time.Time
	modified time.Time
	modifier string
}

func (r *record) key() string       { return strings.Join(r.rdns, ",") }
func (r *record) parentKey() string { return strings.Join(r.rdns[1:], ",") }

func (r *record) raw(name string) [][]byte {
	for _, a := range r.attrs {
		if strings.EqualFold(a.Name, name) {
			return a.Values
		}
	}
	return nil
}

// setRaw replaces (or with no values removes) an attribute; only for records
// not yet published in the tree.
func (r *record) setRaw(name string, values [][]byte) {
	for i, a := range r.attrs {
		if strings.EqualFold(a.Name, name) {
			if len(values) == 0 {
				r.attrs = append(r.attrs[:i:i], r.attrs[i+1:]...)
			} else {
				r.attrs[i] = ldapbridge.Attribute{Name: a.Name, Values: values}
			}
			return
		}
	}
	if len(values) > 0 {
		r.attrs = append(r.attrs, ldapbridge.Attribute{Name: name, Values: values})
	}
}

func (r *record) clone() *record {
	c := *r
	c.attrs = make([]ldapbridge.Attribute, len(r.attrs))
	copy(c.attrs, r.attrs)
	c.rdns = append([]string(nil), r.rdns...)
	return &c
}

func newRecord(dn string, attrs map[string][]string, password string, at time.Time, uuid string) (*record, error) {
	rdns, err := normDN(dn)
	if err != nil {
		return nil, err
	}
	if len(rdns) == 0 {
		return nil, fmt.Errorf("demodir: the empty DN is the root DSE and cannot be stored")
	}
	r := &record{dn: dn, rdns: rdns, password: password, uuid: uuid, created: at, modified: at, modifier: managerDN}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.SliceStable(names, func(i, j int) bool { return attrOrder(names[i]) < attrOrder(names[j]) })
	for _, n := range names {
		if operational[strings.ToLower(n)] {
			return nil, fmt.Errorf("demodir: %s: %s is an operational attribute maintained by the server", dn, n)
		}
		r.setRaw(n, toRaw(attrs[n]))
	}
	return r, nil
}

// attrOrder puts objectClass first and the rest alphabetically.
func attrOrder(name string) string {
	if strings.EqualFold(name, "objectClass") {
		return ""
	}
	return strings.ToLower(name)
}

func toRaw(values []string) [][]byte {
	out := make([][]byte, len(values))
	for i, v := range values {
		out[i] = []byte(v)
	}
	return out
}

// normDN parses dn and returns its RDNs normalized for comparison, leaf first:
// types and values lowercased, multi-valued RDNs sorted, values re-escaped.
func normDN(dn string) ([]string, error) {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return nil, fmt.Errorf("demodir: invalid DN %q: %w", dn, err)
	}
	rdns := make([]string, len(parsed.RDNs))
	for i, rdn := range parsed.RDNs {
		avas := make([]string, len(rdn.Attributes))
		for k, a := range rdn.Attributes {
			avas[k] = strings.ToLower(a.Type) + "=" + ldap.EscapeDN(strings.ToLower(a.Value))
		}
		sort.Strings(avas)
		rdns[i] = strings.Join(avas, "+")
	}
	return rdns, nil
}

// dnKey is the normalized form of dn, or its lowercased text when unparsable.
func dnKey(dn string) string {
	rdns, err := normDN(dn)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	return strings.Join(rdns, ",")
}

func isDN(s string) bool { return strings.Contains(s, "=") }

func firstRDNValue(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 {
		return ""
	}
	return parsed.RDNs[0].Attributes[0].Value
}

// deterministicUUID derives a version-5-style UUID from the DN, so the demo
// data has the same entryUUIDs on every run.
func deterministicUUID(dn string) string {
	sum := sha1.Sum([]byte("ldapbridge-demodir:" + dnKey(dn)))
	return formatUUID(sum[:16], 0x50)
}

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return formatUUID(b[:], 0x40)
}

func formatUUID(b []byte, version byte) string {
	b[6] = b[6]&0x0f | version
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// tree is the directory's content, in insertion order (parents first).
type tree struct {
	mu       sync.RWMutex
	order    []string
	byKey    map[string]*record
	children map[string]int      // parent key → number of children
	memberOf map[string][]string // member key → DNs of the groups listing it
}

func newTree() *tree {
	return &tree{byKey: map[string]*record{}, children: map[string]int{}, memberOf: map[string][]string{}}
}

// insert adds a new record; the caller holds no lock.
func (t *tree) insert(r *record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.insertLocked(r)
}

func (t *tree) insertLocked(r *record) error {
	key := r.key()
	if _, ok := t.byKey[key]; ok {
		return fmt.Errorf("demodir: add %s: entry already exists", r.dn)
	}
	if key != dnKey(SuffixDN) {
		if _, ok := t.byKey[r.parentKey()]; !ok {
			return fmt.Errorf("demodir: add %s: parent entry does not exist (entries must be under %s)", r.dn, SuffixDN)
		}
	}
	t.byKey[key] = r
	t.order = append(t.order, key)
	t.children[r.parentKey()]++
	t.reindex()
	return nil
}

// reindex rebuilds the memberOf index from every groupOfNames' member values.
func (t *tree) reindex() {
	t.memberOf = map[string][]string{}
	for _, k := range t.order {
		r := t.byKey[k]
		for _, m := range r.raw("member") {
			mk := dnKey(string(m))
			t.memberOf[mk] = append(t.memberOf[mk], r.dn)
		}
	}
}

// lookup returns the record for dn, or nil.
func (t *tree) lookup(dn string) *record {
	rdns, err := normDN(dn)
	if err != nil {
		return nil
	}
	return t.byKey[strings.Join(rdns, ",")]
}

// view is the full attribute list of r: user attributes followed by the
// operational ones the server computes. The caller holds t.mu.
func (t *tree) view(r *record) []ldapbridge.Attribute {
	out := make([]ldapbridge.Attribute, 0, len(r.attrs)+10)
	out = append(out, r.attrs...)
	op := func(name string, values ...string) {
		out = append(out, ldapbridge.Attribute{Name: name, Values: toRaw(values)})
	}
	op("structuralObjectClass", structuralClass(r))
	op("entryUUID", r.uuid)
	op("creatorsName", managerDN)
	op("createTimestamp", r.created.UTC().Format(generalizedTime))
	op("modifiersName", r.modifier)
	op("modifyTimestamp", r.modified.UTC().Format(generalizedTime))
	op("entryDN", r.dn)
	op("subschemaSubentry", "cn=Subschema")
	has := "FALSE"
	if t.children[r.key()] > 0 {
		has = "TRUE"
	}
	op("hasSubordinates", has)
	if groups := t.memberOf[r.key()]; len(groups) > 0 {
		op("memberOf", groups...)
	}
	return out
}

func structuralClass(r *record) string {
	classes := map[string]bool{}
	for _, v := range r.raw("objectClass") {
		classes[strings.ToLower(string(v))] = true
	}
	for _, c := range []string{"inetOrgPerson", "groupOfNames", "groupOfUniqueNames", "posixGroup", "organizationalUnit", "organization", "person"} {
		if classes[strings.ToLower(c)] {
			return c
		}
	}
	return "top"
}

// operational lists the attributes the server computes, returned only when
// asked for by name or with "+".
var operational = map[string]bool{
	"structuralobjectclass": true, "entryuuid": true, "creatorsname": true,
	"createtimestamp": true, "modifiersname": true, "modifytimestamp": true,
	"entrydn": true, "subschemasubentry": true, "hassubordinates": true,
	"memberof": true,
}
