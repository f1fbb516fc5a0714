package knottest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"gorm.io/gorm"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

// Environment variables that point the tests at PostgreSQL.
const (
	// EnvPostgresDSN names a PostgreSQL server the tests may create
	// databases on (CI sets it; scripts/test-postgres starts one). Cluster
	// tests need it.
	EnvPostgresDSN = "KNOT_TEST_POSTGRES_DSN"
	// EnvDB chooses the database the handler, model and leaf suites run
	// on: "sqlite" (the default) or "postgres".
	EnvDB = "KNOT_TEST_DB"
)

// OnPostgres reports whether the suites run on PostgreSQL (KNOT_TEST_DB=postgres).
func OnPostgres() bool { return os.Getenv(EnvDB) == "postgres" }

// PostgresDSN returns the test PostgreSQL server's DSN. Without one the
// test is skipped, or fails when CI is set: CI must run every test.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvPostgresDSN)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set; CI must run the PostgreSQL tests (see .ci/run)", EnvPostgresDSN)
		}
		t.Skipf("%s is not set; start one with scripts/test-postgres to run the PostgreSQL tests", EnvPostgresDSN)
	}
	return dsn
}

// NewPostgresDatabase creates an empty database of its own for the test on
// the test PostgreSQL server, drops it when the test ends, and returns its
// DSN. Each test has its own, so tests can run in parallel.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	admin := PostgresDSN(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "knot_test_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("open test PostgreSQL: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			t.Errorf("open test PostgreSQL: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s must be a URL: %v", EnvPostgresDSN, err)
	}
	u.Path = "/" + name
	return u.String()
}

// PostgresConfig is Config on a new PostgreSQL database of the test's own,
// with a fixed encryption key so that several servers can share it: copy
// it and give each copy its own data directory with ServerDir.
func PostgresConfig(t testing.TB) config.Config {
	t.Helper()
	cfg := Config(t)
	if !cfg.Server.Postgres.Enabled {
		cfg.Server.Postgres = config.Postgres{Enabled: true, DSN: NewPostgresDatabase(t)}
	}
	cfg.Server.Encrypt = server.NewKey()
	return cfg
}

// ServerDir gives cfg a data directory of its own (certificate, generated
// key), for another server of the same cluster.
func ServerDir(t testing.TB, cfg config.Config) config.Config {
	cfg.Server.SQLite.Path = filepath.Join(t.TempDir(), "knot.db")
	return cfg
}

// OpenDB opens and migrates a database of the test's own on the database
// the suites run on (see EnvDB), and closes it when the test ends.
func OpenDB(t testing.TB) *gorm.DB {
	t.Helper()
	src := models.Source{SQLitePath: filepath.Join(t.TempDir(), "knot.db")}
	if OnPostgres() {
		src = models.Source{PostgresDSN: NewPostgresDatabase(t)}
	}
	db, err := models.Open(context.Background(), src)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { models.Close(db) })
	return db
}
