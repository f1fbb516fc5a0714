package models

import (
	"context"
	"errors"
	"strconv"

	"gorm.io/gorm"
)

const stateFeedCursor = "feed_cursor"

// FeedCursor is the last change of the origin's feed this leaf applied (0
// when it never did: the feed then answers with a resync).
func FeedCursor(ctx context.Context, db *gorm.DB) (int64, error) {
	var row leafState
	err := db.WithContext(ctx).Where("key = ?", stateFeedCursor).First(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(row.Value, 10, 64)
	if err != nil {
		// A mangled cursor only costs a resync.
		return 0, nil
	}
	return n, nil
}

// SetFeedCursor records the last change applied.
func SetFeedCursor(ctx context.Context, db *gorm.DB, cursor int64) error {
	return setState(db.WithContext(ctx), stateFeedCursor, strconv.FormatInt(cursor, 10))
}
