package models

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/knot-dev/knot/vault"
)

// setting is a row of settings: facts about the database itself.
type setting struct {
	Key   string `gorm:"primaryKey"`
	Value string
}

func (setting) TableName() string { return "settings" }

const (
	settingKeyCheck = "key_check"
	keyCheckText    = "knot: this database's secrets are sealed under this key"
)

func keyCheckContext() []byte { return []byte("knot key check") }

// ErrKeyMismatch means server.encrypt is not the key the database's secrets
// were sealed with.
var ErrKeyMismatch = errors.New("server.encrypt differs from the key this database's secrets are sealed with")

// CheckEncryptKey makes sure v holds the key the database's secrets are
// sealed under. The first server to open a database seals a marker with its
// key; every later one must be able to open that marker. The check is on
// the marker, never by trial on user data, so a wrong key is refused at
// start-up even before anything is sealed.
func CheckEncryptKey(ctx context.Context, db *gorm.DB, v *vault.Vault) error {
	marker, err := v.Seal([]byte(keyCheckText), keyCheckContext())
	if err != nil {
		return err
	}
	// Of several servers starting at once, the first insert wins and the
	// rest read its marker.
	if err := db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&setting{Key: settingKeyCheck, Value: marker}).Error; err != nil {
		return fmt.Errorf("record the encryption key check: %w", err)
	}
	var row setting
	if err := db.WithContext(ctx).Where("key = ?", settingKeyCheck).First(&row).Error; err != nil {
		return fmt.Errorf("read the encryption key check: %w", err)
	}
	plain, err := v.Open(row.Value, keyCheckContext())
	if err != nil || string(plain) != keyCheckText {
		return ErrKeyMismatch
	}
	return nil
}
