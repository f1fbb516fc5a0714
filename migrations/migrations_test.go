package migrations_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	"github.com/pressly/goose/v3"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/migrations"
)

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "m.db")+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func up(t *testing.T, db *sql.DB, dialect string) []string {
	t.Helper()
	m, err := migrations.New(db, dialect)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := m.Up(context.Background())
	if err != nil {
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	return applied
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		out = append(out, filepath.Base(f))
	}
	return out
}

func TestBothDatabasesHaveTheSameMigrationVersions(t *testing.T) {
	lite, pg := names(t, "sqlite"), names(t, "postgres")
	if len(lite) == 0 || !slices.Equal(lite, pg) {
		t.Fatalf("sqlite/ has %v, postgres/ has %v: every version needs a file of the same name in both", lite, pg)
	}
	for _, dir := range []string{"sqlite", "postgres"} {
		for _, n := range names(t, dir) {
			b, _ := os.ReadFile(filepath.Join(dir, n))
			if !strings.HasPrefix(string(b), "-- +goose Up\n") {
				t.Errorf("%s/%s does not start with -- +goose Up", dir, n)
			}
		}
	}
}

func TestUpRunsEachMigrationOnce(t *testing.T) {
	db := openSQLite(t)
	first := up(t, db, migrations.SQLite)
	if want := len(names(t, "sqlite")); len(first) != want {
		t.Fatalf("first Up ran %d migrations (%v), want %d", len(first), first, want)
	}
	if second := up(t, db, migrations.SQLite); len(second) != 0 {
		t.Fatalf("second Up re-ran %v", second)
	}
	// The seed rows were inserted once, not once per Up.
	var roles int
	if err := db.QueryRow(`SELECT COUNT(*) FROM roles WHERE builtin = 1`).Scan(&roles); err != nil {
		t.Fatal(err)
	}
	if roles != 2 {
		t.Fatalf("built-in roles = %d, want 2 (Admin and Developer)", roles)
	}
}

// A database made by knot's own migrator before goose (versions recorded in
// schema_migrations) upgrades in place: goose takes over at the next
// version and nothing in it is lost.
func TestADatabaseFromTheEarlierMigratorUpgradesInPlace(t *testing.T) {
	db := openSQLite(t)
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DATETIME NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, n := range names(t, "sqlite")[:5] {
		body, err := os.ReadFile(filepath.Join("sqlite", n))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		version := strings.TrimLeft(strings.SplitN(n, "_", 2)[0], "0")
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, ?, ?)`, version, n, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO users (username, email, password_hash, created_at, updated_at) VALUES ('ada', 'ada@example.com', 'h', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`); err != nil {
		t.Fatal(err)
	}

	applied := up(t, db, migrations.SQLite)
	if want := names(t, "sqlite")[5:]; !slices.Equal(applied, want) {
		t.Fatalf("Up on the old database applied %v, want only those after 0005: %v", applied, want)
	}
	var email string
	if err := db.QueryRow(`SELECT email FROM users WHERE username = 'ada'`).Scan(&email); err != nil || email != "ada@example.com" {
		t.Fatalf("the user from before the upgrade: %q, %v", email, err)
	}
	if again := up(t, db, migrations.SQLite); len(again) != 0 {
		t.Fatalf("a second Up applied %v", again)
	}
}

// Five servers starting at the same moment on an empty PostgreSQL database
// all get a migrated database; each migration is applied exactly once.
func TestConcurrentUpOnPostgresAppliesEachMigrationOnce(t *testing.T) {
	dsn := knottest.NewPostgresDatabase(t)
	const servers = 5
	var wg sync.WaitGroup
	applied := make([][]string, servers)
	errs := make([]error, servers)
	start := make(chan struct{})
	for i := range servers {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		m, err := migrations.New(db, migrations.Postgres)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			<-start
			applied[i], errs[i] = m.Up(context.Background())
		})
	}
	close(start)
	wg.Wait()
	total := 0
	for i := range servers {
		if errs[i] != nil {
			t.Errorf("server %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	if want := len(names(t, "postgres")); total != want {
		t.Fatalf("the five servers applied %d migrations between them, want each of %d once: %v", total, want, applied)
	}
	db, _ := sql.Open("pgx", dsn)
	defer db.Close()
	var roles int
	if err := db.QueryRow(`SELECT COUNT(*) FROM roles WHERE builtin`).Scan(&roles); err != nil || roles != 2 {
		t.Fatalf("built-in roles = %d (%v), want 2", roles, err)
	}
}

// migrateTo applies the migrations of dialect up to version only, the way
// an older knot left the database.
func migrateTo(t *testing.T, db *sql.DB, dialect string, version int64) {
	t.Helper()
	gd := goose.DialectSQLite3
	if dialect == migrations.Postgres {
		gd = goose.DialectPostgres
	}
	p, err := goose.NewProvider(gd, db, os.DirFS(dialect), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), version); err != nil {
		t.Fatalf("migrate %s to %d: %v", dialect, version, err)
	}
}

// Emails stored before knot normalised them (trimmed, ASCII letters in
// lower case) are normalised by the upgrade — except where the normalised
// address is another row's, which stays as it was for an administrator to
// sort out rather than failing the upgrade or merging two accounts.
func TestTheUpgradeNormalisesStoredEmailsWhereNoOtherRowClashes(t *testing.T) {
	for _, dialect := range []string{migrations.SQLite, migrations.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			var db *sql.DB
			if dialect == migrations.SQLite {
				db = openSQLite(t)
			} else {
				var err error
				if db, err = sql.Open("pgx", knottest.NewPostgresDatabase(t)); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
			}
			migrateTo(t, db, dialect, 8)
			stored := map[string]string{
				"ada":   "Ada.Lovelace@Example.COM",
				"bob":   "  bob@example.com\t",
				"carol": "carol@example.com",
				"carl":  " Carol@Example.com ", // normalises to carol's address
				"zoe":   "ZOË@Example.com",     // only the ASCII letters change
			}
			for user, email := range stored {
				if _, err := db.Exec(`INSERT INTO users (username, email, password_hash, created_at, updated_at) VALUES ($1, $2, 'h', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`, user, email); err != nil {
					t.Fatalf("insert %s: %v", user, err)
				}
			}
			if applied := up(t, db, dialect); !slices.Contains(applied, "0009_emails.sql") {
				t.Fatalf("Up applied %v, want 0009_emails.sql among them", applied)
			}
			want := map[string]string{
				"ada":   "ada.lovelace@example.com",
				"bob":   "bob@example.com",
				"carol": "carol@example.com",
				"carl":  " Carol@Example.com ",
				"zoe":   "zoË@example.com",
			}
			for user, email := range want {
				var got string
				if err := db.QueryRow(`SELECT email FROM users WHERE username = $1`, user).Scan(&got); err != nil {
					t.Fatalf("read %s: %v", user, err)
				}
				if got != email {
					t.Errorf("%s's email after the upgrade = %q, want %q", user, got, email)
				}
			}
		})
	}
}
