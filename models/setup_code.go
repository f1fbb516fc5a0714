package models

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/knot-dev/knot/vault"
)

// The setup code guards /initial-system-setup: whoever reaches a fresh
// server first would otherwise become its Admin. Only someone who can read
// the server's log (or run `knot setup-code` with its configuration) knows
// the code.
const settingSetupCode = "setup_code"

// setupCodeAlphabet leaves out 0, 1, I and O, which are easily misread in a
// log. Its 32 letters make each one exactly 5 random bits.
const setupCodeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// setupCodeGroups of setupCodeGroupLen letters: 16 letters, 80 bits, far
// beyond guessing even without the rate limit.
const (
	setupCodeGroups   = 4
	setupCodeGroupLen = 4
)

func setupCodeContext() []byte { return []byte("knot initial setup code") }

// newSetupCode returns a fresh code such as K7QM-2XPD-9HCW-RT4B.
func newSetupCode() (string, error) {
	raw := make([]byte, setupCodeGroups*setupCodeGroupLen)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate the setup code: %w", err)
	}
	var b strings.Builder
	for i, r := range raw {
		if i > 0 && i%setupCodeGroupLen == 0 {
			b.WriteByte('-')
		}
		// 256 is a multiple of 32, so the low five bits are uniform.
		b.WriteByte(setupCodeAlphabet[r&31])
	}
	return b.String(), nil
}

// normalSetupCode is how codes are compared: people retype them from a log,
// so case, dashes and spaces do not matter.
func normalSetupCode(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ', '\t', '\n', '\r':
			return -1
		}
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// SetupCode returns the database's initial setup code, creating it on the
// first call, or ErrSetupDone once the first admin exists. Every server
// sharing the database gets the same code: the first insert wins and the
// rest read it back. The code is sealed under server.encrypt, so a copy of
// the database alone does not give it away.
func SetupCode(ctx context.Context, db *gorm.DB, v *vault.Vault) (string, error) {
	// The common case after setup, answered without a write.
	if done, err := SetupDone(ctx, db); err != nil || done {
		if done {
			err = ErrSetupDone
		}
		return "", err
	}
	fresh, err := newSetupCode()
	if err != nil {
		return "", err
	}
	sealed, err := v.Seal([]byte(fresh), setupCodeContext())
	if err != nil {
		return "", err
	}
	if err := db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&setting{Key: settingSetupCode, Value: sealed}).Error; err != nil {
		return "", fmt.Errorf("record the setup code: %w", err)
	}
	// Checked after the insert: a setup that completed meanwhile deleted
	// the code before this insert could land, so the row just made would
	// outlive it. Deleting it here keeps no stale code around.
	done, err := SetupDone(ctx, db)
	if err != nil {
		return "", err
	}
	if done {
		if err := deleteSetupCode(db.WithContext(ctx)); err != nil {
			return "", err
		}
		return "", ErrSetupDone
	}
	var row setting
	if err := db.WithContext(ctx).Where("key = ?", settingSetupCode).First(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			// Deleted between the insert and now: setup has just completed.
			return "", ErrSetupDone
		}
		return "", fmt.Errorf("read the setup code: %w", err)
	}
	plain, err := v.Open(row.Value, setupCodeContext())
	if err != nil {
		return "", fmt.Errorf("open the setup code: %w (check server.encrypt)", err)
	}
	return string(plain), nil
}

// CheckSetupCode reports whether typed is the database's setup code,
// ignoring case, dashes and spaces. It returns ErrSetupDone once the first
// admin exists: no code is accepted after that.
func CheckSetupCode(ctx context.Context, db *gorm.DB, v *vault.Vault, typed string) (bool, error) {
	code, err := SetupCode(ctx, db, v)
	if err != nil {
		return false, err
	}
	want, got := []byte(normalSetupCode(code)), []byte(normalSetupCode(typed))
	return subtle.ConstantTimeCompare(want, got) == 1, nil
}

// deleteSetupCode removes the code; CreateFirstAdmin calls it in its
// transaction, so the code stops existing the moment setup completes.
func deleteSetupCode(tx *gorm.DB) error {
	if err := tx.Where("key = ?", settingSetupCode).Delete(&setting{}).Error; err != nil {
		return fmt.Errorf("delete the setup code: %w", err)
	}
	return nil
}
