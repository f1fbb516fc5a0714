package migrations_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/knot-dev/knot/migrations"
)

func TestApplyRunsEachMigrationOnce(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i := 1; i < len(all); i++ {
		if all[i].Version <= all[i-1].Version {
			t.Fatalf("migrations out of order: %s before %s", all[i-1].Name, all[i].Name)
		}
	}

	first, err := migrations.Apply(ctx, db)
	if err != nil {
		t.Fatalf("first apply: %v", err)
	}
	if len(first) != len(all) {
		t.Fatalf("first apply ran %d migrations, want %d", len(first), len(all))
	}
	second, err := migrations.Apply(ctx, db)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if len(second) != 0 {
		t.Fatalf("second apply re-ran %v", second)
	}
	var recorded, roles int
	if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != len(all) {
		t.Fatalf("schema_migrations has %d rows, want %d", recorded, len(all))
	}
	// The seed rows were inserted once, not once per Apply.
	if err := db.QueryRow(`SELECT COUNT(*) FROM roles WHERE builtin = 1`).Scan(&roles); err != nil {
		t.Fatal(err)
	}
	if roles != 2 {
		t.Fatalf("built-in roles = %d, want 2 (Admin and Developer)", roles)
	}
}
