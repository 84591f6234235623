package sambatest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
)

// seed adds the fixtures as Administrator over LDAPS (unicodePwd needs TLS).
func (dc *DC) seed() error {
	c, err := dc.adminConn()
	if err != nil {
		return err
	}
	defer c.Close()
	policy := ldap.NewModifyRequest(BaseDN, nil)
	policy.Replace("lockoutThreshold", []string{strconv.Itoa(LockoutThreshold)})
	if err := c.Modify(policy); err != nil {
		return fmt.Errorf("set lockoutThreshold: %w", err)
	}
	for _, ou := range []string{RootDN, PeopleDN, GroupsDN, BulkDN, ServiceOU} {
		req := ldap.NewAddRequest(ou, nil)
		req.Attribute("objectClass", []string{"organizationalUnit"})
		if err := c.Add(req); err != nil {
			return fmt.Errorf("add %s: %w", ou, err)
		}
	}
	for _, g := range fixtureGroups {
		req := ldap.NewAddRequest(GroupDN(g.name), nil)
		req.Attribute("objectClass", []string{"group"})
		req.Attribute("sAMAccountName", []string{g.name})
		if err := c.Add(req); err != nil {
			return fmt.Errorf("add group %s: %w", g.name, err)
		}
	}
	for _, g := range fixtureGroups {
		for _, p := range g.parents {
			if err := addMembers(c, GroupDN(p), GroupDN(g.name)); err != nil {
				return err
			}
		}
	}
	for _, u := range fixtureUsers() {
		if err := addUser(c, u); err != nil {
			return err
		}
	}
	if err := dc.afterUsers(c); err != nil {
		return err
	}
	return dc.seedBulk(c)
}

func addUser(c *ldap.Conn, u user) error {
	dn := UserDN(u.sam)
	if u.sam == ServiceSAM {
		dn = ServiceDN
	}
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"user"})
	req.Attribute("sAMAccountName", []string{u.sam})
	req.Attribute("userPrincipalName", []string{UPN(u.sam)})
	req.Attribute("givenName", []string{u.given})
	req.Attribute("sn", []string{u.sn})
	req.Attribute("displayName", []string{u.given + " " + u.sn})
	if u.mail != "" {
		req.Attribute("mail", []string{u.mail})
	}
	if u.title != "" {
		req.Attribute("title", []string{u.title})
	}
	if u.photo {
		req.Attribute("thumbnailPhoto", []string{string(Photo())})
	}
	req.Attribute("unicodePwd", []string{unicodePwd(u.password)})
	uac := []string{"512"}
	if v, ok := u.extra["userAccountControl"]; ok {
		uac = v
	}
	req.Attribute("userAccountControl", uac)
	for k, v := range u.extra {
		if k != "userAccountControl" {
			req.Attribute(k, v)
		}
	}
	if err := c.Add(req); err != nil {
		return fmt.Errorf("add user %s: %w", dn, err)
	}
	for _, g := range u.groups {
		if err := addMembers(c, GroupDN(g), dn); err != nil {
			return err
		}
	}
	return nil
}

// afterUsers sets what cannot be set at creation: Mona's pwdLastSet 0,
// Hank's empty logonHours, and Staff as Alice's primary group.
func (dc *DC) afterUsers(c *ldap.Conn) error {
	mona := ldap.NewModifyRequest(UserDN(MonaSAM), nil)
	mona.Replace("pwdLastSet", []string{"0"})
	hank := ldap.NewModifyRequest(UserDN(HankSAM), nil)
	hank.Replace("logonHours", []string{string(make([]byte, 21))})
	for _, m := range []*ldap.ModifyRequest{mona, hank} {
		if err := c.Modify(m); err != nil {
			return fmt.Errorf("modify %s: %w", m.DN, err)
		}
	}
	res, err := c.Search(ldap.NewSearchRequest(GroupDN(StaffGroup), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"objectSid"}, nil))
	if err != nil || len(res.Entries) != 1 {
		return fmt.Errorf("read Staff's objectSid: %v", err)
	}
	rid, err := SIDRID(res.Entries[0].GetRawAttributeValue("objectSid"))
	if err != nil {
		return err
	}
	alice := ldap.NewModifyRequest(UserDN(AliceSAM), nil)
	alice.Replace("primaryGroupID", []string{strconv.FormatUint(uint64(rid), 10)})
	if err := c.Modify(alice); err != nil {
		return fmt.Errorf("make Staff Alice's primary group: %w", err)
	}
	return nil
}

// seedBulk adds BigMembers users without passwords (on four connections)
// and puts them all in Big Group.
func (dc *DC) seedBulk(c *ldap.Conn) error {
	const workers = 4
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wc, err := dc.adminConn()
			if err != nil {
				errs[w] = err
				return
			}
			defer wc.Close()
			for i := w; i < BigMembers; i += workers {
				req := ldap.NewAddRequest(BulkUserDN(i), nil)
				req.Attribute("objectClass", []string{"user"})
				req.Attribute("sAMAccountName", []string{BulkUserSAM(i)})
				if err := wc.Add(req); err != nil {
					errs[w] = fmt.Errorf("add %s: %w", BulkUserDN(i), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for start := 0; start < BigMembers; start += 500 {
		var dns []string
		for i := start; i < min(start+500, BigMembers); i++ {
			dns = append(dns, BulkUserDN(i))
		}
		if err := addMembers(c, GroupDN(BigGroup), dns...); err != nil {
			return err
		}
	}
	return nil
}

func addMembers(c *ldap.Conn, group string, members ...string) error {
	req := ldap.NewModifyRequest(group, nil)
	req.Add("member", members)
	if err := c.Modify(req); err != nil {
		return fmt.Errorf("add %d member(s) to %s: %w", len(members), group, err)
	}
	return nil
}

// unicodePwd encodes a password as AD wants it: quoted, UTF-16LE.
func unicodePwd(pw string) string {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return string(b)
}

// SIDRID returns the last sub-authority (the RID) of a binary SID.
func SIDRID(sid []byte) (uint32, error) {
	if len(sid) < 12 || len(sid) != 8+4*int(sid[1]) || sid[1] == 0 {
		return 0, fmt.Errorf("malformed objectSid (%d bytes)", len(sid))
	}
	return binary.LittleEndian.Uint32(sid[len(sid)-4:]), nil
}
