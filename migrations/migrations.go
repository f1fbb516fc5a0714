// Package migrations holds knot's schema as numbered SQL files, one folder
// per database (sqlite/, postgres/) with the same version numbers in both,
// embedded in the binary and applied at start-up by goose.
//
// Several servers of a cluster may start at once on an empty or older
// PostgreSQL database: a session-level advisory lock lets exactly one apply
// each migration while the others wait for it, then find nothing to do.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Dialects knot runs on.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// advisoryLockID is the PostgreSQL advisory lock held while migrating:
// the bytes of "knot_mig", unlikely to clash with another application's.
const advisoryLockID int64 = 0x6b6e6f745f6d6967

// Migrator applies the embedded migrations of one dialect to one database.
type Migrator struct {
	db       *sql.DB
	dialect  string
	provider *goose.Provider
}

// New returns a migrator for db, whose dialect is SQLite or Postgres.
func New(db *sql.DB, dialect string) (*Migrator, error) {
	var gd goose.Dialect
	switch dialect {
	case SQLite:
		gd = goose.DialectSQLite3
	case Postgres:
		gd = goose.DialectPostgres
	default:
		return nil, fmt.Errorf("unknown database dialect %q", dialect)
	}
	sub, err := fs.Sub(files, dialect)
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(gd, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("load %s migrations: %w", dialect, err)
	}
	return &Migrator{db: db, dialect: dialect, provider: p}, nil
}

// Up applies every pending migration and returns the files it applied.
func (m *Migrator) Up(ctx context.Context) ([]string, error) {
	switch m.dialect {
	case SQLite:
		if err := adoptLegacyVersions(ctx, m.db); err != nil {
			return nil, err
		}
	case Postgres:
		unlock, err := lock(ctx, m.db)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	results, err := m.provider.Up(ctx)
	var applied []string
	for _, r := range results {
		applied = append(applied, r.Source.Path)
	}
	if err != nil {
		return applied, err
	}
	return applied, nil
}

// Pending reports whether the database lacks any embedded migration.
func (m *Migrator) Pending(ctx context.Context) (bool, error) {
	return m.provider.HasPending(ctx)
}

// lock takes the cluster-wide migration lock on a connection of its own and
// returns the function that releases it. pg_advisory_lock blocks until the
// lock is free, so a waiting server starts the moment the first is done.
func lock(ctx context.Context, db *sql.DB) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("take a connection for the migration lock: %w", err)
	}
	lockCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if _, err := conn.ExecContext(lockCtx, `SELECT pg_advisory_lock($1)`, advisoryLockID); err != nil {
		conn.Close()
		return nil, fmt.Errorf("wait for the migration lock (another server may be migrating): %w", err)
	}
	return func() {
		// A lost connection releases a session lock by itself, so an
		// error here leaves nothing held.
		conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, advisoryLockID) //nolint:errcheck
		conn.Close()
	}, nil
}

// adoptLegacyVersions carries a SQLite database made by knot's earlier
// migrator (which recorded versions in schema_migrations) over to goose's
// goose_db_version, so that goose continues from where it stopped instead
// of running the first migrations again on tables that exist. The old
// table stays as it was.
func adoptLegacyVersions(ctx context.Context, db *sql.DB) error {
	has := func(table string) (bool, error) {
		var n int
		err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n)
		return n > 0, err
	}
	legacy, err := has("schema_migrations")
	if err != nil || !legacy {
		return err
	}
	adopted, err := has("goose_db_version")
	if err != nil || adopted {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	// The table as goose's SQLite dialect creates it, with the version 0
	// row goose writes first.
	if _, err := tx.ExecContext(ctx, `CREATE TABLE goose_db_version (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		version_id INTEGER NOT NULL,
		is_applied INTEGER NOT NULL,
		tstamp TIMESTAMP DEFAULT (datetime('now')))`); err != nil {
		return fmt.Errorf("create goose_db_version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1)`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied)
		SELECT version, 1 FROM schema_migrations ORDER BY version`); err != nil {
		return fmt.Errorf("copy schema_migrations: %w", err)
	}
	return tx.Commit()
}
