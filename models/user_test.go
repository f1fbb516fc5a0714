package models_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/knot-dev/knot/models"
)

func firstAdmin(name string) models.NewUser {
	return models.NewUser{Username: name, Email: name + "@example.com", Password: "long enough", Confirm: "long enough"}
}

func TestTheFirstAdminIsCreatedOnceAndHoldsEveryPermission(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	if done, err := models.SetupDone(ctx, db); err != nil || done {
		t.Fatalf("SetupDone on a new database = %v, %v", done, err)
	}
	ada, err := models.CreateFirstAdmin(ctx, db, firstAdmin("ada"), t0)
	if err != nil {
		t.Fatal(err)
	}
	ident := identityOf(t, db, ada.ID)
	if !ident.Active || len(ident.Roles) != 1 || ident.Roles[0] != "Admin" || len(ident.Permissions) != len(models.AllPermissions) {
		t.Fatalf("the first admin is %+v", ident)
	}
	if done, _ := models.SetupDone(ctx, db); !done {
		t.Fatal("SetupDone is false after the first admin")
	}
	if _, err := models.CreateFirstAdmin(ctx, db, firstAdmin("mallory"), t0); !errors.Is(err, models.ErrSetupDone) {
		t.Fatalf("a second first admin: %v, want ErrSetupDone", err)
	}
}

func TestTheFirstAdminIsRefusedOnceAnyUserExists(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	addUser(t, db, "leaf-user")
	if _, err := models.CreateFirstAdmin(ctx, db, firstAdmin("mallory"), t0); !errors.Is(err, models.ErrSetupDone) {
		t.Fatalf("CreateFirstAdmin with a user already there: %v, want ErrSetupDone", err)
	}
	if _, err := models.UserByEmail(ctx, db, "mallory@example.com"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("the refused admin was stored: %v", err)
	}
}

// Two set-up forms posted at once: exactly one becomes the admin.
func TestOfTwoFirstAdminsAtOnceOnlyOneIsCreated(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"ada", "grace"} {
		wg.Go(func() { _, errs[i] = models.CreateFirstAdmin(ctx, db, firstAdmin(name), t0) })
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), models.ErrSetupDone) {
		t.Fatalf("two first admins at once: %v", errs)
	}
	if users, _ := models.ListUsers(ctx, db); len(users) != 1 {
		t.Fatalf("%d users after two set-ups at once, want 1", len(users))
	}
}

func TestTheFirstAdminsFieldsAreChecked(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	_, err := models.CreateFirstAdmin(ctx, db, models.NewUser{Username: "-x", Email: "nobody", Password: "short"}, t0)
	wantFieldErrors(t, err, "username", "email", "password")
	mismatch := firstAdmin("ada")
	mismatch.Confirm = "something else"
	_, err = models.CreateFirstAdmin(ctx, db, mismatch, t0)
	wantFieldErrors(t, err, "confirm")
	if done, _ := models.SetupDone(ctx, db); done {
		t.Fatal("a refused first admin completed the setup")
	}
}
