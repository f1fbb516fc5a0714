package models_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/knottest/kit"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

// cachedToken adds a Developer named name with a token, and a cache that
// has resolved it once.
func cachedToken(t *testing.T, db *gorm.DB, v *vault.Vault, name string) (uint, string, *models.TokenCache) {
	t.Helper()
	uid := addUserWithRoles(t, db, name, models.DeveloperRoleID)
	_, plain := mustCreate(t, db, v, uid, "t", t0)
	cache := models.NewTokenCache(100)
	if _, _, err := cache.Resolve(context.Background(), db, plain, t0); err != nil {
		t.Fatal(err)
	}
	return uid, plain, cache
}

func TestTheTokenCacheServesRepeatUsesWithoutReadingTheToken(t *testing.T) {
	ctx := context.Background()
	db, v := openDB(t), kit.Vault(t)
	uid, plain, cache := cachedToken(t, db, v, "alice")
	reads := countStatements(t, db, "query", "api_tokens")

	for i := range 3 {
		tok, ident, err := cache.Resolve(ctx, db, plain, t0)
		if err != nil || tok.UserID != uid || !ident.Can(models.PermUseAPITokens) {
			t.Fatalf("resolve %d: %v %+v %+v", i, err, tok, ident)
		}
	}
	if *reads != 0 {
		t.Fatalf("three more uses read api_tokens %d times, want none", *reads)
	}
	// A change that concerns nobody's token leaves the entry good.
	if _, err := models.CreateTemplate(ctx, db, models.TemplateInput{Name: "unrelated", Active: true, Body: "image: x"}, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cache.Resolve(ctx, db, plain, t0); err != nil || *reads != 0 {
		t.Fatalf("after an unrelated change: %v, %d reads", err, *reads)
	}
}

func TestTheTokenCacheSeesEveryRevocationOnTheNextUse(t *testing.T) {
	ctx := context.Background()
	db, v := openDB(t), kit.Vault(t)
	deleteToken := func(t *testing.T, uid uint) {
		toks, _ := models.ListTokens(ctx, db, uid)
		if _, err := models.DeleteToken(ctx, db, uid, toks[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	none := []uint{}
	cannotUseTokens := func(i *models.Identity) bool { return !i.Can(models.PermUseAPITokens) }
	cases := []struct {
		name   string
		revoke func(t *testing.T, uid uint) error
		// shows says the owner resolved is the one after the revocation;
		// nil means the token must not resolve at all.
		shows func(*models.Identity) bool
	}{
		{"token deleted", func(t *testing.T, uid uint) error { deleteToken(t, uid); return nil }, nil},
		{"owner deactivated", func(t *testing.T, uid uint) error {
			_, err := models.UpdateUser(ctx, db, everyone, uid, setActive(false), t0)
			return err
		}, func(i *models.Identity) bool { return !i.Active }},
		{"owner's roles taken", func(t *testing.T, uid uint) error {
			_, err := models.UpdateUser(ctx, db, everyone, uid, models.UserChanges{RoleIDs: &none}, t0)
			return err
		}, cannotUseTokens},
		{"role's permission removed", func(t *testing.T, uid uint) error {
			_, err := models.UpdateRole(ctx, db, everyone, models.DeveloperRoleID, models.RoleChanges{Permissions: perms()}, t0)
			return err
		}, cannotUseTokens},
		// The deletion happens, and then the feed forgets it: an entry
		// older than the feed's history must be reloaded, not trusted.
		{"history pruned", func(t *testing.T, uid uint) error {
			deleteToken(t, uid)
			models.CreateTemplate(ctx, db, models.TemplateInput{Name: fmt.Sprintf("after-%d", uid), Active: true, Body: "image: x"}, t0)
			_, err := models.PruneChanges(ctx, db, 1)
			return err
		}, nil},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			uid, plain, cache := cachedToken(t, db, v, fmt.Sprintf("user%d", i))
			if err := c.revoke(t, uid); err != nil {
				t.Fatal(err)
			}
			_, ident, err := cache.Resolve(ctx, db, plain, t0)
			if c.shows == nil && !errors.Is(err, models.ErrNotFound) || c.shows != nil && (err != nil || !c.shows(ident)) {
				t.Fatalf("the next use after the revocation resolved to %+v, %v", ident, err)
			}
		})
	}
}
