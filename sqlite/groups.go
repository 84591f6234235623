package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ldapbridge/ldapbridge"
)

const groupCols = `g.id, g.name, g.dn, g.stable_id, g.created_at, g.updated_at,
	(SELECT count(*) FROM user_groups ug WHERE ug.group_id = g.id)`

func scanGroup(row scanner) (*ldapbridge.Group, error) {
	var g ldapbridge.Group
	var created, updated int64
	if err := row.Scan(&g.ID, &g.Name, &g.DN, &g.StableID, &created, &updated, &g.DirectMembers); err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = fromMS(created), fromMS(updated)
	g.MemberGroups = []string{}
	return &g, nil
}

// memberGroups lists the names of the groups directly in group id.
const memberGroups = `SELECT c.name FROM group_groups gg JOIN groups c ON c.id = gg.child_id
WHERE gg.parent_id = ? ORDER BY c.name`

func (s *Store) oneGroup(ctx context.Context, what, where string, args ...any) (*ldapbridge.Group, error) {
	g, err := scanGroup(s.queryRow(ctx, `SELECT `+groupCols+` FROM groups g WHERE `+where, args...))
	if err != nil {
		return nil, wrap(err, what)
	}
	rows, err := s.query(ctx, memberGroups, g.ID)
	if err != nil {
		return nil, wrap(err, what)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, wrap(err, what)
		}
		g.MemberGroups = append(g.MemberGroups, name)
	}
	return g, wrap(rows.Err(), what)
}

// Group returns the group with exactly this name, with DirectMembers and
// MemberGroups filled.
func (s *Store) Group(ctx context.Context, name string) (*ldapbridge.Group, error) {
	return s.oneGroup(ctx, fmt.Sprintf("group %q", name), `g.name = ?`, name)
}

// GroupByDN returns the group whose DN equals dn case-insensitively.
func (s *Store) GroupByDN(ctx context.Context, dn string) (*ldapbridge.Group, error) {
	what := fmt.Sprintf("group with dn %q", dn)
	if dn == "" {
		return nil, notFound(what)
	}
	return s.oneGroup(ctx, what, `lower(g.dn) = lower(?) ORDER BY g.id LIMIT 1`, dn)
}

// ListGroups returns every group sorted by name, with DirectMembers and
// MemberGroups filled.
func (s *Store) ListGroups(ctx context.Context) ([]*ldapbridge.Group, error) {
	rows, err := s.query(ctx, `SELECT `+groupCols+` FROM groups g ORDER BY g.name`)
	if err != nil {
		return nil, wrap(err, "list groups")
	}
	defer rows.Close()
	out := []*ldapbridge.Group{}
	byID := map[int64]*ldapbridge.Group{}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, wrap(err, "list groups")
		}
		out = append(out, g)
		byID[g.ID] = g
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, "list groups")
	}
	rows.Close()
	edges, err := s.query(ctx, `SELECT gg.parent_id, c.name FROM group_groups gg
		JOIN groups c ON c.id = gg.child_id ORDER BY c.name`)
	if err != nil {
		return nil, wrap(err, "list groups")
	}
	defer edges.Close()
	for edges.Next() {
		var parent int64
		var name string
		if err := edges.Scan(&parent, &name); err != nil {
			return nil, wrap(err, "list groups")
		}
		if g := byID[parent]; g != nil {
			g.MemberGroups = append(g.MemberGroups, name)
		}
	}
	return out, wrap(edges.Err(), "list groups")
}

// UpsertGroup creates or updates the group matched by StableID, else DN
// (case-insensitively), else Name, and sets g.ID, g.CreatedAt and
// g.UpdatedAt. updated_at changes only when a field does.
func (s *Store) UpsertGroup(ctx context.Context, g *ldapbridge.Group) error {
	what := fmt.Sprintf("upsert group %q", g.Name)
	if g.Name == "" {
		return fmt.Errorf("sqlite: %s (dn %q): name is empty", what, g.DN)
	}
	var id, created, updated int64
	err := s.inTx(ctx, func(tx *Store) error {
		var cur struct{ name, dn, stableID string }
		found := false
		for _, m := range []struct{ cond, val string }{
			{`stable_id = ?`, g.StableID},
			{`lower(dn) = lower(?)`, g.DN},
			{`name = ?`, g.Name},
		} {
			if m.val == "" {
				continue
			}
			err := tx.queryRow(ctx, `SELECT id, name, dn, stable_id, created_at, updated_at FROM groups WHERE `+
				m.cond+` ORDER BY id LIMIT 1`, m.val).Scan(&id, &cur.name, &cur.dn, &cur.stableID, &created, &updated)
			if err == nil {
				found = true
				break
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return wrap(err, what)
			}
		}
		t := toMS(now())
		if !found {
			err := tx.queryRow(ctx, `INSERT INTO groups (name, dn, stable_id, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?) RETURNING id`, g.Name, g.DN, g.StableID, t, t).Scan(&id)
			created, updated = t, t
			return wrap(err, what)
		}
		if cur.name == g.Name && cur.dn == g.DN && cur.stableID == g.StableID {
			return nil
		}
		updated = t
		_, err := tx.exec(ctx, `UPDATE groups SET name = ?, dn = ?, stable_id = ?, updated_at = ? WHERE id = ?`,
			g.Name, g.DN, g.StableID, t, id)
		return wrap(err, what)
	})
	if err != nil {
		return err
	}
	g.ID, g.CreatedAt, g.UpdatedAt = id, fromMS(created), fromMS(updated)
	return nil
}

// DeleteGroup removes the group and every membership edge that touches it.
func (s *Store) DeleteGroup(ctx context.Context, id int64) error {
	res, err := s.exec(ctx, `DELETE FROM groups WHERE id = ?`, id)
	return mustAffect(res, err, fmt.Sprintf("delete group id %d", id))
}

// idsJSON encodes ids as a JSON array for json_each.
func idsJSON(ids []int64) string {
	if ids == nil {
		ids = []int64{}
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// SetUserGroups makes groupIDs exactly the user's direct groups.
func (s *Store) SetUserGroups(ctx context.Context, userID int64, groupIDs []int64) error {
	what := fmt.Sprintf("set groups of user id %d", userID)
	return s.setEdges(ctx, what, `SELECT 1 FROM users WHERE id = ?`,
		`DELETE FROM user_groups WHERE user_id = ?1 AND group_id NOT IN (SELECT value FROM json_each(?2))`,
		`INSERT OR IGNORE INTO user_groups (user_id, group_id) SELECT ?1, value FROM json_each(?2)`,
		userID, groupIDs)
}

// SetGroupParents makes parentIDs exactly the groups group groupID is
// directly a member of.
func (s *Store) SetGroupParents(ctx context.Context, groupID int64, parentIDs []int64) error {
	what := fmt.Sprintf("set parents of group id %d", groupID)
	return s.setEdges(ctx, what, `SELECT 1 FROM groups WHERE id = ?`,
		`DELETE FROM group_groups WHERE child_id = ?1 AND parent_id NOT IN (SELECT value FROM json_each(?2))`,
		`INSERT OR IGNORE INTO group_groups (child_id, parent_id) SELECT ?1, value FROM json_each(?2)`,
		groupID, parentIDs)
}

func (s *Store) setEdges(ctx context.Context, what, exists, del, ins string, id int64, ids []int64) error {
	list := idsJSON(ids)
	return s.inTx(ctx, func(tx *Store) error {
		var one int
		if err := tx.queryRow(ctx, exists, id).Scan(&one); err != nil {
			return wrap(err, what)
		}
		if _, err := tx.exec(ctx, del, id, list); err != nil {
			return wrap(err, what)
		}
		_, err := tx.exec(ctx, ins, id, list)
		return wrap(err, what)
	})
}

// Memberships returns every direct edge, ordered by group, then user, then
// child group.
func (s *Store) Memberships(ctx context.Context) ([]ldapbridge.Membership, error) {
	rows, err := s.query(ctx, `SELECT group_id, user_id, 0 FROM user_groups
		UNION ALL SELECT parent_id, 0, child_id FROM group_groups ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, wrap(err, "list memberships")
	}
	defer rows.Close()
	out := []ldapbridge.Membership{}
	for rows.Next() {
		var m ldapbridge.Membership
		if err := rows.Scan(&m.GroupID, &m.UserID, &m.ChildGroupID); err != nil {
			return nil, wrap(err, "list memberships")
		}
		out = append(out, m)
	}
	return out, wrap(rows.Err(), "list memberships")
}

// edgeSQL picks the statement for m, which must name exactly one member.
func edgeSQL(m ldapbridge.Membership, userSQL, groupSQL string) (string, int64, error) {
	switch {
	case m.GroupID == 0:
		return "", 0, fmt.Errorf("membership %+v: GroupID is not set", m)
	case m.UserID != 0 && m.ChildGroupID == 0:
		return userSQL, m.UserID, nil
	case m.UserID == 0 && m.ChildGroupID != 0:
		return groupSQL, m.ChildGroupID, nil
	}
	return "", 0, fmt.Errorf("membership %+v: set exactly one of UserID and ChildGroupID", m)
}

// AddMemberships adds direct edges; edges that exist are left alone.
func (s *Store) AddMemberships(ctx context.Context, ms []ldapbridge.Membership) error {
	return s.changeEdges(ctx, "add", ms,
		`INSERT OR IGNORE INTO user_groups (user_id, group_id) VALUES (?, ?)`,
		`INSERT OR IGNORE INTO group_groups (child_id, parent_id) VALUES (?, ?)`)
}

// RemoveMemberships removes direct edges; edges that do not exist are no error.
func (s *Store) RemoveMemberships(ctx context.Context, ms []ldapbridge.Membership) error {
	return s.changeEdges(ctx, "remove", ms,
		`DELETE FROM user_groups WHERE user_id = ? AND group_id = ?`,
		`DELETE FROM group_groups WHERE child_id = ? AND parent_id = ?`)
}

func (s *Store) changeEdges(ctx context.Context, verb string, ms []ldapbridge.Membership, userSQL, groupSQL string) error {
	if len(ms) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *Store) error {
		for _, m := range ms {
			q, member, err := edgeSQL(m, userSQL, groupSQL)
			if err != nil {
				return fmt.Errorf("sqlite: %s memberships: %w", verb, err)
			}
			if _, err := tx.exec(ctx, q, member, m.GroupID); err != nil {
				return wrap(err, fmt.Sprintf("%s membership %+v", verb, m))
			}
		}
		return nil
	})
}
