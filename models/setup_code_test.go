package models_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/knottest/kit"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

// newSetupCode opens a database and has it make its setup code, sealed
// with a new vault.
func newSetupCode(t *testing.T) (*gorm.DB, *vault.Vault, string) {
	t.Helper()
	db, v := openDB(t), kit.Vault(t)
	code, err := models.SetupCode(context.Background(), db, v)
	if err != nil {
		t.Fatal(err)
	}
	return db, v, code
}

func TestTheSetupCodeIsMadeOnceSealedAndForgivingToRetype(t *testing.T) {
	ctx := context.Background()
	db, v, code := newSetupCode(t)
	// No 0, 1, I or O: nothing to misread when copying from a log.
	if !regexp.MustCompile(`^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){3}$`).MatchString(code) {
		t.Fatalf("code %q is not four groups of four unambiguous characters", code)
	}
	if again, err := models.SetupCode(ctx, db, v); err != nil || again != code {
		t.Fatalf("second SetupCode = %q, %v; want the same %q", again, err, code)
	}
	if other, _ := models.SetupCode(ctx, openDB(t), v); other == code {
		t.Fatal("two databases got the same code")
	}
	var stored string
	if err := db.Raw(`SELECT value FROM settings WHERE key = 'setup_code'`).Scan(&stored).Error; err != nil {
		t.Fatal(err)
	}
	if stored == "" || strings.Contains(strings.ToUpper(strings.ReplaceAll(stored, "-", "")), strings.ReplaceAll(code, "-", "")) {
		t.Fatalf("the code is not sealed at rest: %q", stored)
	}
	if _, err := models.SetupCode(ctx, db, kit.Vault(t)); err == nil {
		t.Fatal("a vault with another key read the code")
	}

	flipped := []byte(code)
	if flipped[0] = '2'; code[0] == '2' {
		flipped[0] = '3'
	}
	for typed, want := range map[string]bool{
		code:                              true,
		strings.ToLower(code):             true,
		strings.ReplaceAll(code, "-", ""): true,
		" " + strings.ReplaceAll(code, "-", " ") + "\n": true,
		string(flipped):    false,
		code[:len(code)-1]: false,
		code + "X":         false,
		"":                 false,
	} {
		got, err := models.CheckSetupCode(ctx, db, v, typed)
		if err != nil || got != want {
			t.Errorf("CheckSetupCode(%q) = %v, %v; want %v", typed, got, err, want)
		}
	}
}

func TestCreatingTheFirstAdminDeletesTheSetupCode(t *testing.T) {
	ctx := context.Background()
	db, v, code := newSetupCode(t)
	n := models.NewUser{Username: "alice", Email: "alice@example.com", Password: "longenough", Confirm: "longenough"}
	if _, err := models.CreateFirstAdmin(ctx, db, n, t0); err != nil {
		t.Fatal(err)
	}
	var left int64
	if err := db.Raw(`SELECT COUNT(*) FROM settings WHERE key = 'setup_code'`).Scan(&left).Error; err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatal("the setup code outlived the setup")
	}
	if _, err := models.SetupCode(ctx, db, v); !errors.Is(err, models.ErrSetupDone) {
		t.Fatalf("SetupCode after setup: %v, want ErrSetupDone", err)
	}
	if ok, err := models.CheckSetupCode(ctx, db, v, code); ok || !errors.Is(err, models.ErrSetupDone) {
		t.Fatalf("CheckSetupCode after setup = %v, %v; want false, ErrSetupDone", ok, err)
	}
	if err := db.Raw(`SELECT COUNT(*) FROM settings WHERE key = 'setup_code'`).Scan(&left).Error; err != nil || left != 0 {
		t.Fatalf("asking for the code after setup stored one again (%d rows, %v)", left, err)
	}
}
