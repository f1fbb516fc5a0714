package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Permissions a role can grant.
const (
	PermManageUsers     = "manage_users"
	PermManageRoles     = "manage_roles"
	PermManageTemplates = "manage_templates"
	PermUseAPITokens    = "use_api_tokens"
	PermViewLeafNodes   = "view_leaf_nodes"
	PermManageVariables = "manage_variables"
)

// AllPermissions lists every permission in display order. The built-in
// Admin role holds all of them, including ones added after it was seeded.
var AllPermissions = []string{
	PermManageUsers,
	PermManageRoles,
	PermManageTemplates,
	PermUseAPITokens,
	PermViewLeafNodes,
	PermManageVariables,
}

// Built-in roles seeded by the first migration.
const (
	AdminRoleID     uint = 1
	DeveloperRoleID uint = 2
)

// Role is a named set of permissions.
type Role struct {
	ID        uint
	Name      string
	Builtin   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RoleSummary is a role as the administration pages and the API show it.
type RoleSummary struct {
	ID      uint
	Name    string
	Builtin bool
	// Permissions are in AllPermissions order. Admin always lists every
	// permission, as LoadIdentity grants them.
	Permissions []string
	// Users are the usernames holding the role, sorted.
	Users []string
}

// MaxRoleNameLength bounds a role's name.
const MaxRoleNameLength = 64

// ListRoles returns every role, built-in ones first, then by name.
func ListRoles(ctx context.Context, db *gorm.DB) ([]RoleSummary, error) {
	return loadRoleSummaries(db.WithContext(ctx), nil)
}

// RoleSummaryByID returns one role.
func RoleSummaryByID(ctx context.Context, db *gorm.DB, id uint) (*RoleSummary, error) {
	return firstOf(loadRoleSummaries(db.WithContext(ctx), []uint{id}))
}

// loadRoleSummaries loads the roles with ids (all roles when ids is nil)
// with their permissions and users, in three queries whatever their number.
func loadRoleSummaries(tx *gorm.DB, ids []uint) ([]RoleSummary, error) {
	roles, err := findIn[Role](tx.Order("builtin DESC, lower(name), id"), "id", ids, "roles")
	if err != nil {
		return nil, err
	}
	perms, err := findIn[rolePermission](tx.Table("role_permissions"), "role_id", ids, "role permissions")
	if err != nil {
		return nil, err
	}
	holders, err := findIn[roleHolder](tx.Table("user_roles ur").Select("ur.role_id, u.username").Joins("JOIN users u ON u.id = ur.user_id").
		Order("lower(u.username)"), "ur.role_id", ids, "role holders")
	if err != nil {
		return nil, err
	}
	out := make([]RoleSummary, len(roles))
	for i, r := range roles {
		out[i] = r.summary(perms, holders)
	}
	return out, nil
}

// rolePermission is a row of role_permissions.
type rolePermission struct {
	RoleID     uint
	Permission string
}

// roleHolder is a user who holds a role.
type roleHolder struct {
	RoleID   uint
	Username string
}

// summary is r with the permissions it grants and the users who hold it,
// picked out of every role's.
func (r Role) summary(perms []rolePermission, holders []roleHolder) RoleSummary {
	s := RoleSummary{ID: r.ID, Name: r.Name, Builtin: r.Builtin, Permissions: []string{}, Users: []string{}}
	var granted []string
	for _, p := range perms {
		if p.RoleID == r.ID {
			granted = append(granted, p.Permission)
		}
	}
	for _, p := range AllPermissions {
		if r.ID == AdminRoleID || slices.Contains(granted, p) {
			s.Permissions = append(s.Permissions, p)
		}
	}
	for _, h := range holders {
		if h.RoleID == r.ID {
			s.Users = append(s.Users, h.Username)
		}
	}
	return s
}

// RoleInput is what it takes to create a role.
type RoleInput struct {
	Name        string
	Permissions []string
}

// validateName trims the name of a role or a template and returns "" or a
// message.
func validateName(name *string, maxLength int) string {
	*name = strings.TrimSpace(*name)
	switch {
	case *name == "":
		return "Enter a name."
	case !utf8.ValidString(*name):
		return "A name must be text (UTF-8)."
	case utf8.RuneCountInString(*name) > maxLength:
		return fmt.Sprintf("A name can be at most %d characters.", maxLength)
	case strings.ContainsFunc(*name, unicode.IsControl):
		return "A name cannot contain tabs, line breaks or control characters."
	}
	return ""
}

// NormalizePermissions checks that every entry is a known permission and
// returns them de-duplicated in AllPermissions order, or a message.
func NormalizePermissions(perms []string) ([]string, string) {
	for _, p := range perms {
		if !slices.Contains(AllPermissions, p) {
			return nil, fmt.Sprintf("Unknown permission “%s”; choose from %s.", clip(p, 64), strings.Join(AllPermissions, ", "))
		}
	}
	out := []string{}
	for _, p := range AllPermissions {
		if slices.Contains(perms, p) {
			out = append(out, p)
		}
	}
	return out, ""
}

// mayGrant refuses the permissions in perms that the identity lacks.
// Nobody may hand out a permission they do not hold themselves: without
// this rule a user with only manage_roles or manage_users could make
// themselves an Admin.
func (i *Identity) mayGrant(perms []string) error {
	if miss := i.missing(perms); len(miss) > 0 {
		return &ForbiddenError{Field: "permissions", Message: "You can only grant permissions you hold yourself; you lack " + strings.Join(miss, ", ") + "."}
	}
	return nil
}

// missing lists the permissions in perms that the identity lacks.
func (i *Identity) missing(perms []string) []string {
	var out []string
	for _, p := range perms {
		if !i.Can(p) {
			out = append(out, p)
		}
	}
	return out
}

// CreateRole stores a new custom role on behalf of actor.
func CreateRole(ctx context.Context, db *gorm.DB, actor *Identity, in RoleInput, now time.Time) (*RoleSummary, error) {
	perms, errs := RoleChanges{Name: &in.Name, Permissions: &in.Permissions}.validate()
	if len(errs) > 0 {
		return nil, errs
	}
	if err := actor.mayGrant(perms); err != nil {
		return nil, err
	}
	role := Role{Name: in.Name, CreatedAt: now, UpdatedAt: now}
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&role).Error; err != nil {
			return err
		}
		return setRolePermissions(tx, role.ID, perms)
	})
	if err != nil {
		return nil, writeError(err, nameTaken("role", in.Name, "choose another name"), "create role")
	}
	return RoleSummaryByID(ctx, db, role.ID)
}

func setRolePermissions(tx *gorm.DB, roleID uint, perms []string) error {
	return replaceLinks(tx, "role_permissions", "role_id", roleID, "permission", perms)
}

// RoleChanges are the fields of a role to change; nil leaves one as it is.
type RoleChanges struct {
	Name        *string
	Permissions *[]string
}

// validate checks the fields given, trimming the name in place, and
// returns the permissions normalised.
func (ch RoleChanges) validate() ([]string, FieldErrors) {
	errs := FieldErrors{}
	if ch.Name != nil {
		if msg := validateName(ch.Name, MaxRoleNameLength); msg != "" {
			errs["name"] = msg
		}
	}
	var perms []string
	if ch.Permissions != nil {
		var msg string
		if perms, msg = NormalizePermissions(*ch.Permissions); msg != "" {
			errs["permissions"] = msg
		}
	}
	return perms, errs
}

// UpdateRole changes role id on behalf of actor. Built-in roles keep their
// names, and Admin keeps every permission.
func UpdateRole(ctx context.Context, db *gorm.DB, actor *Identity, id uint, ch RoleChanges, now time.Time) (*RoleSummary, error) {
	perms, errs := ch.validate()
	if len(errs) > 0 {
		return nil, errs
	}
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		role, err := firstOf(loadRoleSummaries(tx, []uint{id}))
		if err != nil {
			return err
		}
		if err := checkRoleChange(actor, role, ch, perms); err != nil {
			return err
		}
		if ch.Permissions != nil && id != AdminRoleID {
			if err := setRolePermissions(tx, id, perms); err != nil {
				return err
			}
		}
		updates := map[string]any{"updated_at": now}
		if ch.Name != nil {
			updates["name"] = *ch.Name
		}
		return tx.Model(&Role{}).Where("id = ?", id).Updates(updates).Error
	})
	if err != nil {
		var taken *ConflictError
		if ch.Name != nil {
			taken = nameTaken("role", *ch.Name, "choose another name")
		}
		return nil, writeError(err, taken, fmt.Sprintf("update role %d", id))
	}
	return RoleSummaryByID(ctx, db, id)
}

// checkRoleChange refuses renaming a built-in role, changing Admin's
// permissions, and adding a permission actor lacks (keeping one they lack
// is not granting it).
func checkRoleChange(actor *Identity, role *RoleSummary, ch RoleChanges, perms []string) error {
	if ch.Name != nil && *ch.Name != role.Name && role.Builtin {
		return FieldErrors{"name": fmt.Sprintf("Built-in roles cannot be renamed; “%s” keeps its name.", role.Name)}
	}
	if ch.Permissions == nil {
		return nil
	}
	if role.ID == AdminRoleID && !slices.Equal(perms, AllPermissions) {
		return FieldErrors{"permissions": "The Admin role always has every permission; its permissions cannot be changed."}
	}
	var added []string
	for _, p := range perms {
		if !slices.Contains(role.Permissions, p) {
			added = append(added, p)
		}
	}
	return actor.mayGrant(added)
}

// DeleteRole removes custom role id. Built-in roles and roles someone
// holds are refused with a ConflictError that says why and who.
func DeleteRole(ctx context.Context, db *gorm.DB, id uint) error {
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		role, err := firstOf(loadRoleSummaries(tx, []uint{id}))
		if err != nil {
			return err
		}
		if role.Builtin {
			return &ConflictError{Message: fmt.Sprintf("“%s” is a built-in role and cannot be deleted.", role.Name)}
		}
		if len(role.Users) > 0 {
			return &ConflictError{Message: fmt.Sprintf("“%s” cannot be deleted while %s %s it; take the role away from them on the Users page first.",
				role.Name, nameList(role.Users, 5), pluralVerb(len(role.Users), "holds", "hold"))}
		}
		return tx.Exec(`DELETE FROM roles WHERE id = ?`, id).Error
	})
	return writeError(err, nil, fmt.Sprintf("delete role %d", id))
}

// nameList joins names for a sentence: "a", "a and b", "a, b and c",
// and past max "a, b, c and 4 others".
func nameList(names []string, max int) string {
	if len(names) > max {
		rest := len(names) - max
		other := "others"
		if rest == 1 {
			other = "other"
		}
		return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d %s", rest, other)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// clip shortens s to at most n characters for echoing it in a message, so
// a megabyte of nonsense is not sent back.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func pluralVerb(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// RoleIDsByName resolves role names (ignoring case) for the API, which
// speaks names as whoami does. It returns "" or a message naming the
// unknown role.
func RoleIDsByName(ctx context.Context, db *gorm.DB, names []string) ([]uint, string, error) {
	ids := []uint{}
	for _, n := range names {
		var r Role
		err := db.WithContext(ctx).Where("name = ?", strings.TrimSpace(n)).First(&r).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Sprintf("Unknown role “%s”.", clip(n, 64)), nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("find role %q: %w", n, err)
		}
		if !slices.Contains(ids, r.ID) {
			ids = append(ids, r.ID)
		}
	}
	return ids, "", nil
}
