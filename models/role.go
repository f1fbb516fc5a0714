package models

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
	ID      uint
	Name    string
	Builtin bool
}
