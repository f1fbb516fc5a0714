package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/knot-dev/knot/models"
)

func perms(p ...string) *[]string { return &p }

func TestNobodyGrantsAPermissionTheyDoNotHold(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	roleManager := &models.Identity{ID: 7, Permissions: []string{models.PermManageRoles}}
	_, err := models.CreateRole(ctx, db, roleManager, models.RoleInput{Name: "Escalation", Permissions: []string{models.PermManageUsers}}, t0)
	wantForbidden(t, err, "permissions")
	if roles, _ := models.ListRoles(ctx, db); len(roles) != 2 {
		t.Fatalf("the refused role was created: %+v", roles)
	}
	auditors := addRole(t, db, "Auditors", models.PermViewLeafNodes)
	_, err = models.UpdateRole(ctx, db, roleManager, auditors, models.RoleChanges{Permissions: perms(models.PermViewLeafNodes, models.PermUseAPITokens)}, t0)
	wantForbidden(t, err, "permissions")
	// Keeping a permission one lacks is not granting it; adding one held is.
	r, err := models.UpdateRole(ctx, db, roleManager, auditors, models.RoleChanges{Permissions: perms(models.PermManageRoles, models.PermViewLeafNodes)}, t0)
	if err != nil || strings.Join(r.Permissions, ",") != "manage_roles,view_leaf_nodes" {
		t.Fatalf("keeping a permission and adding one held: %+v, %v", r, err)
	}
}

func TestBuiltinRolesKeepTheirNamesAndAdminKeepsEveryPermission(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	root := "Root"
	_, err := models.UpdateRole(ctx, db, everyone, models.AdminRoleID, models.RoleChanges{Name: &root}, t0)
	wantFieldErrors(t, err, "name")
	_, err = models.UpdateRole(ctx, db, everyone, models.AdminRoleID, models.RoleChanges{Permissions: perms(models.PermManageUsers)}, t0)
	wantFieldErrors(t, err, "permissions")
	same := " Developer "
	if _, err := models.UpdateRole(ctx, db, everyone, models.DeveloperRoleID, models.RoleChanges{Name: &same}, t0); err != nil {
		t.Fatalf("keeping a built-in role's name: %v", err)
	}
	all := slices.Clone(models.AllPermissions)
	admin, err := models.UpdateRole(ctx, db, everyone, models.AdminRoleID, models.RoleChanges{Permissions: &all}, t0)
	if err != nil || admin.Name != "Admin" || !slices.Equal(admin.Permissions, models.AllPermissions) {
		t.Fatalf("Admin given every permission again: %+v, %v", admin, err)
	}
	if _, err := models.UpdateRole(ctx, db, everyone, 999, models.RoleChanges{Name: &root}, t0); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("changing a role that does not exist: %v, want ErrNotFound", err)
	}
}

func TestRoleNamesAreUniqueIgnoringCase(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	addRole(t, db, "Auditors")
	ops := addRole(t, db, "Ops")
	_, err := models.CreateRole(ctx, db, everyone, models.RoleInput{Name: " auditors "}, t0)
	wantConflict(t, err, "name")
	taken := "AUDITORS"
	_, err = models.UpdateRole(ctx, db, everyone, ops, models.RoleChanges{Name: &taken}, t0)
	wantConflict(t, err, "name")
	if r, _ := models.RoleSummaryByID(ctx, db, ops); r.Name != "Ops" {
		t.Fatalf("the refused name was written: %q", r.Name)
	}
}

func TestARoleNeedsAShortPlainNameAndKnownPermissions(t *testing.T) {
	for _, name := range []string{"  ", strings.Repeat("x", models.MaxRoleNameLength+1), "two\nlines", "bad \xff"} {
		_, err := models.CreateRole(context.Background(), openDB(t), everyone, models.RoleInput{Name: name, Permissions: []string{"fly"}}, t0)
		wantFieldErrors(t, err, "name", "permissions")
	}
	got, msg := models.NormalizePermissions([]string{models.PermViewLeafNodes, models.PermManageUsers, models.PermViewLeafNodes})
	if msg != "" || strings.Join(got, ",") != "manage_users,view_leaf_nodes" {
		t.Fatalf("NormalizePermissions = %v, %q; want them once each in display order", got, msg)
	}
}

func TestOnlyACustomRoleNobodyHoldsCanBeDeleted(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	wantConflict(t, models.DeleteRole(ctx, db, models.AdminRoleID), "")
	crew := addRole(t, db, "Crew")
	for i := range 6 {
		addUserWithRoles(t, db, fmt.Sprintf("user%d", i), crew)
	}
	err := models.DeleteRole(ctx, db, crew)
	wantConflict(t, err, "")
	if !strings.Contains(err.Error(), "user0, user1, user2, user3, user4 and 1 other hold it") {
		t.Fatalf("the refusal %q does not name who holds the role", err)
	}
	idle := addRole(t, db, "Idle")
	if err := models.DeleteRole(ctx, db, idle); err != nil {
		t.Fatal(err)
	}
	if _, err := models.RoleSummaryByID(ctx, db, idle); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a deleted role is still found: %v", err)
	}
	if err := models.DeleteRole(ctx, db, idle); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("deleting it again: %v, want ErrNotFound", err)
	}
}

func TestRolesAreListedBuiltinFirstWithTheirHolders(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	addRole(t, db, "zeta")
	addRole(t, db, "Alpha", models.PermManageTemplates)
	addUserWithRoles(t, db, "Zoe", models.DeveloperRoleID)
	addUserWithRoles(t, db, "bob", models.DeveloperRoleID)
	roles, err := models.ListRoles(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	names := namesOf(roles, func(r models.RoleSummary) string { return r.Name })
	if strings.Join(names, ",") != "Admin,Developer,Alpha,zeta" {
		t.Fatalf("roles listed as %v", names)
	}
	if !slices.Equal(roles[0].Permissions, models.AllPermissions) || strings.Join(roles[1].Users, ",") != "bob,Zoe" ||
		strings.Join(roles[2].Permissions, ",") != models.PermManageTemplates || len(roles[3].Permissions) != 0 {
		t.Fatalf("role details: %+v", roles)
	}
}

func TestRoleNamesResolveIgnoringCaseAndSpaces(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	ids, msg, err := models.RoleIDsByName(ctx, db, []string{"admin", " Developer ", "ADMIN"})
	if err != nil || msg != "" || !slices.Equal(ids, []uint{models.AdminRoleID, models.DeveloperRoleID}) {
		t.Fatalf("RoleIDsByName = %v, %q, %v", ids, msg, err)
	}
	if _, msg, err := models.RoleIDsByName(ctx, db, []string{"Admin", strings.Repeat("n", 100)}); err != nil || !strings.Contains(msg, strings.Repeat("n", 64)+"…") {
		t.Fatalf("an unknown role: %q, %v; want a message echoing its name cut short", msg, err)
	}
}
