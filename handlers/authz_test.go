package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/knot-dev/knot/handlers"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

// statuses are the expected answers for each kind of caller.
type statuses struct{ admin, dev, none, anon int }

// everyone expects the same status from every caller.
func everyone(code int) statuses { return statuses{code, code, code, code} }

// probeReq is a realistic request for one route: a real id, a valid body.
type probeReq struct {
	path string
	form url.Values
	json any
}

// fixtures creates what a request needs, fresh for each request so that
// deleting or renaming in one probe cannot change the next.
type fixtures struct {
	t     *testing.T
	srv   *knottest.Instance
	admin *knottest.Client
	seq   atomic.Int64
}

func (f *fixtures) unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, f.seq.Add(1))
}

func (f *fixtures) template() uint {
	return createTemplate(f.t, f.admin, map[string]any{"name": f.unique("tpl")}).ID
}

// token is an API token of the admin's: others must get 404 for it.
func (f *fixtures) token() uint {
	res := f.admin.JSONRequest(http.MethodPost, "/api/tokens", map[string]string{"name": f.unique("tok")})
	var tok struct {
		ID uint `json:"id"`
	}
	res.JSON(f.t, &tok)
	if res.StatusCode != http.StatusCreated || tok.ID == 0 {
		f.t.Fatalf("create token fixture: %d %s", res.StatusCode, res.Body)
	}
	return tok.ID
}

func (f *fixtures) variable() uint {
	res := f.admin.JSONRequest(http.MethodPost, "/api/templatevars", map[string]any{"name": fmt.Sprintf("VAR_%d", f.seq.Add(1)), "value": "v"})
	var v struct {
		ID uint `json:"id"`
	}
	res.JSON(f.t, &v)
	if res.StatusCode != http.StatusCreated || v.ID == 0 {
		f.t.Fatalf("create variable fixture: %d %s", res.StatusCode, res.Body)
	}
	return v.ID
}

func (f *fixtures) role() uint {
	return createRole(f.t, f.admin, f.unique("role")).ID
}

// user adds a user straight to the database: the API's own create is
// probed by its route, and every bcrypt hash costs seconds under -race.
func (f *fixtures) user() uint {
	name := f.unique("user")
	return f.srv.CreateUser(name, name+"@example.com", "longenough")
}

// routeExpectations decides, for every route the server has, who may use
// it. A route missing here fails TestEveryRouteChecksItsPermission: adding
// a route means deciding its permission.
func routeExpectations(f *fixtures) map[string]struct {
	want  statuses
	build func() probeReq
	// fresh: the request ends the caller's session (sign out), so it is
	// made from a newly signed-in client.
	fresh bool
} {
	type entry = struct {
		want  statuses
		build func() probeReq
		fresh bool
	}
	page := func(p string) func() probeReq { return func() probeReq { return probeReq{path: p} } }
	const (
		ok       = http.StatusOK
		created  = http.StatusCreated
		see      = http.StatusSeeOther
		denied   = http.StatusForbidden
		noAuth   = http.StatusUnauthorized
		notFound = http.StatusNotFound
	)
	signedInPage := statuses{ok, ok, ok, see}
	managerPage := statuses{ok, denied, denied, see}
	managerPost := statuses{see, denied, denied, see}
	signedInAPI := statuses{ok, ok, ok, noAuth}
	managerAPI := statuses{ok, denied, denied, noAuth}
	managerCreate := statuses{created, denied, denied, noAuth}
	tokenUserPage := statuses{ok, ok, denied, see}
	ownTokenPage := statuses{ok, notFound, denied, see}

	return map[string]entry{
		// Public and shell.
		"GET /":                     {everyone(see), page("/"), false},
		"GET /initial-system-setup": {everyone(notFound), page("/initial-system-setup"), false},
		"POST /initial-system-setup": {everyone(notFound), func() probeReq {
			return probeReq{path: "/initial-system-setup", form: userForm("late", "late@example.com", "longenough", "longenough", true)}
		}, false},
		"GET /login": {statuses{see, see, see, ok}, page("/login"), false},
		"POST /login": {everyone(noAuth), func() probeReq {
			return probeReq{path: "/login", form: url.Values{"email": {"dev@example.com"}, "password": {"wrong-password"}}}
		}, false},
		"POST /logout":          {everyone(see), page("/logout"), true},
		"GET /api/ping":         {everyone(ok), page("/api/ping"), false},
		"GET /api/users/whoami": {signedInAPI, page("/api/users/whoami"), false},

		// Everyone's own profile: no permission, only ever their own
		// account. A wrong current password is refused beside its field
		// (and signs nobody out); signing out elsewhere keeps this session.
		"GET /profile": {signedInPage, page("/profile"), false},
		"POST /profile/password": {statuses{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, see}, func() probeReq {
			return probeReq{path: "/profile/password", form: url.Values{"current": {"not-the-password"}, "password": {"new-password"}, "confirm": {"new-password"}}}
		}, false},
		"POST /profile/sessions/sign-out-others": {everyone(see), page("/profile/sessions/sign-out-others"), false},

		// API tokens: use_api_tokens, and only one's own (another's is 404).
		"GET /api-tokens":     {tokenUserPage, page("/api-tokens"), false},
		"GET /api-tokens/new": {tokenUserPage, page("/api-tokens/new"), false},
		"POST /api-tokens": {statuses{see, see, denied, see}, func() probeReq {
			return probeReq{path: "/api-tokens", form: url.Values{"name": {f.unique("form-tok")}}}
		}, false},
		"GET /api-tokens/:id": {ownTokenPage, func() probeReq { return probeReq{path: path("/api-tokens/%d", f.token())} }, false},
		"GET /api-tokens/:id/secret": {ownTokenPage, func() probeReq {
			return probeReq{path: path("/api-tokens/%d/secret", f.token())}
		}, false},
		"DELETE /api-tokens/:id": {statuses{ok, notFound, denied, see}, func() probeReq { return probeReq{path: path("/api-tokens/%d", f.token())} }, false},
		"GET /api-tokens/:id/delete": {ownTokenPage, func() probeReq {
			return probeReq{path: path("/api-tokens/%d/delete", f.token())}
		}, false},
		"POST /api-tokens/:id/delete": {statuses{see, notFound, denied, see}, func() probeReq {
			return probeReq{path: path("/api-tokens/%d/delete", f.token())}
		}, false},
		"GET /api/tokens": {statuses{ok, ok, denied, noAuth}, page("/api/tokens"), false},
		"POST /api/tokens": {statuses{created, created, denied, noAuth}, func() probeReq {
			return probeReq{path: "/api/tokens", json: map[string]string{"name": f.unique("api-tok")}}
		}, false},
		"DELETE /api/tokens/:id": {statuses{ok, notFound, denied, noAuth}, func() probeReq { return probeReq{path: path("/api/tokens/%d", f.token())} }, false},

		// Leaf mode. The origin's protocol takes an API token, never a
		// session; the status exists only on a leaf (this server is not one).
		"GET /leaf-nodes":               {managerPage, page("/leaf-nodes"), false},
		"GET /api/leaf/status":          {statuses{notFound, notFound, notFound, noAuth}, page("/api/leaf/status"), false},
		"GET /leaf":                     {statuses{notFound, notFound, notFound, see}, page("/leaf"), false},
		"POST /leaf/retry":              {statuses{notFound, notFound, notFound, see}, page("/leaf/retry"), false},
		"GET /leaf/banner":              {everyone(notFound), page("/leaf/banner"), false},
		"GET /api/leaf/v1/hello":        {everyone(noAuth), page("/api/leaf/v1/hello"), false},
		"GET /api/leaf/v1/templates":    {everyone(noAuth), page("/api/leaf/v1/templates"), false},
		"GET /api/leaf/v1/templatevars": {everyone(noAuth), page("/api/leaf/v1/templatevars"), false},
		"GET /api/leaf/v1/feed":         {everyone(noAuth), page("/api/leaf/v1/feed"), false},
		"POST /api/leaf/v1/auth": {everyone(noAuth), func() probeReq {
			return probeReq{path: "/api/leaf/v1/auth", json: map[string]string{"email": knottest.AdminEmail, "password": knottest.AdminPassword}}
		}, false},

		// Template variables: manage_variables; previews: whoever sees the template.
		"GET /variables":     {managerPage, page("/variables"), false},
		"GET /variables/new": {managerPage, page("/variables/new"), false},
		"POST /variables": {managerPost, func() probeReq {
			return probeReq{path: "/variables", form: url.Values{"name": {fmt.Sprintf("FORM_%d", f.seq.Add(1))}, "value": {"v"}}}
		}, false},
		"GET /variables/:id/edit":   {managerPage, func() probeReq { return probeReq{path: path("/variables/%d/edit", f.variable())} }, false},
		"GET /variables/:id/reveal": {managerPage, func() probeReq { return probeReq{path: path("/variables/%d/reveal", f.variable())} }, false},
		"POST /variables/:id": {managerPost, func() probeReq {
			return probeReq{path: path("/variables/%d", f.variable()), form: url.Values{"name": {fmt.Sprintf("EDIT_%d", f.seq.Add(1))}, "value": {"w"}}}
		}, false},
		"POST /variables/:id/delete": {managerPost, func() probeReq { return probeReq{path: path("/variables/%d/delete", f.variable())} }, false},
		"GET /api/templatevars":      {managerAPI, page("/api/templatevars"), false},
		"POST /api/templatevars": {managerCreate, func() probeReq {
			return probeReq{path: "/api/templatevars", json: map[string]any{"name": fmt.Sprintf("API_%d", f.seq.Add(1)), "value": "v"}}
		}, false},
		"GET /api/templatevars/:id": {managerAPI, func() probeReq { return probeReq{path: path("/api/templatevars/%d", f.variable())} }, false},
		"PUT /api/templatevars/:id": {managerAPI, func() probeReq {
			return probeReq{path: path("/api/templatevars/%d", f.variable()), json: map[string]any{"value": "changed"}}
		}, false},
		"DELETE /api/templatevars/:id": {managerAPI, func() probeReq { return probeReq{path: path("/api/templatevars/%d", f.variable())} }, false},
		"GET /templates/:id/preview": {signedInPage, func() probeReq {
			return probeReq{path: path("/templates/%d/preview", f.template())}
		}, false},
		"GET /api/templates/:id/preview": {signedInAPI, func() probeReq {
			return probeReq{path: path("/api/templates/%d/preview", f.template())}
		}, false},

		// Templates: reading for everyone signed in, writing for manage_templates.
		"GET /templates":     {signedInPage, page("/templates?q=tpl"), false},
		"GET /templates/new": {managerPage, page("/templates/new"), false},
		"POST /templates": {managerPost, func() probeReq {
			return probeReq{path: "/templates", form: templateForm(f.unique("form-tpl"), "", "", "body", true)}
		}, false},
		"GET /templates/:id/edit": {managerPage, func() probeReq { return probeReq{path: path("/templates/%d/edit", f.template())} }, false},
		"POST /templates/:id": {managerPost, func() probeReq {
			return probeReq{path: path("/templates/%d", f.template()), form: templateForm(f.unique("renamed"), "", "", "body", true)}
		}, false},
		"POST /templates/:id/delete": {managerPost, func() probeReq { return probeReq{path: path("/templates/%d/delete", f.template())} }, false},
		"GET /api/templates":         {signedInAPI, page("/api/templates"), false},
		"GET /api/templates/:id":     {signedInAPI, func() probeReq { return probeReq{path: path("/api/templates/%d", f.template())} }, false},
		"POST /api/templates": {managerCreate, func() probeReq {
			return probeReq{path: "/api/templates", json: map[string]any{"name": f.unique("api-tpl"), "body": "x"}}
		}, false},
		"PUT /api/templates/:id": {managerAPI, func() probeReq {
			return probeReq{path: path("/api/templates/%d", f.template()), json: map[string]any{"description": "changed"}}
		}, false},
		"DELETE /api/templates/:id": {managerAPI, func() probeReq { return probeReq{path: path("/api/templates/%d", f.template())} }, false},

		// Users: manage_users.
		"GET /users":     {managerPage, page("/users"), false},
		"GET /users/new": {managerPage, page("/users/new"), false},
		"POST /users": {managerPost, func() probeReq {
			n := f.unique("formuser")
			return probeReq{path: "/users", form: userForm(n, n+"@example.com", "longenough", "longenough", true)}
		}, false},
		"GET /users/:id/edit": {managerPage, func() probeReq { return probeReq{path: path("/users/%d/edit", f.user())} }, false},
		"POST /users/:id": {managerPost, func() probeReq {
			id := f.user()
			return probeReq{path: path("/users/%d", id), form: editForm(f.unique("changed")+"@example.com", true)}
		}, false},
		"POST /users/:id/password": {managerPage, func() probeReq {
			return probeReq{path: path("/users/%d/password", f.user()), form: url.Values{"password": {"new-password"}, "confirm": {"new-password"}}}
		}, false},
		"GET /api/users": {managerAPI, page("/api/users"), false},
		"POST /api/users": {managerCreate, func() probeReq {
			n := f.unique("apiuser")
			return probeReq{path: "/api/users", json: map[string]any{"username": n, "email": n + "@example.com", "password": "longenough"}}
		}, false},
		"GET /api/users/:id": {managerAPI, func() probeReq { return probeReq{path: path("/api/users/%d", f.user())} }, false},
		"PUT /api/users/:id": {managerAPI, func() probeReq {
			return probeReq{path: path("/api/users/%d", f.user()), json: map[string]any{"active": false}}
		}, false},

		// Roles: manage_roles.
		"GET /roles":     {managerPage, page("/roles"), false},
		"GET /roles/new": {managerPage, page("/roles/new"), false},
		"POST /roles": {managerPost, func() probeReq {
			return probeReq{path: "/roles", form: roleForm(f.unique("form-role"), models.PermUseAPITokens)}
		}, false},
		"GET /roles/:id/edit": {managerPage, func() probeReq { return probeReq{path: path("/roles/%d/edit", f.role())} }, false},
		"POST /roles/:id": {managerPost, func() probeReq {
			return probeReq{path: path("/roles/%d", f.role()), form: roleForm(f.unique("renamed-role"))}
		}, false},
		"POST /roles/:id/delete": {managerPost, func() probeReq { return probeReq{path: path("/roles/%d/delete", f.role())} }, false},
		"GET /api/roles":         {managerAPI, page("/api/roles"), false},
		"POST /api/roles": {managerCreate, func() probeReq {
			return probeReq{path: "/api/roles", json: map[string]any{"name": f.unique("api-role"), "permissions": []string{}}}
		}, false},
		"PUT /api/roles/:id": {managerAPI, func() probeReq {
			return probeReq{path: path("/api/roles/%d", f.role()), json: map[string]any{"permissions": []string{models.PermViewLeafNodes}}}
		}, false},
		"DELETE /api/roles/:id": {managerAPI, func() probeReq { return probeReq{path: path("/api/roles/%d", f.role())} }, false},
	}
}

func TestEveryRouteChecksItsPermission(t *testing.T) {
	cs := startCast(t)
	f := &fixtures{t: t, srv: cs.srv, admin: cs.admin}
	expect := routeExpectations(f)

	cfg := cs.srv.Cfg
	table := handlers.New(handlers.Deps{Config: &cfg}).RouteTable()
	seen := map[string]bool{}
	for _, r := range table {
		seen[r.Method+" "+r.Path] = true
	}
	for key := range expect {
		if !seen[key] {
			t.Errorf("expectation for %s, but the server has no such route: remove it", key)
		}
	}

	type caller struct {
		name   string
		client *knottest.Client
		fresh  func() *knottest.Client
		want   func(statuses) int
	}
	callers := []caller{
		{"admin", cs.admin, func() *knottest.Client { return cs.srv.Login(knottest.AdminEmail, knottest.AdminPassword) }, func(s statuses) int { return s.admin }},
		{"developer", cs.dev, func() *knottest.Client { return cs.srv.Login("dev@example.com", devPassword) }, func(s statuses) int { return s.dev }},
		{"no role", cs.nobody, func() *knottest.Client { return cs.srv.Login("nobody@example.com", nobodyPassword) }, func(s statuses) int { return s.none }},
		{"anonymous", cs.srv.Client(), cs.srv.Client, func(s statuses) int { return s.anon }},
	}

	keys := make([]string, 0, len(table))
	for _, r := range table {
		keys = append(keys, r.Method+" "+r.Path)
	}
	slices.Sort(keys)
	for _, key := range keys {
		e, ok := expect[key]
		if !ok {
			t.Errorf("route %s has no expected statuses: decide which permission it needs and add it to routeExpectations", key)
			continue
		}
		method, _, _ := strings.Cut(key, " ")
		for _, who := range callers {
			c := who.client
			if e.fresh {
				c = who.fresh()
			}
			req := e.build()
			var res *knottest.Response
			switch {
			case req.form != nil:
				res = c.Do(method, req.path, strings.NewReader(req.form.Encode()), "Content-Type: application/x-www-form-urlencoded")
			case req.json != nil:
				body, err := json.Marshal(req.json)
				if err != nil {
					t.Fatal(err)
				}
				res = c.Do(method, req.path, strings.NewReader(string(body)), "Content-Type: application/json")
			case method == http.MethodPost:
				res = c.Do(method, req.path, strings.NewReader(""), "Content-Type: application/x-www-form-urlencoded")
			default:
				res = c.Do(method, req.path, nil)
			}
			want := who.want(e.want)
			if res.StatusCode != want {
				t.Errorf("%s %s as %s = %d, want %d (body %.200s)", method, req.path, who.name, res.StatusCode, want, res.Body)
				continue
			}
			// Refusals say why, in the form the caller reads.
			if want == http.StatusForbidden || want == http.StatusUnauthorized {
				isJSON := strings.HasPrefix(res.Header.Get("Content-Type"), "application/json")
				if strings.HasPrefix(req.path, "/api/") != isJSON {
					t.Errorf("%s %s as %s: refusal has Content-Type %q", method, req.path, who.name, res.Header.Get("Content-Type"))
				}
				if !strings.Contains(res.Body, "permission") && !strings.Contains(res.Body, "Authentication required") && !strings.Contains(res.Body, "incorrect") {
					t.Errorf("%s %s as %s: refusal does not say why: %.200s", method, req.path, who.name, res.Body)
				}
			}
			if want == http.StatusSeeOther && who.name == "anonymous" && method == http.MethodGet && req.path != "/" && !strings.HasPrefix(res.Header.Get("Location"), "/login") {
				t.Errorf("%s %s anonymous went to %q, want the sign-in page", method, req.path, res.Header.Get("Location"))
			}
		}
	}
	// The callers are who the test thinks they are (no role lost along the way).
	if !signedIn(t, cs.admin) || !signedIn(t, cs.dev) || !signedIn(t, cs.nobody) {
		t.Fatal("a caller lost its session during the walk; the statuses above may be wrong")
	}
}
