package models

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Limit is one token bucket: Burst attempts at once, then one more every
// Every. Key names what is limited ("ip:…", "email:…").
type Limit struct {
	Key   string
	Burst int
	Every time.Duration
}

// throttleRow is a row of login_throttle: a bucket's level as of UpdatedAt.
type throttleRow struct {
	Key       string `gorm:"primaryKey"`
	Tokens    float64
	UpdatedAt time.Time
}

func (throttleRow) TableName() string { return "login_throttle" }

// TakeAttempt takes one attempt from every bucket in limits at now, or from
// none: when any is empty it returns false and how long until all have one
// again.
//
// The buckets live in the database and are read and written under a row
// lock, so every server sharing db draws on the same ones: buckets in each
// server's memory would let a cluster of n servers take n times the
// attempts. Only the state is stored; the bucket arithmetic is
// x/time/rate's, on a limiter rebuilt from the row for the length of the
// transaction.
func TakeAttempt(ctx context.Context, db *gorm.DB, now time.Time, limits ...Limit) (bool, time.Duration, error) {
	// One order for every caller: two transactions never wait on each other's rows crosswise.
	limits = slices.SortedFunc(slices.Values(limits), func(a, b Limit) int { return strings.Compare(a.Key, b.Key) })
	now = now.UTC()
	var allowed bool
	var wait time.Duration
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		rows, err := lockBuckets(tx, limits, now)
		if err != nil {
			return err
		}
		allowed, wait = drawOnBuckets(limits, rows, now)
		for i := range rows {
			if err := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "key"}},
				DoUpdates: clause.AssignmentColumns([]string{"tokens", "updated_at"}),
			}).Create(&rows[i]).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, 0, fmt.Errorf("sign-in throttle: %w", err)
	}
	return allowed, wait, nil
}

// lockBuckets returns the rows of limits' buckets, in limits' order, each
// locked until the transaction ends.
func lockBuckets(tx *gorm.DB, limits []Limit, now time.Time) ([]throttleRow, error) {
	keys := make([]string, len(limits))
	full := make([]throttleRow, len(limits))
	for i, l := range limits {
		keys[i] = l.Key
		full[i] = throttleRow{Key: l.Key, Tokens: float64(l.Burst), UpdatedAt: now}
		// A row to lock even for a bucket never used before.
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&full[i]).Error; err != nil {
			return nil, err
		}
	}
	var found []throttleRow
	if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("key IN ?", keys).Order("key").Find(&found).Error; err != nil {
		return nil, err
	}
	rows := full
	for i := range rows {
		// A row forgotten (a successful sign-in) between the insert and the
		// read stays a full bucket, which is what a missing row means.
		if j := slices.IndexFunc(found, func(r throttleRow) bool { return r.Key == rows[i].Key }); j >= 0 {
			rows[i] = found[j]
		}
	}
	return rows, nil
}

// drawOnBuckets takes one token from every bucket, or from none when any
// of them would have to wait for it; then it says how long the longest
// wait is. rows come back at their level as of now.
func drawOnBuckets(limits []Limit, rows []throttleRow, now time.Time) (bool, time.Duration) {
	taken := make([]*rate.Reservation, len(limits))
	limiters := make([]*rate.Limiter, len(limits))
	at := make([]time.Time, len(limits))
	allowed, wait := true, time.Duration(0)
	for i, l := range limits {
		// A clock behind another server's never refills backwards.
		at[i] = now
		if now.Before(rows[i].UpdatedAt) {
			at[i] = rows[i].UpdatedAt
		}
		limiters[i] = l.limiter(rows[i])
		taken[i] = limiters[i].ReserveN(at[i], 1)
		if d := taken[i].DelayFrom(at[i]); d > 0 {
			allowed, wait = false, max(wait, d)
		}
	}
	for i := range rows {
		if !allowed {
			taken[i].CancelAt(at[i])
		}
		rows[i].Tokens, rows[i].UpdatedAt = limiters[i].TokensAt(at[i]), now
	}
	return allowed, wait
}

// limiter is the bucket l at row's level as of row.UpdatedAt. A new
// limiter is full; emptying it at the moment from which refilling reaches
// the stored level at the stored time leaves it just so.
func (l Limit) limiter(row throttleRow) *rate.Limiter {
	lim := rate.NewLimiter(rate.Every(l.Every), l.Burst)
	// Rounded, not truncated: a bucket stored at exactly one token must not
	// come back a nanosecond short of it.
	refill := time.Duration(math.Round(row.Tokens * float64(l.Every)))
	lim.AllowN(row.UpdatedAt.Add(-refill), l.Burst)
	return lim
}

// ForgetThrottle empties the record of key, so that it starts full again.
func ForgetThrottle(ctx context.Context, db *gorm.DB, key string) error {
	return db.WithContext(ctx).Where("key = ?", key).Delete(&throttleRow{}).Error
}

// SweepThrottle deletes buckets untouched since before cutoff; a bucket
// that was idle that long is full again, which is what a missing row means.
func SweepThrottle(ctx context.Context, db *gorm.DB, cutoff time.Time) (int64, error) {
	res := db.WithContext(ctx).Where("updated_at < ?", cutoff.UTC()).Delete(&throttleRow{})
	return res.RowsAffected, res.Error
}
