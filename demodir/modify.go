package demodir

import (
	"fmt"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

// Entries returns a copy of every entry, parents first, with the operational
// attributes (entryUUID, timestamps, memberOf, ...) included.
func (s *Server) Entries() []*ldapbridge.Entry {
	t := s.tree
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*ldapbridge.Entry, 0, len(t.order))
	for _, k := range t.order {
		r := t.byKey[k]
		out = append(out, &ldapbridge.Entry{DN: r.dn, Attributes: t.view(r)})
	}
	return out
}

// Entry returns a copy of the entry named dn with its operational
// attributes, or nil when there is none.
func (s *Server) Entry(dn string) *ldapbridge.Entry {
	t := s.tree
	t.mu.RLock()
	defer t.mu.RUnlock()
	r := t.lookup(dn)
	if r == nil {
		return nil
	}
	return &ldapbridge.Entry{DN: r.dn, Attributes: t.view(r)}
}

// SetAttribute replaces the values of attr on the entry dn (no values removes
// it) and bumps its modifyTimestamp, as an LDAP modify/replace would.
func (s *Server) SetAttribute(dn, attr string, values ...string) error {
	return s.SetRawAttribute(dn, attr, toRaw(values)...)
}

// SetRawAttribute is SetAttribute for binary values such as jpegPhoto.
func (s *Server) SetRawAttribute(dn, attr string, values ...[]byte) error {
	if operational[strings.ToLower(attr)] {
		return fmt.Errorf("demodir: set %s on %s: operational attribute computed by the server (for memberOf, change the group's member values)", attr, dn)
	}
	return s.tree.modify(dn, func(r *record) error {
		if rdnAttr(r) == strings.ToLower(attr) {
			return fmt.Errorf("naming attribute %s cannot be replaced — use Rename", attr)
		}
		r.setRaw(attr, values)
		return nil
	})
}

// SetPassword changes the password of the entry dn.
func (s *Server) SetPassword(dn, password string) error {
	return s.tree.modify(dn, func(r *record) error {
		r.password = password
		return nil
	})
}

// Add stores a new entry with a fresh random entryUUID. Its parent must
// exist; password may be empty for entries that cannot bind.
func (s *Server) Add(dn string, attrs map[string][]string, password string) error {
	r, err := newRecord(dn, attrs, password, time.Now(), randomUUID())
	if err != nil {
		return err
	}
	if len(r.raw(strings.SplitN(r.rdns[0], "=", 2)[0])) == 0 {
		return fmt.Errorf("demodir: add %s: the naming attribute of the RDN is missing from the attributes", dn)
	}
	return s.tree.insert(r)
}

// Delete removes the leaf entry dn and, like OpenLDAP's refint overlay, the
// member values that pointed at it.
func (s *Server) Delete(dn string) error {
	t := s.tree
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.lookup(dn)
	if r == nil {
		return fmt.Errorf("demodir: delete %s: %w", dn, ErrNoSuchEntry)
	}
	key := r.key()
	if t.children[key] > 0 {
		return fmt.Errorf("demodir: delete %s: entry has children; delete them first", dn)
	}
	delete(t.byKey, key)
	for i, k := range t.order {
		if k == key {
			t.order = append(t.order[:i:i], t.order[i+1:]...)
			break
		}
	}
	t.children[r.parentKey()]--
	t.replaceMemberLocked(key, "")
	t.reindex()
	return nil
}

// Rename gives the leaf entry dn a new RDN (e.g. "uid=jdoe2") under the same
// parent, keeping its entryUUID and updating member values that named it.
func (s *Server) Rename(dn, newRDN string) error {
	t := s.tree
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.lookup(dn)
	if r == nil {
		return fmt.Errorf("demodir: rename %s: %w", dn, ErrNoSuchEntry)
	}
	oldKey := r.key()
	if t.children[oldKey] > 0 {
		return fmt.Errorf("demodir: rename %s: only leaf entries can be renamed", dn)
	}
	parentDN := ""
	if i := strings.Index(r.dn, ","); i >= 0 && len(r.rdns) > 1 {
		parentDN = r.dn[i+1:]
	}
	newDN := newRDN + "," + parentDN
	nr, err := newRecord(newDN, nil, "", r.created, r.uuid)
	if err != nil {
		return err
	}
	if nr.parentKey() != r.parentKey() || len(nr.rdns) != len(r.rdns) {
		return fmt.Errorf("demodir: rename %s: new RDN %q must be a single RDN", dn, newRDN)
	}
	if _, ok := t.byKey[nr.key()]; ok {
		return fmt.Errorf("demodir: rename %s to %s: entry already exists", dn, newDN)
	}
	c := r.clone()
	c.dn, c.rdns = newDN, nr.rdns
	name, _, _ := strings.Cut(newRDN, "=")
	c.setRaw(strings.TrimSpace(name), [][]byte{[]byte(firstRDNValue(newDN))})
	c.modified = time.Now()
	delete(t.byKey, oldKey)
	t.byKey[c.key()] = c
	for i, k := range t.order {
		if k == oldKey {
			t.order[i] = c.key()
		}
	}
	t.replaceMemberLocked(oldKey, newDN)
	t.reindex()
	return nil
}

// modify applies change to a copy of the entry dn and stores it.
func (t *tree) modify(dn string, change func(r *record) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.lookup(dn)
	if r == nil {
		return fmt.Errorf("demodir: modify %s: %w", dn, ErrNoSuchEntry)
	}
	c := r.clone()
	if err := change(c); err != nil {
		return fmt.Errorf("demodir: modify %s: %w", dn, err)
	}
	c.modified = time.Now()
	c.modifier = managerDN
	t.byKey[c.key()] = c
	t.reindex()
	return nil
}

// replaceMemberLocked rewrites member values naming oldKey to newDN, or
// drops them when newDN is empty, bumping each changed group.
func (t *tree) replaceMemberLocked(oldKey, newDN string) {
	for _, k := range t.order {
		g := t.byKey[k]
		members := g.raw("member")
		var kept [][]byte
		changed := false
		for _, m := range members {
			if dnKey(string(m)) != oldKey {
				kept = append(kept, m)
				continue
			}
			changed = true
			if newDN != "" {
				kept = append(kept, []byte(newDN))
			}
		}
		if changed {
			c := g.clone()
			c.setRaw("member", kept)
			c.modified = time.Now()
			t.byKey[k] = c
		}
	}
}

func rdnAttr(r *record) string {
	name, _, _ := strings.Cut(r.rdns[0], "=")
	return name
}
