// Package models holds knot's data: GORM structs and every query on them, one
// file per aggregate. Callers never build SQL; a missing row is ErrNotFound.
//
// Every query runs on both SQLite (one server) and PostgreSQL (a cluster).
// What differs between them lives in the migrations and in dialect.go.
package models

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/knot-dev/knot/migrations"
)

// ErrNotFound is returned when the row asked for does not exist or does not
// belong to the caller.
var ErrNotFound = errors.New("not found")

// Source says which database to open: a SQLite file, or PostgreSQL.
type Source struct {
	// SQLitePath is the database file; used when PostgresDSN is empty.
	SQLitePath string
	// PostgresDSN is a PostgreSQL URL or key=value string.
	PostgresDSN string
}

// Open opens the database, waits for it to answer, and applies the
// embedded migrations. Errors name the config key and, for PostgreSQL, the
// host; never the password.
func Open(ctx context.Context, src Source) (*gorm.DB, error) {
	db, err := connect(ctx, src)
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, db); err != nil {
		Close(db)
		return nil, err
	}
	return db, nil
}

// OpenSQLite opens (creating if needed) and migrates the SQLite file at path.
func OpenSQLite(ctx context.Context, path string) (*gorm.DB, error) {
	return Open(ctx, Source{SQLitePath: path})
}

// Migrate applies every pending migration to db.
func Migrate(ctx context.Context, db *gorm.DB) error {
	m, err := Migrator(db)
	if err != nil {
		return err
	}
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("migrate the %s database: %w", dialectOf(db), err)
	}
	return nil
}

// Migrator returns the migrator for db's dialect.
func Migrator(db *gorm.DB) (*migrations.Migrator, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	return migrations.New(sqlDB, dialectOf(db))
}

var gormConfig = gorm.Config{
	Logger:                 logger.Default.LogMode(logger.Silent),
	SkipDefaultTransaction: true,
	// Every request runs the same few queries (token, user, roles,
	// templates); preparing them anew each time was about a fifth of
	// their cost (bench/README.md). The SQL texts are a small fixed
	// set; the cap keeps a future dynamic query from growing the cache
	// without bound.
	PrepareStmt:        true,
	PrepareStmtMaxSize: 512,
	// A taken unique key comes back as gorm.ErrDuplicatedKey on both
	// databases, so no caller reads a driver's error text or code.
	TranslateError: true,
}

func connect(ctx context.Context, src Source) (*gorm.DB, error) {
	if src.PostgresDSN != "" {
		return connectPostgres(ctx, src.PostgresDSN)
	}
	return connectSQLite(ctx, src.SQLitePath)
}

func connectSQLite(ctx context.Context, path string) (*gorm.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory %s: %w", dir, err)
		}
	}
	// _txlock=immediate takes the write lock at BEGIN, so two writers queue on
	// the busy timeout instead of one failing when it upgrades a read lock.
	// _secure_delete zeroes deleted content in the file, so that a value
	// made protected does not linger in a free page (see EraseOldVersions
	// for the write-ahead log).
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_synchronous=NORMAL&_txlock=immediate&_secure_delete=on"
	cfg := gormConfig
	db, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: sqliteDriverName, DSN: dsn}), &cfg)
	if err != nil {
		return nil, fmt.Errorf("open database server.sqlite.path = %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database server.sqlite.path = %s: %w", path, err)
	}
	// Keep the connections open under load: closing and reopening a SQLite
	// connection re-reads the schema and loses its prepared statements.
	sqlDB.SetMaxIdleConns(8)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database server.sqlite.path = %s: %w", path, err)
	}
	// The file exists now: the driver has opened it.
	count, err := countFor(dsn)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database server.sqlite.path = %s: %w", path, err)
	}
	byDB.Store(sqlDB, count)
	return db, nil
}

func connectPostgres(ctx context.Context, dsn string) (*gorm.DB, error) {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the DSN, password included.
		return nil, errors.New("server.postgres.dsn: cannot be parsed; want a URL such as postgres://knot:PASSWORD@db.internal:5432/knot?sslmode=require")
	}
	host := fmt.Sprintf("%s:%d", pc.Host, pc.Port)
	redact := func(err error) error {
		msg := err.Error()
		if pc.Password != "" {
			msg = strings.ReplaceAll(msg, pc.Password, "********")
		}
		return fmt.Errorf("server.postgres.dsn: cannot connect to PostgreSQL at %s (database %q, user %q): %s", host, pc.Database, pc.User, msg)
	}
	cfg := gormConfig
	db, err := gorm.Open(postgres.Open(dsn), &cfg)
	if err != nil {
		return nil, redact(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, redact(err)
	}
	sqlDB.SetMaxOpenConns(32)
	sqlDB.SetMaxIdleConns(16)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		sqlDB.Close()
		return nil, redact(err)
	}
	return db, nil
}

// Close closes the database's connections.
func Close(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	byDB.Delete(sqlDB)
	return sqlDB.Close()
}

// Ping checks that the database answers.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// firstOf is the one row a load by id found, or ErrNotFound.
func firstOf[T any](rows []T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, ErrNotFound
	}
	return &rows[0], nil
}

// updateByID writes updates to row id of T's table and reads the row back,
// in one transaction. updates is a map, not a struct, so that false and ""
// are written too.
func updateByID[T any](ctx context.Context, db *gorm.DB, id uint, updates map[string]any) (*T, error) {
	row := new(T)
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(new(T)).Where("id = ?", id).Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.First(row, id).Error
	})
	if err != nil {
		return nil, err
	}
	return row, nil
}

// deleteByID removes row id of T's table; what names it in an error.
func deleteByID[T any](ctx context.Context, db *gorm.DB, id uint, what string) error {
	res := db.WithContext(ctx).Delete(new(T), id)
	if res.Error != nil {
		return fmt.Errorf("delete %s %d: %w", what, id, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// whereIn narrows q to the rows whose column is one of ids; nil ids keeps
// every row.
func whereIn(q *gorm.DB, column string, ids []uint) *gorm.DB {
	if ids == nil {
		return q
	}
	return q.Where(column+" IN ?", ids)
}

// findIn loads the rows of q whose column is one of ids (every row when ids
// is nil); what names them in an error.
func findIn[T any](q *gorm.DB, column string, ids []uint, what string) ([]T, error) {
	var rows []T
	if err := whereIn(q, column, ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	return rows, nil
}

// replaceLinks makes values, each once, the only rows of a link table
// (user_roles, role_permissions) that belong to owner. The table and
// column names are this package's constants, never input.
func replaceLinks[V comparable](tx *gorm.DB, table, ownerColumn string, owner uint, valueColumn string, values []V) error {
	if err := tx.Exec(`DELETE FROM `+table+` WHERE `+ownerColumn+` = ?`, owner).Error; err != nil {
		return err
	}
	insert := `INSERT INTO ` + table + ` (` + ownerColumn + `, ` + valueColumn + `) VALUES (?, ?)`
	for i, v := range values {
		if slices.Contains(values[:i], v) {
			continue
		}
		if err := tx.Exec(insert, owner, v).Error; err != nil {
			return err
		}
	}
	return nil
}
