// Package migrate is the one schema-migration runner of the ledger adapters
// and the read-model database: numbered statements, applied in order
// inside the caller's transaction and recorded in a version table, never
// edited once shipped.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
)

// Tx is what the runner needs of a transaction: pgx and database/sql each
// get a two-method adapter in their package.
type Tx interface {
	Exec(ctx context.Context, sql string, args ...any) error
	QueryInt(ctx context.Context, sql string) (int, error)
}

// Table is the version table of one schema: its name and the statements
// that create it and record a version ($1) in it.
type Table struct {
	// Component names the schema in errors ("sqlite", "postgres",
	// "projections").
	Component string
	Create    string
	Record    string
	// Current reads the highest applied version.
	Current string
}

// Run applies the migrations after the recorded version, in order, in tx.
// A schema newer than the binary is refused: an older binary must not run
// against tables it does not know.
func Run(ctx context.Context, tx Tx, t Table, migrations []string) error {
	if err := tx.Exec(ctx, t.Create); err != nil {
		return fmt.Errorf("%s: migrate: %w", t.Component, err)
	}
	have, err := tx.QueryInt(ctx, t.Current)
	if err != nil {
		return fmt.Errorf("%s: migrate: %w", t.Component, err)
	}
	if have > len(migrations) {
		return fmt.Errorf("%s: schema version %d is newer than this binary knows (%d)", t.Component, have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		if err := tx.Exec(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("%s: migration %d: %w", t.Component, v, err)
		}
		if err := tx.Exec(ctx, t.Record, v); err != nil {
			return fmt.Errorf("%s: migration %d: %w", t.Component, v, err)
		}
	}
	return nil
}

// SQL adapts a database/sql transaction.
func SQL(tx *sql.Tx) Tx { return sqlTx{tx} }

type sqlTx struct{ tx *sql.Tx }

func (t sqlTx) Exec(ctx context.Context, q string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, q, args...)
	return err
}

func (t sqlTx) QueryInt(ctx context.Context, q string) (int, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}
