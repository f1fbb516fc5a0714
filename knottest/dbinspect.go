package knottest

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/models"
)

// CountLastUsedWrites installs a trigger that counts every row write to
// api_tokens.last_used_at, so tests count the database's writes rather
// than trust the code's own account of them. It returns the counter.
func CountLastUsedWrites(t testing.TB, db *gorm.DB) func() int {
	t.Helper()
	stmts := []string{
		`CREATE TABLE test_touch_log (n INTEGER)`,
		`CREATE TRIGGER test_touch_count AFTER UPDATE OF last_used_at ON api_tokens BEGIN INSERT INTO test_touch_log VALUES (1); END`,
	}
	if models.IsPostgres(db) {
		stmts = []string{
			`CREATE TABLE test_touch_log (n INTEGER)`,
			`CREATE FUNCTION test_touch_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO test_touch_log VALUES (1); RETURN NEW; END $$`,
			`CREATE TRIGGER test_touch_count AFTER UPDATE OF last_used_at ON api_tokens FOR EACH ROW EXECUTE FUNCTION test_touch_fn()`,
		}
	}
	for _, stmt := range stmts {
		if err := db.Exec(stmt).Error; err != nil {
			t.Fatal(err)
		}
	}
	return func() int {
		var n int64
		if err := db.Raw(`SELECT COUNT(*) FROM test_touch_log`).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
}

// StoredBytes is everything the server's database holds, for tests that
// search it for secrets. On SQLite it is the raw database files (the WAL
// and shared memory included, so old page versions are searched too); on
// PostgreSQL it is every row of every table as text, read over a connection
// of its own so that it works after the server stopped.
func (i *Instance) StoredBytes() []byte {
	i.t.Helper()
	if !i.Cfg.Server.Postgres.Enabled {
		matches, _ := filepath.Glob(i.Cfg.Server.SQLite.Path + "*")
		if len(matches) == 0 {
			i.t.Fatal("no database files found")
		}
		var all []byte
		for _, p := range matches {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				i.t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	db, err := sql.Open("pgx", i.Cfg.Server.Postgres.DSN)
	if err != nil {
		i.t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		i.t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	var all []byte
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT CAST(t AS text) FROM "`+table+`" t`)
		if err != nil {
			i.t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			all = append(all, s...)
			all = append(all, '\n')
		}
		rows.Close()
	}
	return all
}
