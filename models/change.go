package models

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// Kinds of change in the feed (the changes table, written by triggers).
const (
	ChangeTemplates = "templates"
	ChangeVariables = "variables"
	ChangeRoles     = "roles"
	// ChangeUser names a user (SubjectID): their name, email, active flag
	// or roles changed, or they were deleted.
	ChangeUser = "user"
	// ChangeToken names a deleted API token (SubjectID).
	ChangeToken = "token"
)

// Change is one row of the change feed.
type Change struct {
	ID        int64
	Kind      string
	SubjectID int64
}

func (Change) TableName() string { return "changes" }

// ChangesAfter returns up to limit changes with ids above cursor, oldest
// first.
func ChangesAfter(ctx context.Context, db *gorm.DB, cursor int64, limit int) ([]Change, error) {
	var out []Change
	err := db.WithContext(ctx).Where("id > ?", cursor).Order("id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("read changes after %d: %w", cursor, err)
	}
	return out, nil
}

// ChangeBounds returns the oldest and newest ids the feed still holds (0
// and 0 when it holds none).
func ChangeBounds(ctx context.Context, db *gorm.DB) (oldest, latest int64, err error) {
	// Straight through database/sql, which costs a fraction of GORM's
	// statement building; the caches ask through FeedBounds.
	sqlDB, err := db.DB()
	if err != nil {
		return 0, 0, err
	}
	return scanBounds(sqlDB.QueryRowContext(ctx, changeBoundsSQL))
}

// scanBounds reads the answer of changeBoundsSQL.
func scanBounds(row *sql.Row) (oldest, latest int64, err error) {
	var lo, hi sql.NullInt64
	if err := row.Scan(&lo, &hi); err != nil {
		return 0, 0, fmt.Errorf("read the change feed's bounds: %w", err)
	}
	return lo.Int64, hi.Int64, nil
}

const changeBoundsSQL = `SELECT MIN(id), MAX(id) FROM changes`

// FeedBounds asks the change feed's bounds through a statement prepared
// once: caches ask it on every request to learn whether anything changed,
// and parsing the query anew each time was a tenth of a bearer request.
// On SQLite it asks only after a commit (see commitCount), or when its last
// answer is older than sqliteAnswerLifetime.
type FeedBounds struct {
	db   *gorm.DB
	once sync.Once
	stmt *sql.Stmt

	commits *commitCount // nil: ask every time
	known   atomic.Pointer[boundsAnswer]
	now     func() time.Time
}

// boundsAnswer is an answer of the database, kept while commits says
// nothing has been committed since.
type boundsAnswer struct {
	commits        uint64
	at             time.Time
	oldest, latest int64
}

// sqliteAnswerLifetime bounds how long an answer is kept on SQLite when
// knot commits nothing: a change written by another program is seen
// within it.
const sqliteAnswerLifetime = time.Second

// NewFeedBounds returns a FeedBounds for db.
func NewFeedBounds(db *gorm.DB) *FeedBounds { return &FeedBounds{db: db, now: time.Now} }

// Bounds is ChangeBounds.
func (f *FeedBounds) Bounds(ctx context.Context) (oldest, latest int64, err error) {
	f.once.Do(f.prepare)
	if f.commits == nil {
		return f.ask(ctx)
	}
	state, settled := f.commits.read()
	now := f.now()
	if a := f.known.Load(); a != nil && a.commits == state && now.Sub(a.at) < sqliteAnswerLifetime {
		return a.oldest, a.latest, nil
	}
	if oldest, latest, err = f.ask(ctx); err != nil {
		return 0, 0, err
	}
	// Read with a commit in flight, the answer may miss it: not kept.
	if settled {
		f.known.Store(&boundsAnswer{commits: state, at: now, oldest: oldest, latest: latest})
	}
	return oldest, latest, nil
}

// prepare finds the database's commit count (SQLite) and prepares the
// query; a statement that cannot be prepared is asked unprepared.
func (f *FeedBounds) prepare() {
	sqlDB, err := f.db.DB()
	if err != nil {
		return
	}
	f.commits = commitsOf(sqlDB)
	f.stmt, _ = sqlDB.PrepareContext(context.Background(), changeBoundsSQL) //nolint:errcheck // nil falls back in ask
}

func (f *FeedBounds) ask(ctx context.Context) (oldest, latest int64, err error) {
	if f.stmt == nil {
		return ChangeBounds(ctx, f.db)
	}
	return scanBounds(f.stmt.QueryRowContext(ctx))
}

// LatestChange is the newest id in the feed, 0 when it is empty.
func LatestChange(ctx context.Context, db *gorm.DB) (int64, error) {
	var latest *int64
	if err := db.WithContext(ctx).Raw(`SELECT MAX(id) FROM changes`).Scan(&latest).Error; err != nil {
		return 0, fmt.Errorf("read the newest change: %w", err)
	}
	if latest == nil {
		return 0, nil
	}
	return *latest, nil
}

// PruneChanges forgets all but the newest keep changes. A leaf whose
// cursor is older than what is left resyncs from scratch; the newest row
// always stays, so the feed knows where its history starts.
func PruneChanges(ctx context.Context, db *gorm.DB, keep int64) (int64, error) {
	latest, err := LatestChange(ctx, db)
	if err != nil || latest <= keep {
		return 0, err
	}
	res := db.WithContext(ctx).Where("id <= ?", latest-keep).Delete(&Change{})
	if res.Error != nil {
		return 0, fmt.Errorf("prune the change feed: %w", res.Error)
	}
	return res.RowsAffected, nil
}
