package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mattn/go-sqlite3"
)

// Commit counting on SQLite.
//
// The caches of the bearer path and the template list ask the change feed
// on every request whether anything changed (FeedBounds). On SQLite, knot
// is the only writer of its database file (the data directory's lock keeps
// a second server away), so the process can tell by itself when something
// may have changed: every connection knot opens on the file counts its
// commits, and FeedBounds asks the database again only when a commit has
// happened since its last answer.
//
// A commit is counted twice: when it starts (SQLite's commit hook, called
// before the commit is visible to other connections) and when it has
// finished (after the driver call that ran it returns, when it is). An
// answer read from the database is kept only if no commit was in flight
// when the read began, and it is used only while no commit has started
// since; so an answer is never older than a commit that finished before
// the request that uses it began. A hook whose call is never seen to
// return leaves a commit "in flight" and turns the shortcut off: the
// failure is a slower request, never a stale one.
//
// Another program writing the file while knot runs (the sqlite3 shell) is
// not counted; FeedBounds asks the database at least once a second anyway
// (sqliteAnswerLifetime), so such a change is seen within a second.

// sqliteDriverName is the database/sql driver knot opens SQLite files with:
// mattn/go-sqlite3 with every connection's commits counted.
const sqliteDriverName = "sqlite3_knot"

func init() {
	sql.Register(sqliteDriverName, &countingDriver{})
}

// commitCount is the commits made through knot's connections to one file.
// The low bits hold the commits in flight, the high bits how many have
// finished, so that one atomic read sees both.
type commitCount struct{ state atomic.Uint64 }

const inFlightBits = 20

func (c *commitCount) started()  { c.state.Add(1) }
func (c *commitCount) finished() { c.state.Add(1<<inFlightBits - 1) }

// read returns the count and whether no commit is in flight.
func (c *commitCount) read() (state uint64, settled bool) {
	s := c.state.Load()
	return s, s&(1<<inFlightBits-1) == 0
}

// counts holds one commitCount per database file, found by the file's
// identity (two names for one file, through a link, share it), and byDB
// the file's count for each *sql.DB opened on it.
var (
	countsMu sync.Mutex
	counts   []fileCount
	byDB     sync.Map // *sql.DB → *commitCount
)

type fileCount struct {
	file  os.FileInfo
	count *commitCount
}

// countFor returns the count of the file dsn names, which exists: the
// driver has opened it.
func countFor(dsn string) (*commitCount, error) {
	path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	file, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("count the commits of %s: %w", path, err)
	}
	countsMu.Lock()
	defer countsMu.Unlock()
	for _, fc := range counts {
		if os.SameFile(fc.file, file) {
			return fc.count, nil
		}
	}
	c := &commitCount{}
	counts = append(counts, fileCount{file: file, count: c})
	return c, nil
}

// commitsOf returns the commit count of a database opened by connectSQLite,
// nil for any other (PostgreSQL: other servers write too).
func commitsOf(db *sql.DB) *commitCount {
	c, _ := byDB.Load(db)
	cc, _ := c.(*commitCount)
	return cc
}

// countingDriver opens mattn/go-sqlite3 connections and wraps them. The
// wrappers implement exactly the interfaces the driver's own types do, so
// database/sql treats them alike, and every call that can run a statement
// goes through a wrapper that settles the commits it made. The driver is a
// field, not embedded: a method it gains (a connector) must not reach
// database/sql around Open.
type countingDriver struct{ sqlite sqlite3.SQLiteDriver }

func (d *countingDriver) Open(dsn string) (driver.Conn, error) {
	conn, err := d.sqlite.Open(dsn)
	if err != nil {
		return nil, err
	}
	count, err := countFor(dsn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	sc := conn.(*sqlite3.SQLiteConn)
	c := &countingConn{conn: sc, count: count}
	sc.RegisterCommitHook(func() int {
		c.pending++
		c.count.started()
		return 0 // let the commit go ahead
	})
	return c, nil
}

// countingConn is one connection. pending needs no lock of its own:
// database/sql makes every call into a connection (its own goroutines'
// too: closing rows on a cancelled context, closing statements) under that
// connection's lock, and the commit hook runs inside the call that commits
// (on the driver's helper goroutine when the context can be cancelled, and
// the call waits for it).
type countingConn struct {
	conn    *sqlite3.SQLiteConn
	count   *commitCount
	pending int // commits started by this connection and not yet settled
}

// settle marks the connection's started commits finished: called when the
// call that ran them has returned.
func (c *countingConn) settle() {
	for ; c.pending > 0; c.pending-- {
		c.count.finished()
	}
}

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	defer c.settle()
	s, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &countingStmt{stmt: s.(*sqlite3.SQLiteStmt), conn: c}, nil
}

func (c *countingConn) Close() error {
	defer c.settle()
	return c.conn.Close()
}

func (c *countingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	defer c.settle()
	tx, err := c.conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &countingTx{tx: tx, conn: c}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	defer c.settle()
	return c.conn.ExecContext(ctx, query, args)
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	defer c.settle()
	rows, err := c.conn.QueryContext(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return &countingRows{rows: rows.(*sqlite3.SQLiteRows), conn: c}, nil
}

//nolint:staticcheck // the driver offers the deprecated form too
func (c *countingConn) Exec(query string, args []driver.Value) (driver.Result, error) {
	defer c.settle()
	return c.conn.Exec(query, args)
}

//nolint:staticcheck // the driver offers the deprecated form too
func (c *countingConn) Query(query string, args []driver.Value) (driver.Rows, error) {
	defer c.settle()
	rows, err := c.conn.Query(query, args)
	if err != nil {
		return nil, err
	}
	return &countingRows{rows: rows.(*sqlite3.SQLiteRows), conn: c}, nil
}

func (c *countingConn) Ping(ctx context.Context) error {
	defer c.settle()
	return c.conn.Ping(ctx)
}

type countingTx struct {
	tx   driver.Tx
	conn *countingConn
}

func (t *countingTx) Commit() error {
	defer t.conn.settle()
	return t.tx.Commit()
}

func (t *countingTx) Rollback() error {
	defer t.conn.settle()
	return t.tx.Rollback()
}

type countingStmt struct {
	stmt *sqlite3.SQLiteStmt
	conn *countingConn
}

func (s *countingStmt) Close() error {
	defer s.conn.settle()
	return s.stmt.Close()
}

func (s *countingStmt) NumInput() int { return s.stmt.NumInput() }

// Exec and ExecContext read a statement that returns rows (a SELECT or a
// PRAGMA run through Exec) to its end: the driver's Exec steps it once and
// leaves it open, holding its connection's read snapshot in the past, and
// a bounds query on that connection would answer from there.
//
//nolint:staticcheck // driver.Stmt requires the deprecated form
func (s *countingStmt) Exec(args []driver.Value) (driver.Result, error) {
	defer s.conn.settle()
	if s.stmt.Readonly() {
		return drained(s.stmt.Query(args))
	}
	return s.stmt.Exec(args)
}

//nolint:staticcheck // driver.Stmt requires the deprecated form
func (s *countingStmt) Query(args []driver.Value) (driver.Rows, error) {
	defer s.conn.settle()
	rows, err := s.stmt.Query(args)
	if err != nil {
		return nil, err
	}
	return &countingRows{rows: rows.(*sqlite3.SQLiteRows), conn: s.conn}, nil
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	defer s.conn.settle()
	if s.stmt.Readonly() {
		return drained(s.stmt.QueryContext(ctx, args))
	}
	return s.stmt.ExecContext(ctx, args)
}

// drained reads rows to their end and closes them.
func drained(rows driver.Rows, err error) (driver.Result, error) {
	if err != nil {
		return nil, err
	}
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return driver.RowsAffected(0), rows.Close()
			}
			rows.Close()
			return nil, err
		}
	}
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	defer s.conn.settle()
	rows, err := s.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	return &countingRows{rows: rows.(*sqlite3.SQLiteRows), conn: s.conn}, nil
}

// countingRows: a statement with RETURNING commits when its last row has
// been read or the rows are closed.
type countingRows struct {
	rows *sqlite3.SQLiteRows
	conn *countingConn
}

func (r *countingRows) Columns() []string { return r.rows.Columns() }

func (r *countingRows) Close() error {
	defer r.conn.settle()
	return r.rows.Close()
}

func (r *countingRows) Next(dest []driver.Value) error {
	defer r.conn.settle()
	return r.rows.Next(dest)
}

func (r *countingRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.rows.ColumnTypeDatabaseTypeName(i)
}

func (r *countingRows) ColumnTypeNullable(i int) (bool, bool) { return r.rows.ColumnTypeNullable(i) }

func (r *countingRows) ColumnTypeScanType(i int) reflect.Type { return r.rows.ColumnTypeScanType(i) }
