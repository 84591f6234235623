package sqlcore

import "context"

// Traced returns db with fn called with every statement and its
// arguments before it runs, in transactions too. The drivers' query-plan
// tests use it to collect the statements a login or a sync makes and
// EXPLAIN each one.
func Traced(db DB, fn func(q string, args []any)) DB { return traced{db, fn} }

type traced struct {
	db DB
	fn func(string, []any)
}

func (t traced) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	t.fn(q, args)
	return t.db.Exec(ctx, q, args...)
}

func (t traced) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	t.fn(q, args)
	return t.db.Query(ctx, q, args...)
}

func (t traced) QueryRow(ctx context.Context, q string, args ...any) Row {
	t.fn(q, args)
	return t.db.QueryRow(ctx, q, args...)
}

func (t traced) Insert(ctx context.Context, q string, args ...any) (int64, error) {
	t.fn(q, args)
	return t.db.Insert(ctx, q, args...)
}

func (t traced) InTx(ctx context.Context, fn func(DB) error) error {
	return t.db.InTx(ctx, func(tx DB) error { return fn(traced{tx, t.fn}) })
}
