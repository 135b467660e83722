package projections_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/authledger/authledger/internal/pgtest"
	"github.com/authledger/authledger/projections"
)

func TestOpenMigratesBothEngines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		url  func(t *testing.T) string
		want projections.Dialect
	}{
		{"a sqlite file gets the engine tables", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "rm.db") }, projections.SQLite},
		{"a postgres database gets the engine tables", func(t *testing.T) string { return pgtest.NewDatabase(t) }, projections.Postgres},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := tc.url(t)
			ctx := context.Background()
			for range 2 { // reopening must not re-run migrations
				db, err := projections.Open(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				if db.Dialect != tc.want {
					t.Fatalf("dialect %q, want %q", db.Dialect, tc.want)
				}
				if _, err := db.ExecContext(ctx, `INSERT INTO projection_state (name, kind) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, "x.v1", "sql"); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
		})
	}
}

func TestOpenRefusesOtherSchemes(t *testing.T) {
	t.Parallel()
	if _, err := projections.Open(context.Background(), "mysql://x"); err == nil {
		t.Fatal("mysql URL accepted")
	}
}
