package models

import (
	"context"
	"fmt"
	"slices"
	"time"

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

// throttleRow is a row of login_throttle.
type throttleRow struct {
	Key       string `gorm:"primaryKey"`
	Tokens    float64
	UpdatedAt time.Time
}

func (throttleRow) TableName() string { return "login_throttle" }

// TakeAttempt takes one attempt from every bucket in limits at now, or from
// none: when any is empty it returns false and how long until all have one
// again. The buckets live in the database and are read and written under a
// row lock, so every server sharing db draws on the same ones.
func TakeAttempt(ctx context.Context, db *gorm.DB, now time.Time, limits ...Limit) (bool, time.Duration, error) {
	limits = slices.Clone(limits)
	// One order for every caller: two transactions never wait on each other's rows crosswise.
	slices.SortFunc(limits, func(a, b Limit) int {
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	now = now.UTC()
	keys := make([]string, len(limits))
	for i, l := range limits {
		keys[i] = l.Key
	}
	var allowed bool
	var wait time.Duration
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, l := range limits {
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).
				Create(&throttleRow{Key: l.Key, Tokens: float64(l.Burst), UpdatedAt: now}).Error; err != nil {
				return err
			}
		}
		var rows []throttleRow
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("key IN ?", keys).Order("key").Find(&rows).Error; err != nil {
			return err
		}
		byKey := map[string]*throttleRow{}
		for i := range rows {
			byKey[rows[i].Key] = &rows[i]
		}
		allowed, wait = true, 0
		for _, l := range limits {
			r := byKey[l.Key]
			if r == nil {
				// Forgotten (a successful sign-in) between the insert and
				// the read: a missing bucket is a full one.
				r = &throttleRow{Key: l.Key, Tokens: float64(l.Burst), UpdatedAt: now}
				byKey[l.Key] = r
			}
			// A clock behind another server's never refills backwards.
			elapsed := max(0, now.Sub(r.UpdatedAt))
			r.Tokens = min(float64(l.Burst), r.Tokens+elapsed.Seconds()/l.Every.Seconds())
			r.UpdatedAt = now
			if r.Tokens < 1 {
				allowed = false
				wait = max(wait, time.Duration((1-r.Tokens)*float64(l.Every)))
			}
		}
		for _, l := range limits {
			r := byKey[l.Key]
			if allowed {
				r.Tokens--
			}
			if err := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "key"}},
				DoUpdates: clause.AssignmentColumns([]string{"tokens", "updated_at"}),
			}).Create(r).Error; err != nil {
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
