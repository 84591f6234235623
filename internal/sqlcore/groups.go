package sqlcore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ldapbridge/ldapbridge"
)

const groupCols = `g.id, g.name, g.source, g.directory, g.dn, g.stable_id, g.created_at, g.updated_at,
	(SELECT count(*) FROM user_groups ug WHERE ug.group_id = g.id)`

func scanGroup(row Row) (*ldapbridge.Group, error) {
	g := &ldapbridge.Group{MemberGroups: []string{}}
	err := row.Scan(&g.ID, &g.Name, &g.Source, &g.Directory, &g.DN, &g.StableID, at(&g.CreatedAt), at(&g.UpdatedAt), &g.DirectMembers)
	return g, err
}

func (s *Store) oneGroup(ctx context.Context, what, where string, args ...any) (*ldapbridge.Group, error) {
	g, err := scanGroup(s.db.QueryRow(ctx, `SELECT `+groupCols+` FROM groups g WHERE `+where, args...))
	if err == nil {
		err = s.memberGroups(ctx, map[int64]*ldapbridge.Group{g.ID: g}, `gg.parent_id = $1`, g.ID)
	}
	if err != nil {
		return nil, s.d.Wrap(err, what)
	}
	return g, nil
}

// memberGroups appends to each group of byID the names of the groups
// directly in it, over the edges gg that cond selects.
func (s *Store) memberGroups(ctx context.Context, byID map[int64]*ldapbridge.Group, cond string, args ...any) error {
	var parent int64
	var name string
	return s.each(ctx, `SELECT gg.parent_id, c.name FROM group_groups gg JOIN groups c ON c.id = gg.child_id
WHERE `+cond+` ORDER BY c.name`, []any{&parent, &name}, func(Rows) error {
		if g := byID[parent]; g != nil {
			g.MemberGroups = append(g.MemberGroups, name)
		}
		return nil
	}, args...)
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
		return nil, s.d.NotFound(what)
	}
	return s.oneGroup(ctx, what, `lower(g.dn) = lower($1) ORDER BY g.id LIMIT 1`, dn)
}

// ListGroups returns every group sorted by name, with DirectMembers and
// MemberGroups filled.
func (s *Store) ListGroups(ctx context.Context) ([]*ldapbridge.Group, error) {
	out := []*ldapbridge.Group{}
	byID := map[int64]*ldapbridge.Group{}
	err := s.each(ctx, `SELECT `+groupCols+` FROM groups g ORDER BY g.name`, nil, func(r Rows) error {
		g, err := scanGroup(r)
		out, byID[g.ID] = append(out, g), g
		return err
	})
	if err == nil {
		err = s.memberGroups(ctx, byID, `true`)
	}
	if err != nil {
		return nil, s.d.Wrap(err, "list groups")
	}
	return out, nil
}

// each runs a query and calls fn for every row, after scanning it into
// dest when dest is not nil.
func (s *Store) each(ctx context.Context, q string, dest []any, fn func(Rows) error, args ...any) error {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if dest != nil {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
		}
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// groupRow is a stored group's identity and times.
type groupRow struct {
	id                       int64
	name, source, dn, stable string
	directory                string
	created, updated         time.Time
}

// findGroup looks g up by StableID, else DN (case-insensitively), both
// among the groups of g's directory (dir), else Name among every group: a
// name is unique across all groups, so a match of another directory or
// of the other source is a conflict, never a merge.
func (s *Store) findGroup(ctx context.Context, g *ldapbridge.Group, dir string) (r groupRow, found bool, err error) {
	for _, m := range []struct {
		cond string
		args []any
	}{
		{`stable_id = $1 AND stable_id <> '' AND directory = $2`, []any{g.StableID, dir}}, // the partial index's condition, so it is used
		{`lower(dn) = lower($1) AND directory = $2`, []any{g.DN, dir}},
		{`name = $1`, []any{g.Name}},
	} {
		if m.args[0] == "" {
			continue
		}
		err := s.db.QueryRow(ctx, `SELECT id, name, source, directory, dn, stable_id, created_at, updated_at FROM groups WHERE `+
			m.cond+` ORDER BY id LIMIT 1`, m.args...).Scan(&r.id, &r.name, &r.source, &r.directory, &r.dn, &r.stable, at(&r.created), at(&r.updated))
		if !errors.Is(err, sql.ErrNoRows) {
			return r, err == nil, err
		}
	}
	return r, false, nil
}

// UpsertGroup creates or updates the group matched by StableID, else DN
// (case-insensitively), else Name, and sets g.ID, g.Source, g.CreatedAt
// and g.UpdatedAt. updated_at changes only when a field does. When another
// writer creates the same group at the same time, this one updates it.
// Taken names are checked before writing, so a conflict leaves a
// transaction usable. A match of the other source is ErrConflict: a
// directory group and a local group never merge.
func (s *Store) UpsertGroup(ctx context.Context, g *ldapbridge.Group) error {
	what := fmt.Sprintf("upsert group %q", g.Name)
	if g.Name == "" {
		return s.d.errorf("%s (dn %q): name is empty", what, g.DN)
	}
	source := g.Source
	switch source {
	case "":
		source = ldapbridge.SourceLDAP
	case ldapbridge.SourceLDAP:
	case ldapbridge.SourceLocal:
		if g.DN != "" || g.StableID != "" {
			return s.d.errorf("%s: a local group has no dn or stable id", what)
		}
	default:
		return s.d.errorf("%s: source %q is neither %q nor %q", what, g.Source, ldapbridge.SourceLDAP, ldapbridge.SourceLocal)
	}
	dir := g.Directory
	if dir == "" {
		dir = ldapbridge.DefaultDirectory
	}
	var r groupRow
	err := s.inTx(ctx, func(tx *Store) error {
		for attempt := 0; ; attempt++ {
			var found bool
			var err error
			if r, found, err = tx.findGroup(ctx, g, dir); err != nil {
				return s.d.Wrap(err, what)
			}
			if found {
				if r.source != source {
					return sourceConflict(s.d, what, r.source)
				}
				if source == ldapbridge.SourceLDAP && r.directory != dir {
					return s.d.Conflict(what, fmt.Sprintf("the group of directory %s has this name; the groups of two directories never merge", r.directory))
				}
				return tx.updateGroup(ctx, g, &r, what)
			}
			t := Now()
			r.source, r.directory = source, dir
			r.id, err = tx.db.Insert(ctx, `INSERT INTO groups (name, source, directory, dn, stable_id, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING`, g.Name, source, dir, g.DN, g.StableID, s.d.Time(t))
			switch {
			case err == nil:
				r.created, r.updated = t, t
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return s.d.Wrap(err, what)
			case attempt > 0:
				return s.d.Conflict(what, "the name or stable id is taken")
			}
			// Another writer inserted a matching group since findGroup: its
			// row is committed now, so the next lookup finds it.
		}
	})
	if err != nil {
		return err
	}
	g.ID, g.Source, g.Directory, g.CreatedAt, g.UpdatedAt = r.id, r.source, r.directory, r.created, r.updated
	return nil
}

// sourceConflict is the error of an upsert whose match is a group of the
// other source (stored).
func sourceConflict(d *Dialect, what, stored string) error {
	detail := "a directory group has this name, and a local group may not share it (choose another name)"
	if stored == ldapbridge.SourceLocal {
		detail = "a local group has this name, and a directory group may not share it (rename the local group, or delete it with: ldapbridge groups delete-local NAME)"
	}
	return fmt.Errorf("%w: %w", d.Conflict(what, detail), ldapbridge.ErrGroupSource)
}

// updateGroup writes g over the stored row r when a field differs.
func (s *Store) updateGroup(ctx context.Context, g *ldapbridge.Group, r *groupRow, what string) error {
	if r.name == g.Name && r.dn == g.DN && r.stable == g.StableID {
		return nil
	}
	var clash bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM groups WHERE id <> $1
		AND (name = $2 OR ($3 <> '' AND stable_id = $3 AND stable_id <> '' AND directory = $4)))`, r.id, g.Name, g.StableID, r.directory).Scan(&clash)
	if err != nil {
		return s.d.Wrap(err, what)
	}
	if clash {
		return s.d.Conflict(what, "another group has this name or stable id")
	}
	t := Now()
	_, err = s.db.Exec(ctx, `UPDATE groups SET name = $1, dn = $2, stable_id = $3, updated_at = $4 WHERE id = $5`,
		g.Name, g.DN, g.StableID, s.d.Time(t), r.id)
	r.updated = t
	return s.d.Wrap(err, what)
}

// DeleteGroup removes the group and every membership edge that touches it.
func (s *Store) DeleteGroup(ctx context.Context, id int64) error {
	n, err := s.db.Exec(ctx, `DELETE FROM groups WHERE id = $1`, id)
	return s.d.mustAffect(n, err, fmt.Sprintf("delete group id %d", id))
}

// SetUserGroups makes groupIDs exactly the user's direct groups.
func (s *Store) SetUserGroups(ctx context.Context, userID int64, groupIDs []int64) error {
	return s.setEdges(ctx, fmt.Sprintf("set groups of user id %d", userID), "users", "user_groups", "user_id", "group_id", userID, groupIDs)
}

// SetUserGroupsWithin makes groupIDs exactly the user's direct groups
// among those owned reports true for, and leaves the user's other
// memberships alone: one read of the user's groups, then at most one
// delete and one insert.
func (s *Store) SetUserGroupsWithin(ctx context.Context, userID int64, groupIDs []int64, owned func(*ldapbridge.Group) bool) error {
	what := fmt.Sprintf("set groups of user id %d", userID)
	want := make(map[int64]bool, len(groupIDs))
	for _, id := range groupIDs {
		want[id] = true
	}
	return s.inTx(ctx, func(tx *Store) error {
		var drop []int64
		var g ldapbridge.Group
		err := tx.each(ctx, `SELECT g.id, g.name, g.source, g.directory, g.dn, g.stable_id FROM user_groups ug JOIN groups g ON g.id = ug.group_id
WHERE ug.user_id = $1`, []any{&g.ID, &g.Name, &g.Source, &g.Directory, &g.DN, &g.StableID}, func(Rows) error {
			if want[g.ID] {
				delete(want, g.ID)
			} else if cp := g; owned(&cp) {
				drop = append(drop, g.ID)
			}
			return nil
		}, userID)
		if err != nil {
			return s.d.Wrap(err, what)
		}
		if len(drop) > 0 {
			if _, err := tx.db.Exec(ctx, `DELETE FROM user_groups WHERE user_id = $1 AND group_id IN (SELECT e.a FROM `+
				s.d.Unnest("$2")+`)`, userID, s.d.IDs(drop)); err != nil {
				return s.d.Wrap(err, what)
			}
		}
		if len(want) == 0 {
			return nil
		}
		add := make([]int64, 0, len(want))
		for id := range want {
			add = append(add, id)
		}
		var missingUser bool
		var missing int
		err = tx.db.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM users WHERE id = $1), (SELECT count(*) FROM `+s.d.Unnest("$2")+
			` WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = e.a))`, userID, s.d.IDs(add)).Scan(&missingUser, &missing)
		switch {
		case err != nil:
			return s.d.Wrap(err, what)
		case missingUser:
			return s.d.NotFound(what)
		case missing > 0:
			return fmt.Errorf("%s: %s: %w: %d of the group ids name no group", s.d.Name, what, ldapbridge.ErrNotFound, missing)
		}
		_, err = tx.db.Exec(ctx, `INSERT INTO user_groups (user_id, group_id) SELECT $1, e.a FROM `+
			s.d.Unnest("$2")+` WHERE true ON CONFLICT DO NOTHING`, userID, s.d.IDs(add))
		return s.d.Wrap(err, what)
	})
}

// SetGroupParents makes parentIDs exactly the groups group groupID is
// directly a member of.
func (s *Store) SetGroupParents(ctx context.Context, groupID int64, parentIDs []int64) error {
	return s.setEdges(ctx, fmt.Sprintf("set parents of group id %d", groupID), "groups", "group_groups", "child_id", "parent_id", groupID, parentIDs)
}

// setEdges makes ids exactly the groups that member id (a row of table
// owner) is in, by the edge table's member and group columns.
func (s *Store) setEdges(ctx context.Context, what, owner, table, member, group string, id int64, ids []int64) error {
	list := s.d.IDs(ids)
	return s.inTx(ctx, func(tx *Store) error {
		var ok bool
		var missing int
		err := tx.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+owner+` WHERE id = $1)`, id).Scan(&ok)
		if err == nil && ok {
			err = tx.db.QueryRow(ctx, `SELECT count(*) FROM `+s.d.Unnest("$1")+
				` WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = e.a)`, list).Scan(&missing)
		}
		switch {
		case err != nil:
			return s.d.Wrap(err, what)
		case !ok:
			return s.d.NotFound(what)
		case missing > 0:
			return fmt.Errorf("%s: %s: %w: %d of the group ids name no group", s.d.Name, what, ldapbridge.ErrNotFound, missing)
		}
		if _, err := tx.db.Exec(ctx, `DELETE FROM `+table+` WHERE `+member+` = $1 AND `+group+
			` NOT IN (SELECT e.a FROM `+s.d.Unnest("$2")+`)`, id, list); err != nil {
			return s.d.Wrap(err, what)
		}
		_, err = tx.db.Exec(ctx, `INSERT INTO `+table+` (`+member+`, `+group+`) SELECT $1, e.a FROM `+
			s.d.Unnest("$2")+` WHERE true ON CONFLICT DO NOTHING`, id, list)
		return s.d.Wrap(err, what)
	})
}

// Memberships returns every direct edge, ordered by group, then user, then
// child group.
func (s *Store) Memberships(ctx context.Context) ([]ldapbridge.Membership, error) {
	out := []ldapbridge.Membership{}
	var m ldapbridge.Membership
	err := s.each(ctx, `SELECT group_id, user_id, 0 FROM user_groups
		UNION ALL SELECT parent_id, 0, child_id FROM group_groups ORDER BY 1, 2, 3`,
		[]any{&m.GroupID, &m.UserID, &m.ChildGroupID}, func(Rows) error { out = append(out, m); return nil })
	if err != nil {
		return nil, s.d.Wrap(err, "list memberships")
	}
	return out, nil
}

// AddMemberships adds direct edges; edges that exist are left alone.
func (s *Store) AddMemberships(ctx context.Context, ms []ldapbridge.Membership) error {
	return s.changeEdges(ctx, "add", ms, `INSERT INTO %s (%s, %s) SELECT e.a, e.b FROM %s WHERE true ON CONFLICT DO NOTHING`)
}

// RemoveMemberships removes direct edges; edges that do not exist are no error.
func (s *Store) RemoveMemberships(ctx context.Context, ms []ldapbridge.Membership) error {
	return s.changeEdges(ctx, "remove", ms, `DELETE FROM %s WHERE (%s, %s) IN (SELECT e.a, e.b FROM %s)`)
}

// changeEdges runs format (table, member column, group column, edge list)
// over the user and the group edges in ms.
func (s *Store) changeEdges(ctx context.Context, verb string, ms []ldapbridge.Membership, format string) error {
	what := verb + " memberships"
	// [0] the user edges, [1] the group edges: member ids, group ids.
	var members, groups [2][]int64
	for _, m := range ms {
		k, member := 0, m.UserID
		if member == 0 {
			k, member = 1, m.ChildGroupID
		}
		switch {
		case m.GroupID == 0:
			return s.d.errorf("%s: membership %+v: GroupID is not set", what, m)
		case (m.UserID == 0) == (m.ChildGroupID == 0):
			return s.d.errorf("%s: membership %+v: set exactly one of UserID and ChildGroupID", what, m)
		}
		members[k], groups[k] = append(members[k], member), append(groups[k], m.GroupID)
	}
	if len(ms) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *Store) error {
		if verb == "add" {
			var missing int
			all := append(append(append([]int64{}, groups[0]...), members[1]...), groups[1]...)
			err := tx.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+s.d.Unnest("$1")+` WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = e.a)) +
	(SELECT count(*) FROM `+s.d.Unnest("$2")+` WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = e.a))`,
				s.d.IDs(members[0]), s.d.IDs(all)).Scan(&missing)
			if err != nil {
				return s.d.Wrap(err, what)
			}
			if missing > 0 {
				return fmt.Errorf("%s: %s: %w: %d of the user and group ids name nothing", s.d.Name, what, ldapbridge.ErrNotFound, missing)
			}
		}
		for k, cols := range [2][3]string{{"user_groups", "user_id", "group_id"}, {"group_groups", "child_id", "parent_id"}} {
			if len(members[k]) == 0 {
				continue
			}
			if verb == "add" && s.d.AnonParams > 0 {
				rows := make([][]any, len(members[k]))
				for i := range rows {
					rows[i] = []any{members[k][i], groups[k][i]}
				}
				if err := tx.insertAnon(ctx, cols[0], []string{cols[1], cols[2]}, rows, " ON CONFLICT DO NOTHING", nil); err != nil {
					return s.d.Wrap(err, what)
				}
				continue
			}
			from, args := s.d.Unnest("$1", "$2"), []any{s.d.IDs(members[k]), s.d.IDs(groups[k])}
			if s.d.Pairs != nil {
				from, args = s.d.UnnestPairs("$1"), []any{s.d.Pairs(members[k], groups[k])}
			}
			if _, err := tx.db.Exec(ctx, fmt.Sprintf(format, cols[0], cols[1], cols[2], from), args...); err != nil {
				return s.d.Wrap(err, what)
			}
		}
		return nil
	})
}
