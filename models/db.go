// Package models holds knot's data: GORM structs and every query on them, one
// file per aggregate. Callers never build SQL; a missing row is ErrNotFound.
package models

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/knot-dev/knot/migrations"
)

// ErrNotFound is returned when the row asked for does not exist or does not
// belong to the caller.
var ErrNotFound = errors.New("not found")

// Open opens (creating if needed) the SQLite database at path with WAL,
// a busy timeout, foreign keys and immediate write transactions, then applies
// the embedded migrations.
func Open(ctx context.Context, path string) (*gorm.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory %s: %w", dir, err)
		}
	}
	// _txlock=immediate takes the write lock at BEGIN, so two writers queue on
	// the busy timeout instead of one failing when it upgrades a read lock.
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_synchronous=NORMAL&_txlock=immediate"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{
		Logger:                 logger.Default.LogMode(logger.Silent),
		SkipDefaultTransaction: true,
		// Every request runs the same few queries (token, user, roles,
		// templates); preparing them anew each time was about a fifth of
		// their cost (bench/README.md). The SQL texts are a small fixed
		// set; the cap keeps a future dynamic query from growing the cache
		// without bound.
		PrepareStmt:        true,
		PrepareStmtMaxSize: 512,
	})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if _, err := migrations.Apply(ctx, sqlDB); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("migrate database %s: %w", path, err)
	}
	return db, nil
}

// Close closes the database's connections.
func Close(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}
