package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/models"
)

// countTokenQueries counts the statements that read api_tokens.
func countTokenQueries(t *testing.T, db *gorm.DB) *int {
	t.Helper()
	n := new(int)
	err := db.Callback().Query().Before("gorm:query").Register("test:count_token_reads", func(tx *gorm.DB) {
		if tx.Statement.Table == "api_tokens" {
			*n++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTheTokenCacheServesRepeatUsesWithoutReadingTheToken(t *testing.T) {
	ctx := context.Background()
	db, v := openDB(t), newVault(t)
	uid := addUser(t, db, "alice")
	db.Exec(`INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)`, uid, models.DeveloperRoleID)
	_, plain := mustCreate(t, db, v, uid, "t", t0)
	cache := models.NewTokenCache(100)
	reads := countTokenQueries(t, db)

	for i := range 3 {
		tok, ident, err := cache.Resolve(ctx, db, plain, t0)
		if err != nil || tok.UserID != uid || !ident.Can(models.PermUseAPITokens) {
			t.Fatalf("resolve %d: %v %+v %+v", i, err, tok, ident)
		}
	}
	if *reads != 1 {
		t.Fatalf("three uses read api_tokens %d times, want once", *reads)
	}
	// A change that concerns nobody's token leaves the entry good.
	if _, err := models.CreateTemplate(ctx, db, models.TemplateInput{Name: "unrelated", Active: true, Body: "image: x"}, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cache.Resolve(ctx, db, plain, t0); err != nil || *reads != 1 {
		t.Fatalf("after an unrelated change: %v, %d reads", err, *reads)
	}
}

func TestTheTokenCacheSeesEveryRevocationOnTheNextUse(t *testing.T) {
	ctx := context.Background()
	db, v := openDB(t), newVault(t)
	admin := &models.Identity{ID: 0, Permissions: models.AllPermissions}
	setup := func(name string) (uint, string, *models.TokenCache) {
		uid := addUser(t, db, name)
		db.Exec(`INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)`, uid, models.DeveloperRoleID)
		_, plain := mustCreate(t, db, v, uid, "t", t0)
		cache := models.NewTokenCache(100)
		if _, _, err := cache.Resolve(ctx, db, plain, t0); err != nil {
			t.Fatal(err)
		}
		return uid, plain, cache
	}

	t.Run("token deleted", func(t *testing.T) {
		uid, plain, cache := setup("del")
		tok, _, _ := cache.Resolve(ctx, db, plain, t0)
		if _, err := models.DeleteToken(ctx, db, uid, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cache.Resolve(ctx, db, plain, t0); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("a deleted token still resolves: %v", err)
		}
	})
	t.Run("owner deactivated", func(t *testing.T) {
		uid, plain, cache := setup("deact")
		off := false
		if _, err := models.UpdateUser(ctx, db, admin, uid, models.UserChanges{Active: &off}, t0); err != nil {
			t.Fatal(err)
		}
		if _, ident, err := cache.Resolve(ctx, db, plain, t0); err != nil || ident.Active {
			t.Fatalf("a deactivated owner still active: %v %+v", err, ident)
		}
	})
	t.Run("owner's roles taken", func(t *testing.T) {
		uid, plain, cache := setup("roles")
		none := []uint{}
		if _, err := models.UpdateUser(ctx, db, admin, uid, models.UserChanges{RoleIDs: &none}, t0); err != nil {
			t.Fatal(err)
		}
		if _, ident, err := cache.Resolve(ctx, db, plain, t0); err != nil || ident.Can(models.PermUseAPITokens) {
			t.Fatalf("the owner keeps use_api_tokens: %v %+v", err, ident)
		}
	})
	t.Run("role's permission removed", func(t *testing.T) {
		_, plain, cache := setup("perm")
		perms := []string{}
		if _, err := models.UpdateRole(ctx, db, admin, models.DeveloperRoleID, models.RoleChanges{Permissions: &perms}, t0); err != nil {
			t.Fatal(err)
		}
		if _, ident, err := cache.Resolve(ctx, db, plain, t0); err != nil || ident.Can(models.PermUseAPITokens) {
			t.Fatalf("the role's permission outlived its removal: %v %+v", err, ident)
		}
	})
	t.Run("history pruned", func(t *testing.T) {
		uid, plain, cache := setup("pruned")
		tok, _, _ := cache.Resolve(ctx, db, plain, t0)
		// The deletion happens, and then the feed forgets it: an entry
		// older than the feed's history must be reloaded, not trusted.
		if _, err := models.DeleteToken(ctx, db, uid, tok.ID); err != nil {
			t.Fatal(err)
		}
		models.CreateTemplate(ctx, db, models.TemplateInput{Name: "after-" + time.Now().Format("150405.000000000"), Active: true, Body: "image: x"}, t0)
		if _, err := models.PruneChanges(ctx, db, 1); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cache.Resolve(ctx, db, plain, t0); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("a token deleted before the feed was pruned still resolves: %v", err)
		}
	})
}
