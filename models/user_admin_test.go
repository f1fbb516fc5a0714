package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/models"
)

func summary(t *testing.T, db *gorm.DB, uid uint) *models.UserSummary {
	t.Helper()
	return byID(t, db, uid, models.UserSummaryByID)
}

func setActive(active bool) models.UserChanges { return models.UserChanges{Active: &active} }

func TestTheLastActiveAdminCannotBeDeactivated(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	ada := addUserWithRoles(t, db, "ada", models.AdminRoleID)
	bob := addUserWithRoles(t, db, "bob", models.AdminRoleID)
	if _, err := models.UpdateUser(ctx, db, everyone, bob, setActive(false), t0); err != nil {
		t.Fatalf("deactivating one of two active Admins: %v", err)
	}
	// Bob still holds the Admin role, but an inactive Admin is no stand-in.
	_, err := models.UpdateUser(ctx, db, everyone, ada, setActive(false), t0)
	wantConflict(t, err, "active")
	if !summary(t, db, ada).Active {
		t.Fatal("the refused deactivation was written")
	}
	if _, err := models.UpdateUser(ctx, db, everyone, bob, setActive(true), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := models.UpdateUser(ctx, db, everyone, ada, setActive(false), t0); err != nil {
		t.Fatalf("deactivating an Admin while another is active: %v", err)
	}
}

func TestTheLastActiveAdminKeepsTheAdminRole(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	ada := addUserWithRoles(t, db, "ada", models.AdminRoleID)
	developer := []uint{models.DeveloperRoleID}
	_, err := models.UpdateUser(ctx, db, everyone, ada, models.UserChanges{RoleIDs: &developer}, t0)
	wantConflict(t, err, "roles")
	if u := summary(t, db, ada); !u.HasRole(models.AdminRoleID) || u.HasRole(models.DeveloperRoleID) {
		t.Fatalf("the refused change of roles was written: %v", u.RoleNames())
	}
}

func TestNobodyDeactivatesTheirOwnAccount(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	ada := addUserWithRoles(t, db, "ada", models.AdminRoleID)
	grace := addUserWithRoles(t, db, "grace", models.AdminRoleID)
	_, err := models.UpdateUser(ctx, db, identityOf(t, db, ada), ada, setActive(false), t0)
	wantConflict(t, err, "active")
	if _, err := models.UpdateUser(ctx, db, identityOf(t, db, ada), grace, setActive(false), t0); err != nil {
		t.Fatalf("deactivating another Admin: %v", err)
	}
}

func TestAUserManagerCannotChangeSomeoneWhoHoldsMoreThanThey(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	ada := addUserWithRoles(t, db, "ada", models.AdminRoleID)
	grace := identityOf(t, db, addUserWithRoles(t, db, "grace", addRole(t, db, "User managers", models.PermManageUsers)))
	pw := "a new password"
	_, err := models.UpdateUser(ctx, db, grace, ada, models.UserChanges{Password: &pw}, t0)
	wantForbidden(t, err, "")
	if !strings.Contains(err.Error(), "ada") || !strings.Contains(err.Error(), models.PermManageRoles) {
		t.Fatalf("the refusal %q does not say whom and what", err)
	}
	if u, _ := models.UserByID(ctx, db, ada); u.PasswordHash != "" {
		t.Fatal("the refused password was written")
	}
	bob := addUser(t, db, "bob")
	email := "robert@example.com"
	if _, err := models.UpdateUser(ctx, db, grace, bob, models.UserChanges{Email: &email}, t0); err != nil {
		t.Fatalf("changing a user who holds nothing: %v", err)
	}
}

func TestAUserManagerCannotGiveARoleWhosePermissionsTheyLack(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	addUserWithRoles(t, db, "ada", models.AdminRoleID)
	grace := identityOf(t, db, addUserWithRoles(t, db, "grace", addRole(t, db, "User managers", models.PermManageUsers)))
	bob := addUser(t, db, "bob")
	developer := []uint{models.DeveloperRoleID}
	_, err := models.UpdateUser(ctx, db, grace, bob, models.UserChanges{RoleIDs: &developer}, t0)
	wantForbidden(t, err, "roles")
	if u := summary(t, db, bob); len(u.Roles) != 0 {
		t.Fatalf("the refused role was given: %v", u.RoleNames())
	}
	n := models.NewUser{Username: "carol", Email: "carol@example.com", Password: "long enough", Confirm: "long enough", RoleIDs: developer, Active: true}
	_, err = models.CreateUser(ctx, db, grace, n, t0)
	wantForbidden(t, err, "roles")
	if _, err := models.UserByEmail(ctx, db, "carol@example.com"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("the refused user was created: %v", err)
	}
}

func TestAUserIsGivenOnlyRolesThatExist(t *testing.T) {
	db := openDB(t)
	bob := addUser(t, db, "bob")
	roles := []uint{models.DeveloperRoleID, 999}
	_, err := models.UpdateUser(context.Background(), db, everyone, bob, models.UserChanges{RoleIDs: &roles}, t0)
	wantFieldErrors(t, err, "roles")
}

func TestUserChangesAreCheckedBeforeAnythingIsWritten(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	bob := addUser(t, db, "bob")
	email, pw, off := "not an address", "short", false
	_, err := models.UpdateUser(ctx, db, everyone, bob, models.UserChanges{Email: &email, Password: &pw, Active: &off}, t0)
	wantFieldErrors(t, err, "email", "password")
	if u := summary(t, db, bob); !u.Active || u.Email != "bob@example.com" {
		t.Fatalf("a refused change was written: %+v", u)
	}
	if _, err := models.UpdateUser(ctx, db, everyone, 999, setActive(false), t0); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("changing a user who does not exist: %v, want ErrNotFound", err)
	}
}

func TestAnAdministratorChangesEveryFieldOfAUserAtOnce(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	bob := addUser(t, db, "bob")
	email, pw, off, roles := "  Robert@Example.com ", "a new password", false, []uint{models.DeveloperRoleID, models.DeveloperRoleID}
	later := t0.Add(time.Hour)
	u, err := models.UpdateUser(ctx, db, everyone, bob, models.UserChanges{Email: &email, Password: &pw, Active: &off, RoleIDs: &roles}, later)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "robert@example.com" || email != u.Email || u.Active || strings.Join(u.RoleNames(), ",") != "Developer" {
		t.Fatalf("changed user %+v (email given back as %q)", u, email)
	}
	row, _ := models.UserByID(ctx, db, bob)
	if !models.CheckPassword(row.PasswordHash, pw) || !row.UpdatedAt.Equal(later) {
		t.Fatalf("stored password or time not changed: %+v", row)
	}
}

func TestATakenUsernameOrEmailIsAConflictOnThatField(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	addUser(t, db, "ada")
	bob := addUser(t, db, "bob")
	newUser := func(username, email string) models.NewUser {
		return models.NewUser{Username: username, Email: email, Password: "long enough", Confirm: "long enough", Active: true}
	}
	_, err := models.CreateUser(ctx, db, everyone, newUser("ADA", "someone@example.com"), t0)
	wantConflict(t, err, "username")
	_, err = models.CreateUser(ctx, db, everyone, newUser("lovelace", "Ada@Example.com"), t0)
	wantConflict(t, err, "email")
	email := "ADA@example.com"
	_, err = models.UpdateUser(ctx, db, everyone, bob, models.UserChanges{Email: &email}, t0)
	wantConflict(t, err, "email")
	users, err := models.ListUsers(ctx, db)
	if err != nil || len(users) != 2 || users[0].Username != "ada" || users[1].Email != "bob@example.com" {
		t.Fatalf("users after the conflicts: %+v (%v)", users, err)
	}
}

func TestANewUserIsCheckedAndStoredWithTheirRoles(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	_, err := models.CreateUser(ctx, db, everyone, models.NewUser{Username: "1x", Email: "x", Password: "long enough", Confirm: "other"}, t0)
	wantFieldErrors(t, err, "username", "email", "confirm")
	n := models.NewUser{Username: " Carol ", Email: "carol@example.com", Password: "long enough", Confirm: "long enough", RoleIDs: []uint{models.AdminRoleID, models.DeveloperRoleID}}
	u, err := models.CreateUser(ctx, db, everyone, n, t0)
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "Carol" || u.Active || strings.Join(u.RoleNames(), ",") != "Admin,Developer" {
		t.Fatalf("created %+v", u)
	}
	ident := identityOf(t, db, u.ID)
	if strings.Join(ident.Roles, ",") != "Admin,Developer" || len(ident.Permissions) != len(models.AllPermissions) {
		t.Fatalf("the new Admin's identity: %+v", ident)
	}
}
