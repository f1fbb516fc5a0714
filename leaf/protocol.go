// Package leaf is leaf node mode: the protocol a leaf and its origin speak,
// the client that is the only code talking to the origin, the sync loop with
// its backoff and template cache, forwarded sign-in, and the connection status
// shown in the UI.
package leaf

import (
	"time"

	"github.com/knot-dev/knot/api"
)

// ProtocolVersion is the leaf protocol this build speaks. An origin and a
// leaf with different versions refuse each other with a clear status.
const ProtocolVersion = 1

// Paths of the origin's leaf endpoints.
const (
	PathHello     = "/api/leaf/v1/hello"
	PathAuth      = "/api/leaf/v1/auth"
	PathTemplates = "/api/leaf/v1/templates"
	// PathTemplateVars sends protected values in plain text: only ever over
	// the verified TLS link, and the leaf seals them under its own key.
	PathTemplateVars = "/api/leaf/v1/templatevars"
	// PathFeed is the live change feed (server-sent events).
	PathFeed = "/api/leaf/v1/feed"
)

// Events of the live feed.
const (
	// EventResync: the origin cannot serve the leaf's cursor; fetch
	// everything, then continue from the cursor it carries.
	EventResync = "resync"
	// EventChange: something of a kind changed (its id is the new cursor).
	EventChange = "change"
	// EventPing: a keepalive carrying the cursor the feed has reached.
	EventPing = "ping"
)

// FeedCursor is the data of resync and ping events.
type FeedCursor struct {
	Cursor int64 `json:"cursor"`
}

// FeedChange is the data of a change event: templates, variables, roles,
// user (the token's owner) or token (the leaf's own).
type FeedChange struct {
	Kind string `json:"kind"`
}

// Headers a leaf sends with every request.
const (
	HeaderLeafURL     = "Knot-Leaf-URL"
	HeaderLeafVersion = "Knot-Leaf-Version"
	HeaderProtocol    = "Knot-Leaf-Protocol"
)

// Error codes in the origin's JSON errors, next to the human "error" text.
const (
	CodeLeafNodesDisabled = "leaf_nodes_disabled"
	CodeLoginRefused      = "login_refused"
	CodeVersionMismatch   = "version_mismatch"
)

// DisabledMessage is the origin's answer to every leaf request while
// server.cluster.allow_leaf_nodes is false.
const DisabledMessage = "leaf nodes are disabled on this server"

// User is a user as the origin describes it to a leaf: the same shape as
// whoami's answer, so a leaf learns of its user exactly what a script does.
type User = api.WhoAmI

// Hello is the origin's answer to a hello/heartbeat.
type Hello struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Protocol int    `json:"protocol"`
	// User is the owner of the token the leaf connects with.
	User User `json:"user"`
}

// AuthRequest asks the origin to check a sign-in on a leaf.
type AuthRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// AuthResponse is the origin's answer to an accepted sign-in.
type AuthResponse struct {
	User User `json:"user"`
	// PasswordCost is the bcrypt cost of the user's hash on the origin: the
	// leaf's offline copy is never weaker.
	PasswordCost int `json:"password_cost,omitempty"`
}

// Template is a template as the origin sends it to leaves.
type Template struct {
	ID          uint      `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Zones       []string  `json:"zones"`
	Active      bool      `json:"active"`
	Body        string    `json:"body"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Variable is a template variable as the origin sends it to leaves: only
// those whose zones allow <leaf-node> and that are not restricted.
type Variable struct {
	ID        uint      `json:"id"`
	Name      string    `json:"name"`
	Value     string    `json:"value"`
	Zones     []string  `json:"zones"`
	Protected bool      `json:"protected"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ErrorBody is the JSON of an origin error.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}
