package slapdtest

import (
	"bufio"
	"fmt"
	"io"
	"math/rand"
	"slices"
)

// Layout of the directories written by GenerateLDIF.
const (
	BulkOrgDN   = "o=bulk0001," + JCBaseDN
	BulkUsersDN = "ou=Users," + BulkOrgDN
)

// BulkUserUID returns the uid of generated user i (0-based).
func BulkUserUID(i int) string { return fmt.Sprintf("user%06d", i) }

// BulkUserDN returns the DN of generated user i.
func BulkUserDN(i int) string { return "uid=" + BulkUserUID(i) + "," + BulkUsersDN }

// BulkUserPassword returns the userPassword of generated user i.
func BulkUserPassword(i int) string { return fmt.Sprintf("bulk-Pw-%06d", i) }

// BulkGroupDN returns the DN of generated groupOfNames j (0-based).
func BulkGroupDN(j int) string { return fmt.Sprintf("cn=group%05d,%s", j, BulkUsersDN) }

// GenerateLDIF writes a JumpCloud-shaped directory under BulkUsersDN, starting
// with the dc=jumpcloud,dc=com suffix entry, for Options.Bulk: users users in
// 1–3 groups each, and groups groupOfNames entries, every tenth of which also
// contains the next group. The same seed gives the same LDIF.
func GenerateLDIF(w io.Writer, users, groups int, seed int64) error {
	if users < 1 || groups < 1 {
		return fmt.Errorf("GenerateLDIF: users (%d) and groups (%d) must both be at least 1", users, groups)
	}
	rng := rand.New(rand.NewSource(seed))
	members := make([][]int, groups)
	for i := range users {
		for _, g := range distinct(rng, groups, 1+rng.Intn(3)) {
			members[g] = append(members[g], i)
		}
	}
	bw := bufio.NewWriter(w)
	b := &ldifBuilder{}
	flush := func() error {
		_, err := bw.WriteString(b.String())
		b.Reset()
		return err
	}
	b.WriteString(suffixEntry(JCBaseDN))
	b.entry(BulkOrgDN, "objectClass", "organization", "o", "bulk0001")
	b.entry(BulkUsersDN, "objectClass", "organizationalUnit", "ou", "Users")
	for i := range users {
		uid := BulkUserUID(i)
		b.entry(BulkUserDN(i),
			"objectClass", "inetOrgPerson", "objectClass", "posixAccount",
			"uid", uid, "cn", "User "+uid, "givenName", "User", "sn", uid,
			"displayName", "User "+uid, "mail", uid+"@bulk.example",
			"employeeNumber", fmt.Sprint(i), "departmentNumber", fmt.Sprintf("dept%02d", rng.Intn(20)),
			"uidNumber", fmt.Sprint(100000+i), "gidNumber", "100000",
			"homeDirectory", "/home/"+uid, "loginShell", "/bin/bash",
			"userPassword", BulkUserPassword(i))
		if err := flush(); err != nil {
			return err
		}
	}
	for j := range groups {
		kv := []string{"objectClass", "groupOfNames", "cn", fmt.Sprintf("group%05d", j)}
		for _, i := range members[j] {
			kv = append(kv, "member", BulkUserDN(i))
		}
		if j%10 == 0 && j+1 < groups {
			kv = append(kv, "member", BulkGroupDN(j+1))
		}
		if len(kv) == 4 { // groupOfNames requires a member
			kv = append(kv, "member", BulkUserDN(rng.Intn(users)))
		}
		b.entry(BulkGroupDN(j), kv...)
		if err := flush(); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// distinct returns up to k different numbers in [0, n).
func distinct(rng *rand.Rand, n, k int) []int {
	k = min(k, n)
	out := make([]int, 0, k)
	for len(out) < k {
		if v := rng.Intn(n); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
