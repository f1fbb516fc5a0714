// Package dbcopy moves a standalone server's SQLite database into an empty
// PostgreSQL database (`knot db copy`), so that a team that started on one
// machine can grow into a cluster of servers sharing that database.
//
// Rows are copied as they are, ids included, in one transaction on the
// target: the copy either lands whole or not at all. Secrets (API token
// ciphers, protected variables, the key_check marker) stay sealed under the
// standalone's server.encrypt, which is why every cluster server must then
// use that key.
package dbcopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/knot-dev/knot/models"
)

// Options say what to copy from where to where.
type Options struct {
	// SQLitePath is the standalone server's database file (its
	// server.sqlite.path). It must exist.
	SQLitePath string
	// PostgresDSN is the target: a PostgreSQL URL or key=value string.
	// Errors never repeat its password.
	PostgresDSN string
	// Sessions copies signed-in browser sessions too, so that nobody has
	// to sign in again; without it they stay behind.
	Sessions bool
}

// TableRows is a row count for one table.
type TableRows struct {
	Table string
	Rows  int64
	// Why a table's rows were not copied; empty for copied tables.
	Why string
}

// Report says what Copy did.
type Report struct {
	// From is the SQLite file copied from.
	From string
	// Copied counts the rows copied, per table, in the order copied.
	Copied []TableRows
	// NotCopied lists the source's tables whose rows stayed behind.
	NotCopied []TableRows
	// KeyCheck reports whether the source had recorded which
	// server.encrypt seals its secrets. The record was copied, so a
	// cluster server with another key refuses to start.
	KeyCheck bool
}

// table is one table to copy; where, if set, filters the source's rows.
type table struct {
	name  string
	where string
}

// copyOrder lists the tables in foreign-key order: every table comes after
// those it references.
var copyOrder = []table{
	{name: "roles"},
	{name: "role_permissions"},
	{name: "users"},
	{name: "user_roles"},
	{name: "system_setup"},
	{name: "api_tokens"},
	{name: "templates"},
	{name: "template_vars"},
	{name: "leaf_nodes"},
	{name: "settings"},
}

// sessionsTable is copied only with Options.Sessions. Expired sessions are
// left behind: the cluster's store would only delete them.
var sessionsTable = table{name: "sessions", where: "expiry > julianday('now')"}

// userSessionsTable says whose each session is; a session without its row
// is signed out, so the two go together. Rows of sessions that are over
// come along and are swept on the cluster.
var userSessionsTable = table{name: "user_sessions"}

// leftBehind are the source tables never copied, and why.
var leftBehind = []TableRows{
	{Table: "cluster_templates", Why: "a leaf's cache of its origin's templates is not moved; a cluster has its own"},
	{Table: "cluster_variables", Why: "a leaf's cache of its origin's variables is not moved; a cluster has its own"},
	{Table: "leaf_state", Why: "a leaf's sync state is not moved"},
	{Table: "login_throttle", Why: "sign-in rate limits start afresh"},
}

// generatedKeyFile is the name server/key.go gives the key it generates
// into the data directory when server.encrypt is empty.
const generatedKeyFile = "encrypt.key"

// Copy copies the standalone database at opts.SQLitePath into the empty
// PostgreSQL database at opts.PostgresDSN. Both are migrated to the latest
// schema first. It refuses a target that already holds knot data.
func Copy(ctx context.Context, opts Options) (Report, error) {
	rep := Report{From: opts.SQLitePath}
	if opts.SQLitePath == "" {
		return rep, errors.New("--from: give the standalone server's database file (its server.sqlite.path, by default ./data/knot.db)")
	}
	if opts.PostgresDSN == "" {
		return rep, errors.New("--to: give the PostgreSQL database to copy into, e.g. postgres://knot@db.internal:5432/knot (the password may come from PGPASSWORD)")
	}
	// models.OpenSQLite would create a missing file, and a typo would then
	// copy an empty database.
	if st, err := os.Stat(opts.SQLitePath); errors.Is(err, fs.ErrNotExist) {
		return rep, fmt.Errorf("--from %s: no such file; give the standalone server's server.sqlite.path", opts.SQLitePath)
	} else if err != nil {
		return rep, fmt.Errorf("--from %s: %w", opts.SQLitePath, err)
	} else if !st.Mode().IsRegular() {
		return rep, fmt.Errorf("--from %s: not a file; give the standalone server's server.sqlite.path", opts.SQLitePath)
	}

	srcGorm, err := models.OpenSQLite(ctx, opts.SQLitePath)
	if err != nil {
		return rep, fmt.Errorf("open --from database: %w", err)
	}
	defer models.Close(srcGorm)
	dstGorm, err := models.Open(ctx, models.Source{PostgresDSN: opts.PostgresDSN})
	if err != nil {
		return rep, fmt.Errorf("open --to database: %w", err)
	}
	defer models.Close(dstGorm)
	srcDB, err := srcGorm.DB()
	if err != nil {
		return rep, err
	}
	dstDB, err := dstGorm.DB()
	if err != nil {
		return rep, err
	}

	// One transaction on the source too: the rows copied are one moment's
	// state even if the standalone server is still running.
	src, err := srcDB.BeginTx(ctx, nil)
	if err != nil {
		return rep, fmt.Errorf("read the SQLite database: %w", err)
	}
	defer src.Rollback() //nolint:errcheck // read only; nothing to undo
	dst, err := dstDB.BeginTx(ctx, nil)
	if err != nil {
		return rep, fmt.Errorf("begin the copy: %w", err)
	}
	defer dst.Rollback() //nolint:errcheck // a no-op after Commit

	if err := refuseNonEmpty(ctx, dst); err != nil {
		return rep, err
	}
	// The migrations seeded the built-in roles; the source's own rows
	// (same ids, maybe other permissions) replace them.
	for _, stmt := range []string{`DELETE FROM role_permissions`, `DELETE FROM roles`} {
		if _, err := dst.ExecContext(ctx, stmt); err != nil {
			return rep, fmt.Errorf("clear the seeded roles: %w", err)
		}
	}

	tables := copyOrder
	if opts.Sessions {
		tables = append(tables[:len(tables):len(tables)], sessionsTable, userSessionsTable)
	}
	for _, t := range tables {
		n, err := copyTable(ctx, src, dst, t)
		if err != nil {
			return rep, fmt.Errorf("copy %s: %w", t.name, err)
		}
		rep.Copied = append(rep.Copied, TableRows{Table: t.name, Rows: n})
	}
	if err := src.QueryRowContext(ctx, `SELECT COUNT(*) > 0 FROM settings WHERE key = 'key_check'`).Scan(&rep.KeyCheck); err != nil {
		return rep, fmt.Errorf("read settings: %w", err)
	}

	left := leftBehind
	if !opts.Sessions {
		left = append([]TableRows{
			{Table: sessionsTable.name, Why: "signed-in browsers sign in again (--sessions copies them)"},
			{Table: userSessionsTable.name, Why: "the records of whose those sessions are go with them (--sessions)"},
		}, left...)
	}
	for _, l := range left {
		t := table{name: l.Table}
		if l.Table == sessionsTable.name {
			t = sessionsTable
		}
		if err := src.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.name+whereClause(t)).Scan(&l.Rows); err != nil {
			return rep, fmt.Errorf("count %s: %w", t.name, err)
		}
		if l.Rows > 0 {
			rep.NotCopied = append(rep.NotCopied, l)
		}
	}

	if err := resetSequences(ctx, dst); err != nil {
		return rep, err
	}
	if err := dst.Commit(); err != nil {
		return rep, fmt.Errorf("commit the copy: %w", err)
	}
	return rep, nil
}

// refuseNonEmpty fails unless the target holds nothing but what the
// migrations seed: copying over a cluster's data would mix two histories
// whose ids collide.
func refuseNonEmpty(ctx context.Context, dst *sql.Tx) error {
	var found []string
	for _, q := range []struct{ what, query string }{
		{"users", `SELECT COUNT(*) FROM users`},
		{"API tokens", `SELECT COUNT(*) FROM api_tokens`},
		{"templates", `SELECT COUNT(*) FROM templates`},
		{"variables", `SELECT COUNT(*) FROM template_vars`},
		{"leaf nodes", `SELECT COUNT(*) FROM leaf_nodes`},
		{"roles besides the built-in ones", `SELECT COUNT(*) FROM roles WHERE id > 2`},
		{"a completed initial setup", `SELECT COUNT(*) FROM system_setup`},
		{"a key check (a knot server has already started on it)", `SELECT COUNT(*) FROM settings WHERE key = 'key_check'`},
	} {
		var n int64
		if err := dst.QueryRowContext(ctx, q.query).Scan(&n); err != nil {
			return fmt.Errorf("check that the target is empty: %w", err)
		}
		switch {
		case n == 0:
		case strings.HasPrefix(q.what, "a "):
			found = append(found, q.what)
		default:
			found = append(found, fmt.Sprintf("%s (%d)", q.what, n))
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("the target PostgreSQL database is not empty: it has %s; copy into a new, empty database", strings.Join(found, ", "))
	}
	return nil
}

func whereClause(t table) string {
	if t.where == "" {
		return ""
	}
	return " WHERE " + t.where
}

// copyTable copies t's rows from the source to the target and returns how
// many. Columns are the source's, each converted to its target column's type.
func copyTable(ctx context.Context, src, dst *sql.Tx, t table) (int64, error) {
	cols, err := sourceColumns(ctx, src, t.name)
	if err != nil {
		return 0, err
	}
	types, err := targetColumnTypes(ctx, dst, t.name)
	if err != nil {
		return 0, err
	}
	quoted := make([]string, len(cols))
	params := make([]string, len(cols))
	for i, c := range cols {
		// A column the target lacks would be dropped without a word: the
		// source was written by a newer knot than this one.
		if _, ok := types[c]; !ok {
			return 0, fmt.Errorf("column %s is in the SQLite database but not in PostgreSQL; run `knot db copy` from the knot version the standalone server runs", c)
		}
		quoted[i] = quoteIdent(c)
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	list := strings.Join(quoted, ", ")
	rows, err := src.QueryContext(ctx, `SELECT `+list+` FROM `+quoteIdent(t.name)+whereClause(t))
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	defer rows.Close()
	insert, err := dst.PrepareContext(ctx, `INSERT INTO `+quoteIdent(t.name)+` (`+list+`) VALUES (`+strings.Join(params, ", ")+`)`)
	if err != nil {
		return 0, fmt.Errorf("prepare insert: %w", err)
	}
	defer insert.Close()

	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, fmt.Errorf("read row %d: %w", n+1, err)
		}
		for i, c := range cols {
			v, err := convert(vals[i], types[c])
			if err != nil {
				return n, fmt.Errorf("row %d, column %s: %w", n+1, c, err)
			}
			vals[i] = v
		}
		if _, err := insert.ExecContext(ctx, vals...); err != nil {
			return n, fmt.Errorf("insert row %d: %w", n+1, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("read: %w", err)
	}
	return n, nil
}

func sourceColumns(ctx context.Context, src *sql.Tx, tableName string) ([]string, error) {
	rows, err := src.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, tableName)
	if err != nil {
		return nil, fmt.Errorf("read the SQLite columns: %w", err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("read the SQLite columns: %w", err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the SQLite columns: %w", err)
	}
	if len(cols) == 0 {
		return nil, errors.New("the table is missing from the SQLite database")
	}
	return cols, nil
}

// targetColumnTypes maps each of the target table's columns to its
// information_schema data_type ("boolean", "timestamp with time zone", …).
func targetColumnTypes(ctx context.Context, dst *sql.Tx, tableName string) (map[string]string, error) {
	rows, err := dst.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, tableName)
	if err != nil {
		return nil, fmt.Errorf("read the PostgreSQL columns: %w", err)
	}
	defer rows.Close()
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("read the PostgreSQL columns: %w", err)
		}
		types[name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the PostgreSQL columns: %w", err)
	}
	if len(types) == 0 {
		return nil, errors.New("the table is missing from the PostgreSQL database")
	}
	return types, nil
}

// resetSequences makes every identity column continue after the copied
// ids; otherwise the next insert would be given an id already taken.
func resetSequences(ctx context.Context, dst *sql.Tx) error {
	rows, err := dst.QueryContext(ctx, `SELECT table_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name = 'id' AND is_identity = 'YES'
		ORDER BY table_name`)
	if err != nil {
		return fmt.Errorf("find the identity columns: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return fmt.Errorf("find the identity columns: %w", err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find the identity columns: %w", err)
	}
	for _, t := range tables {
		// is_called = false: the next id is exactly MAX(id)+1, also 1 for
		// an empty table.
		q := `SELECT setval(pg_get_serial_sequence($1, 'id'), COALESCE((SELECT MAX(id) FROM ` + quoteIdent(t) + `), 0) + 1, false)`
		if _, err := dst.ExecContext(ctx, q, quoteIdent(t)); err != nil {
			return fmt.Errorf("reset the id sequence of %s: %w", t, err)
		}
	}
	return nil
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// String is the report `knot db copy` prints: rows per table, what stayed
// behind, and what to do next.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Copied from %s:\n", r.From)
	for _, t := range r.Copied {
		fmt.Fprintf(&b, "  %-18s %6d\n", t.Table, t.Rows)
	}
	if len(r.NotCopied) > 0 {
		b.WriteString("Not copied:\n")
		for _, t := range r.NotCopied {
			fmt.Fprintf(&b, "  %-18s %6d  %s\n", t.Table, t.Rows, t.Why)
		}
	}
	keyFile := filepath.Join(filepath.Dir(r.From), generatedKeyFile)
	b.WriteString("\nNext: set server.encrypt on every cluster server to this standalone server's key " +
		"(its knot.toml, KNOT_SERVER_ENCRYPT, or the key file in its data directory, " + keyFile + "), " +
		"and server.postgres.enabled = true with server.postgres.dsn pointing at the new database.\n")
	if r.KeyCheck {
		b.WriteString("The copied database records that key: a server started with any other key refuses to start.\n")
	} else {
		b.WriteString("The standalone database had no key check (it never ran this knot version), so the first " +
			"cluster server records its key: with any other key the copied tokens and protected variables cannot be read.\n")
	}
	return b.String()
}
