package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"gorm.io/gorm"
)

// The wrappers must offer database/sql exactly what the driver's own types
// do: one interface more or less and database/sql would take another path
// (one that might run a statement outside a wrapper, or behave otherwise).
func TestCountingWrappersOfferWhatTheDriverOffers(t *testing.T) {
	interfaces := []reflect.Type{
		reflect.TypeFor[driver.Conn](), reflect.TypeFor[driver.ConnBeginTx](), reflect.TypeFor[driver.ConnPrepareContext](),
		reflect.TypeFor[driver.Execer](), reflect.TypeFor[driver.ExecerContext](), //nolint:staticcheck // checked on purpose
		reflect.TypeFor[driver.Queryer](), reflect.TypeFor[driver.QueryerContext](), //nolint:staticcheck // checked on purpose
		reflect.TypeFor[driver.Pinger](), reflect.TypeFor[driver.SessionResetter](), reflect.TypeFor[driver.Validator](),
		reflect.TypeFor[driver.NamedValueChecker](), reflect.TypeFor[driver.Tx](),
		reflect.TypeFor[driver.Stmt](), reflect.TypeFor[driver.StmtExecContext](), reflect.TypeFor[driver.StmtQueryContext](),
		reflect.TypeFor[driver.ColumnConverter](), //nolint:staticcheck // checked on purpose
		reflect.TypeFor[driver.Rows](), reflect.TypeFor[driver.RowsNextResultSet](),
		reflect.TypeFor[driver.RowsColumnTypeDatabaseTypeName](), reflect.TypeFor[driver.RowsColumnTypeLength](),
		reflect.TypeFor[driver.RowsColumnTypeNullable](), reflect.TypeFor[driver.RowsColumnTypePrecisionScale](),
		reflect.TypeFor[driver.RowsColumnTypeScanType](),
	}
	pairs := []struct{ ours, driver reflect.Type }{
		{reflect.TypeFor[*countingConn](), reflect.TypeFor[*sqlite3.SQLiteConn]()},
		{reflect.TypeFor[*countingTx](), reflect.TypeFor[*sqlite3.SQLiteTx]()},
		{reflect.TypeFor[*countingStmt](), reflect.TypeFor[*sqlite3.SQLiteStmt]()},
		{reflect.TypeFor[*countingRows](), reflect.TypeFor[*sqlite3.SQLiteRows]()},
	}
	// A connector would let database/sql open connections around Open.
	if d := reflect.TypeFor[*countingDriver](); !d.Implements(reflect.TypeFor[driver.Driver]()) || d.Implements(reflect.TypeFor[driver.DriverContext]()) {
		t.Error("countingDriver must be a driver.Driver and no driver.DriverContext")
	}
	for _, p := range pairs {
		for _, i := range interfaces {
			if p.ours.Implements(i) != p.driver.Implements(i) {
				t.Errorf("%v implements %v: %v; %v: %v", p.ours, i, p.ours.Implements(i), p.driver, p.driver.Implements(i))
			}
		}
	}
}

// openCounted opens a migrated SQLite file and a FeedBounds on it whose
// clock the test sets.
func openCounted(t *testing.T) (*gorm.DB, string, *FeedBounds, *time.Time) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "knot.db")
	db, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(db) })
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f := NewFeedBounds(db)
	f.now = func() time.Time { return now }
	if _, _, err := f.Bounds(context.Background()); err != nil || f.commits == nil {
		t.Fatalf("a SQLite database has no commit count (%v)", err)
	}
	return db, path, f, &now
}

func latestOf(t *testing.T, f *FeedBounds) int64 {
	t.Helper()
	_, latest, err := f.Bounds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return latest
}

// Every way knot writes, through every handle it opens on the file, is
// seen by the very next Bounds.
func TestFeedBoundsSeesEveryCommitAsSoonAsItsCallReturns(t *testing.T) {
	db, path, f, _ := openCounted(t)
	writes := everyWayKnotWrites(t, db, path)
	for _, w := range writes {
		before := latestOf(t, f)
		if again := latestOf(t, f); again != before {
			t.Fatalf("%s: the bounds moved from %d to %d with nothing written", w.name, before, again)
		}
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if after := latestOf(t, f); after <= before {
			t.Errorf("%s: latest change %d after the write, %d before: the write was not seen", w.name, after, before)
		}
	}
}

// namedWrite is one way of writing to the database.
type namedWrite struct {
	name  string
	write func() error
}

// everyWayKnotWrites lists the ways of writing to the file at path, db
// open on it: GORM and database/sql calls, and other handles on the file.
func everyWayKnotWrites(t *testing.T, db *gorm.DB, path string) []namedWrite {
	ctx := context.Background()
	other, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(other) })
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Dir(path), link); err != nil {
		t.Fatal(err)
	}
	alias, err := OpenSQLite(ctx, filepath.Join(link, filepath.Base(path)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(alias) })
	tpl, err := CreateTemplate(ctx, db, TemplateInput{Name: "first", Active: true, Body: "image: x"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	describe := func(on *gorm.DB, text string) func() error {
		return func() error { return on.Model(&Template{}).Where("id = ?", tpl.ID).Update("description", text).Error }
	}
	sqlDB, _ := db.DB()
	const insert = `INSERT INTO changes (kind) VALUES ('templates')`
	return []namedWrite{
		{"a GORM create (INSERT … RETURNING, committed while its rows are read)", func() error {
			_, err := CreateTemplate(ctx, db, TemplateInput{Name: "second", Active: true, Body: "image: y"}, time.Now())
			return err
		}},
		{"a GORM update", describe(db, "changed")},
		{"a transaction", func() error {
			return db.Transaction(func(tx *gorm.DB) error { return describe(tx, "in a transaction")() })
		}},
		{"database/sql, autocommit", func() error {
			_, err := sqlDB.ExecContext(ctx, insert)
			return err
		}},
		{"database/sql, a prepared statement", func() error {
			st, err := sqlDB.PrepareContext(ctx, insert)
			if err != nil {
				return err
			}
			defer st.Close()
			_, err = st.ExecContext(ctx)
			return err
		}},
		{"another handle on the same file", describe(other, "from the other handle")},
		{"a handle on another name of the file (a linked directory)", describe(alias, "through the link")},
	}
}

// What knot did not write (another program on the file) is not counted;
// the answer is asked again once it is a second old.
func TestFeedBoundsAsksAgainAfterASecondForOtherWriters(t *testing.T) {
	ctx := context.Background()
	_, path, f, now := openCounted(t)
	before := latestOf(t, f)
	plain, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.ExecContext(ctx, `INSERT INTO changes (kind) VALUES ('templates')`); err != nil {
		t.Fatal(err)
	}
	if got := latestOf(t, f); got != before {
		t.Fatalf("latest = %d right after an uncounted write, want the kept answer %d (the shortcut is not in use)", got, before)
	}
	*now = now.Add(sqliteAnswerLifetime)
	if got := latestOf(t, f); got <= before {
		t.Fatalf("latest = %d a second after an uncounted write, want more than %d", got, before)
	}
}

// Writers and readers at once: once a write's call has returned, no
// Bounds on any goroutine answers with less than what it wrote.
func TestFeedBoundsNeverAnswersOlderThanAFinishedWrite(t *testing.T) {
	ctx := context.Background()
	db, _, f, _ := openCounted(t)
	f.now = time.Now // real time: the answers' lifetime plays no part in this
	sqlDB, _ := db.DB()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					if _, _, err := f.Bounds(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	var writers sync.WaitGroup
	for w := range 3 {
		writers.Go(func() {
			for i := range 150 {
				var id int64
				var err error
				if (w+i)%2 == 0 {
					err = db.Raw(`INSERT INTO changes (kind) VALUES ('templates') RETURNING id`).Scan(&id).Error
				} else {
					var res sql.Result
					if res, err = sqlDB.ExecContext(ctx, `INSERT INTO changes (kind) VALUES ('templates')`); err == nil {
						id, err = res.LastInsertId()
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
				if _, latest, err := f.Bounds(ctx); err != nil || latest < id {
					t.Errorf("writer %d: wrote change %d, then Bounds said latest %d (%v)", w, id, latest, err)
					return
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	if _, settled := f.commits.read(); !settled {
		t.Error("commits still in flight after every write returned")
	}
}

// A SELECT run through a prepared statement's Exec is read to its end: the
// driver would leave it open, and its connection's snapshot in the past.
func TestAQueryRunAsAStatementLeavesNoConnectionInThePast(t *testing.T) {
	ctx := context.Background()
	db, path, f, _ := openCounted(t)
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1) // the bounds query runs on the same connection
	other, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(other)
	insert := func() {
		t.Helper()
		if err := other.Exec(`INSERT INTO changes (kind) VALUES ('token')`).Error; err != nil {
			t.Fatal(err)
		}
	}
	insert()
	st, err := sqlDB.PrepareContext(ctx, `SELECT id FROM changes`)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	insert()
	var want int64
	if err := other.Raw(`SELECT MAX(id) FROM changes`).Scan(&want).Error; err != nil {
		t.Fatal(err)
	}
	if got := latestOf(t, f); got != want {
		t.Fatalf("latest = %d after a SELECT run with Exec and a later commit, want %d", got, want)
	}
}
