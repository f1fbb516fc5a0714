package models

import (
	"context"

	"gorm.io/gorm"
)

// ClusterCacheCounts is how much of the origin a leaf holds: its cached
// cluster templates and cluster variables, for the leaf status page.
func ClusterCacheCounts(ctx context.Context, db *gorm.DB) (templates, variables int64, err error) {
	db = db.WithContext(ctx)
	if err := db.Model(&ClusterTemplate{}).Count(&templates).Error; err != nil {
		return 0, 0, err
	}
	if err := db.Model(&ClusterVariable{}).Count(&variables).Error; err != nil {
		return 0, 0, err
	}
	return templates, variables, nil
}
