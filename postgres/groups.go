package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ldapbridge/ldapbridge"
)

const groupCols = `g.id, g.name, g.dn, g.stable_id, g.created_at, g.updated_at,
	(SELECT count(*) FROM user_groups ug WHERE ug.group_id = g.id)`

func scanGroup(row pgx.Row) (*ldapbridge.Group, error) {
	var g ldapbridge.Group
	if err := row.Scan(&g.ID, &g.Name, &g.DN, &g.StableID, &g.CreatedAt, &g.UpdatedAt, &g.DirectMembers); err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
	g.MemberGroups = []string{}
	return &g, nil
}

// memberGroups lists the names of the groups directly in group id.
const memberGroups = `SELECT c.name FROM group_groups gg JOIN groups c ON c.id = gg.child_id
WHERE gg.parent_id = $1 ORDER BY c.name`

func (s *Store) oneGroup(ctx context.Context, what, where string, args ...any) (*ldapbridge.Group, error) {
	g, err := scanGroup(s.q.QueryRow(ctx, `SELECT `+groupCols+` FROM groups g WHERE `+where, args...))
	if err != nil {
		return nil, wrap(err, what)
	}
	rows, err := s.q.Query(ctx, memberGroups, g.ID)
	if err != nil {
		return nil, wrap(err, what)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap(err, what)
	}
	g.MemberGroups = append(g.MemberGroups, names...)
	return g, nil
}

// Group returns the group with exactly this name, with DirectMembers and
// MemberGroups filled.
func (s *Store) Group(ctx context.Context, name string) (*ldapbridge.Group, error) {
	return s.oneGroup(ctx, fmt.Sprintf("group %q", name), `g.name = $1`, name)
}

// GroupByDN returns the group whose DN equals dn case-insensitively.
func (s *Store) GroupByDN(ctx context.Context, dn string) (*ldapbridge.Group, error) {
	what := fmt.Sprintf("group with dn %q", dn)
	if dn == "" {
		return nil, notFound(what)
	}
	return s.oneGroup(ctx, what, `lower(g.dn) = lower($1) ORDER BY g.id LIMIT 1`, dn)
}

// ListGroups returns every group sorted by name, with DirectMembers and
// MemberGroups filled.
func (s *Store) ListGroups(ctx context.Context) ([]*ldapbridge.Group, error) {
	rows, err := s.q.Query(ctx, `SELECT `+groupCols+` FROM groups g ORDER BY g.name`)
	if err != nil {
		return nil, wrap(err, "list groups")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ldapbridge.Group, error) { return scanGroup(r) })
	if err != nil {
		return nil, wrap(err, "list groups")
	}
	if out == nil {
		out = []*ldapbridge.Group{}
	}
	byID := map[int64]*ldapbridge.Group{}
	for _, g := range out {
		byID[g.ID] = g
	}
	edges, err := s.q.Query(ctx, `SELECT gg.parent_id, c.name FROM group_groups gg
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

// groupRow is a stored group's identity and times.
type groupRow struct {
	id               int64
	name, dn, stable string
	created, updated time.Time
	found            bool
}

// findGroup looks g up by StableID, else DN (case-insensitively), else Name.
func (s *Store) findGroup(ctx context.Context, g *ldapbridge.Group) (groupRow, error) {
	var r groupRow
	for _, m := range []struct{ cond, val string }{
		{`stable_id = $1`, g.StableID},
		{`lower(dn) = lower($1)`, g.DN},
		{`name = $1`, g.Name},
	} {
		if m.val == "" {
			continue
		}
		err := s.q.QueryRow(ctx, `SELECT id, name, dn, stable_id, created_at, updated_at FROM groups WHERE `+
			m.cond+` ORDER BY id LIMIT 1`, m.val).Scan(&r.id, &r.name, &r.dn, &r.stable, &r.created, &r.updated)
		if err == nil {
			r.found = true
			return r, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return r, err
		}
	}
	return r, nil
}

// UpsertGroup creates or updates the group matched by StableID, else DN
// (case-insensitively), else Name, and sets g.ID, g.CreatedAt and
// g.UpdatedAt. updated_at changes only when a field does. When another
// instance creates the same group at the same time, this one updates it.
func (s *Store) UpsertGroup(ctx context.Context, g *ldapbridge.Group) error {
	what := fmt.Sprintf("upsert group %q", g.Name)
	if g.Name == "" {
		return fmt.Errorf("postgres: %s (dn %q): name is empty", what, g.DN)
	}
	var r groupRow
	err := s.inTx(ctx, func(tx *Store) error {
		for attempt := 0; ; attempt++ {
			var err error
			if r, err = tx.findGroup(ctx, g); err != nil {
				return wrap(err, what)
			}
			if r.found {
				return tx.updateGroup(ctx, g, &r, what)
			}
			t := now()
			err = tx.q.QueryRow(ctx, `INSERT INTO groups (name, dn, stable_id, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING RETURNING id`, g.Name, g.DN, g.StableID, t).Scan(&r.id)
			if err == nil {
				r.created, r.updated = t, t
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) || attempt > 0 {
				if errors.Is(err, pgx.ErrNoRows) {
					return conflict(what, "the name or stable id is taken")
				}
				return wrap(err, what)
			}
			// Another writer inserted a matching group since findGroup: its
			// row is committed now, so the next lookup finds it.
		}
	})
	if err != nil {
		return err
	}
	g.ID, g.CreatedAt, g.UpdatedAt = r.id, r.created.UTC(), r.updated.UTC()
	return nil
}

// updateGroup writes g over the stored row r when a field differs.
func (s *Store) updateGroup(ctx context.Context, g *ldapbridge.Group, r *groupRow, what string) error {
	if r.name == g.Name && r.dn == g.DN && r.stable == g.StableID {
		return nil
	}
	var clash bool
	err := s.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM groups WHERE id <> $1
		AND (name = $2 OR ($3 <> '' AND stable_id = $3)))`, r.id, g.Name, g.StableID).Scan(&clash)
	if err != nil {
		return wrap(err, what)
	}
	if clash {
		return conflict(what, "another group has this name or stable id")
	}
	t := now()
	_, err = s.q.Exec(ctx, `UPDATE groups SET name = $1, dn = $2, stable_id = $3, updated_at = $4 WHERE id = $5`,
		g.Name, g.DN, g.StableID, t, r.id)
	if err != nil {
		return wrap(err, what)
	}
	r.updated = t
	return nil
}

// DeleteGroup removes the group and every membership edge that touches it.
func (s *Store) DeleteGroup(ctx context.Context, id int64) error {
	tag, err := s.q.Exec(ctx, `DELETE FROM groups WHERE id = $1`, id)
	return mustAffect(tag, err, fmt.Sprintf("delete group id %d", id))
}

// missingGroups counts the ids that name no group.
const missingGroups = `SELECT count(*) FROM unnest($1::bigint[]) AS x(id)
WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = x.id)`

// SetUserGroups makes groupIDs exactly the user's direct groups.
func (s *Store) SetUserGroups(ctx context.Context, userID int64, groupIDs []int64) error {
	what := fmt.Sprintf("set groups of user id %d", userID)
	return s.setEdges(ctx, what, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`,
		`DELETE FROM user_groups WHERE user_id = $1 AND group_id <> ALL ($2::bigint[])`,
		`INSERT INTO user_groups (user_id, group_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING`,
		userID, groupIDs)
}

// SetGroupParents makes parentIDs exactly the groups group groupID is
// directly a member of.
func (s *Store) SetGroupParents(ctx context.Context, groupID int64, parentIDs []int64) error {
	what := fmt.Sprintf("set parents of group id %d", groupID)
	return s.setEdges(ctx, what, `SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)`,
		`DELETE FROM group_groups WHERE child_id = $1 AND parent_id <> ALL ($2::bigint[])`,
		`INSERT INTO group_groups (child_id, parent_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING`,
		groupID, parentIDs)
}

func (s *Store) setEdges(ctx context.Context, what, exists, del, ins string, id int64, ids []int64) error {
	if ids == nil {
		ids = []int64{}
	}
	return s.inTx(ctx, func(tx *Store) error {
		var ok bool
		if err := tx.q.QueryRow(ctx, exists, id).Scan(&ok); err != nil {
			return wrap(err, what)
		}
		if !ok {
			return notFound(what)
		}
		var missing int
		if err := tx.q.QueryRow(ctx, missingGroups, ids).Scan(&missing); err != nil {
			return wrap(err, what)
		}
		if missing > 0 {
			return fmt.Errorf("postgres: %s: %w: %d of the group ids name no group", what, ldapbridge.ErrNotFound, missing)
		}
		if _, err := tx.q.Exec(ctx, del, id, ids); err != nil {
			return wrap(err, what)
		}
		_, err := tx.q.Exec(ctx, ins, id, ids)
		return wrap(err, what)
	})
}

// Memberships returns every direct edge, ordered by group, then user, then
// child group.
func (s *Store) Memberships(ctx context.Context) ([]ldapbridge.Membership, error) {
	rows, err := s.q.Query(ctx, `SELECT group_id, user_id, 0::bigint FROM user_groups
		UNION ALL SELECT parent_id, 0::bigint, child_id FROM group_groups ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, wrap(err, "list memberships")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ldapbridge.Membership, error) {
		var m ldapbridge.Membership
		err := r.Scan(&m.GroupID, &m.UserID, &m.ChildGroupID)
		return m, err
	})
	if err != nil {
		return nil, wrap(err, "list memberships")
	}
	if out == nil {
		out = []ldapbridge.Membership{}
	}
	return out, nil
}

// edges splits ms into user edges and group edges, each as parallel arrays
// of member ids and group ids.
func edges(ms []ldapbridge.Membership) (users, userGroups, children, parents []int64, err error) {
	for _, m := range ms {
		switch {
		case m.GroupID == 0:
			return nil, nil, nil, nil, fmt.Errorf("membership %+v: GroupID is not set", m)
		case m.UserID != 0 && m.ChildGroupID == 0:
			users, userGroups = append(users, m.UserID), append(userGroups, m.GroupID)
		case m.UserID == 0 && m.ChildGroupID != 0:
			children, parents = append(children, m.ChildGroupID), append(parents, m.GroupID)
		default:
			return nil, nil, nil, nil, fmt.Errorf("membership %+v: set exactly one of UserID and ChildGroupID", m)
		}
	}
	return users, userGroups, children, parents, nil
}

// missingEdgeEnds counts the user and group ids, among the edges, that name
// nothing.
const missingEdgeEnds = `SELECT
	(SELECT count(*) FROM unnest($1::bigint[]) AS x(id) WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.id)) +
	(SELECT count(*) FROM unnest($2::bigint[]) AS x(id) WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = x.id))`

// AddMemberships adds direct edges; edges that exist are left alone.
func (s *Store) AddMemberships(ctx context.Context, ms []ldapbridge.Membership) error {
	if len(ms) == 0 {
		return nil
	}
	users, userGroups, children, parents, err := edges(ms)
	if err != nil {
		return fmt.Errorf("postgres: add memberships: %w", err)
	}
	groups := append(append(append([]int64{}, userGroups...), children...), parents...)
	return s.inTx(ctx, func(tx *Store) error {
		var missing int
		if err := tx.q.QueryRow(ctx, missingEdgeEnds, nz(users), groups).Scan(&missing); err != nil {
			return wrap(err, "add memberships")
		}
		if missing > 0 {
			return fmt.Errorf("postgres: add memberships: %w: %d of the user and group ids name nothing", ldapbridge.ErrNotFound, missing)
		}
		if len(users) > 0 {
			_, err := tx.q.Exec(ctx, `INSERT INTO user_groups (user_id, group_id)
				SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING`, users, userGroups)
			if err != nil {
				return wrap(err, "add memberships")
			}
		}
		if len(children) > 0 {
			_, err := tx.q.Exec(ctx, `INSERT INTO group_groups (child_id, parent_id)
				SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING`, children, parents)
			if err != nil {
				return wrap(err, "add memberships")
			}
		}
		return nil
	})
}

// RemoveMemberships removes direct edges; edges that do not exist are no error.
func (s *Store) RemoveMemberships(ctx context.Context, ms []ldapbridge.Membership) error {
	if len(ms) == 0 {
		return nil
	}
	users, userGroups, children, parents, err := edges(ms)
	if err != nil {
		return fmt.Errorf("postgres: remove memberships: %w", err)
	}
	return s.inTx(ctx, func(tx *Store) error {
		_, err := tx.q.Exec(ctx, `DELETE FROM user_groups ug USING unnest($1::bigint[], $2::bigint[]) AS e(u, g)
			WHERE ug.user_id = e.u AND ug.group_id = e.g`, nz(users), nz(userGroups))
		if err != nil {
			return wrap(err, "remove memberships")
		}
		_, err = tx.q.Exec(ctx, `DELETE FROM group_groups gg USING unnest($1::bigint[], $2::bigint[]) AS e(c, p)
			WHERE gg.child_id = e.c AND gg.parent_id = e.p`, nz(children), nz(parents))
		return wrap(err, "remove memberships")
	})
}

// nz makes a nil slice an empty array parameter rather than NULL.
func nz(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}
