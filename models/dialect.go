package models

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/knot-dev/knot/migrations"
)

// This file is the one place in models that knows SQLite from PostgreSQL
// at run time; the schema's differences live in the migrations.

// dialectOf is migrations.SQLite or migrations.Postgres.
func dialectOf(db *gorm.DB) string {
	if db.Dialector.Name() == "postgres" {
		return migrations.Postgres
	}
	return migrations.SQLite
}

// IsPostgres reports whether db is a PostgreSQL database (a cluster's).
func IsPostgres(db *gorm.DB) bool { return dialectOf(db) == migrations.Postgres }

// ErrUnavailable is what IsUnavailable errors are: the database could not be
// reached or went away mid-query. Callers answer 503 and try again later;
// nothing was changed by a statement that failed this way.
var ErrUnavailable = errors.New("the database is unavailable")

// IsUnavailable reports whether err means the database cannot be reached
// right now (refused or lost connection, a server shutting down or
// starting, SQLite busy past its timeout), as opposed to a fault in the
// request or the data.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: the server is
		// shutting down, crashed, or not accepting connections yet;
		// 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"conn closed", "connection refused", "connection reset", "broken pipe",
		"database is locked", "failed to connect", "unexpected EOF"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// EraseOldVersions makes the database forget old versions of rows just
// rewritten, after a secret was sealed over a plain value. On SQLite the
// old page images live in the write-ahead log until a checkpoint; a
// TRUNCATE checkpoint copies the new pages into the main file (where
// secure_delete has zeroed what was deleted) and empties the log. A reader
// holding an old snapshot can make it stop short; it is retried on the next
// sealing, and the log never grows past the next automatic checkpoint.
// PostgreSQL keeps dead row versions until VACUUM (SECURITY.md says what
// an operator should do); nothing to do here.
func EraseOldVersions(ctx context.Context, db *gorm.DB) error {
	if IsPostgres(db) {
		return nil
	}
	// The pragma answers with a row (busy, log, checkpointed). Exec would
	// leave that statement open on the connection, and the next commit there
	// fails with "SQL statements in progress"; reading the row finishes it.
	var res struct{ Busy, Log, Checkpointed int }
	return db.WithContext(ctx).Raw(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&res).Error
}
