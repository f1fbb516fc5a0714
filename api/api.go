// Package api holds the JSON shapes of knot's public API: what scripts, the
// CLI and leaf nodes read, and what the tests decode. Each shape is declared
// once, so the server's answer and what its readers rely on cannot drift
// apart. A change to a tag, an omitempty or a pointer here is a change to the
// wire format: null versus absent and [] versus null are part of the contract.
package api

// WhoAmI is the answer of GET /api/users/whoami, and the user an origin
// describes to a leaf.
type WhoAmI struct {
	ID          uint     `json:"id"`
	Username    string   `json:"username"`
	Email       string   `json:"email"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

// Template is a template. Zones is [] rather than null when there are none,
// so a script can range over it without a check.
type Template struct {
	ID          uint     `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Zones       []string `json:"zones"`
	Active      bool     `json:"active"`
	Body        string   `json:"body"`
	Source      string   `json:"source"`
	CreatedAt   string   `json:"created_at"`
	UpdatedAt   string   `json:"updated_at"`
}

// Variable is a template variable. Value is null for a protected variable
// unless revealed, and OverriddenBy null unless another source's variable of
// the same name takes precedence.
type Variable struct {
	ID               uint     `json:"id"`
	Name             string   `json:"name"`
	Value            *string  `json:"value"`
	Zones            []string `json:"zones"`
	Protected        bool     `json:"protected"`
	Restricted       bool     `json:"restricted"`
	Source           string   `json:"source"`
	OverridesCluster bool     `json:"overrides_cluster"`
	OverriddenBy     *string  `json:"overridden_by"`
	CreatedAt        string   `json:"created_at"`
	UpdatedAt        string   `json:"updated_at"`
}

// Token is an API token. Token is set only in the answer to a create (the
// one time the API sends it) and is absent everywhere else; LastUsedAt is
// null until the token is first used.
type Token struct {
	ID         uint    `json:"id"`
	Name       string  `json:"name"`
	Prefix     string  `json:"prefix"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	ExpiresAt  string  `json:"expires_at"`
	Token      string  `json:"token,omitempty"`
}

// User is a user as an administrator manages it. It never carries the
// password hash; LastLoginAt is null until the first sign-in.
type User struct {
	ID          uint     `json:"id"`
	Username    string   `json:"username"`
	Email       string   `json:"email"`
	Active      bool     `json:"active"`
	Roles       []string `json:"roles"`
	CreatedAt   string   `json:"created_at"`
	LastLoginAt *string  `json:"last_login_at"`
}

// Role is a role with its permissions and the usernames that hold it.
type Role struct {
	ID          uint     `json:"id"`
	Name        string   `json:"name"`
	Builtin     bool     `json:"builtin"`
	Permissions []string `json:"permissions"`
	Users       []string `json:"users"`
}
