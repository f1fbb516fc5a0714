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
	return f.create("token", "/api/tokens", map[string]string{"name": f.unique("tok")})
}

func (f *fixtures) variable() uint {
	return f.create("variable", "/api/templatevars", map[string]any{"name": fmt.Sprintf("VAR_%d", f.seq.Add(1)), "value": "v"})
}

// create posts body to the admin's API at path and returns the new id.
func (f *fixtures) create(what, path string, body any) uint {
	res := f.admin.JSONRequest(http.MethodPost, path, body)
	var made struct {
		ID uint `json:"id"`
	}
	res.JSON(f.t, &made)
	if res.StatusCode != http.StatusCreated || made.ID == 0 {
		f.t.Fatalf("create %s fixture: %d %s", what, res.StatusCode, res.Body)
	}
	return made.ID
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

// expectation is who may use one route, and how to probe it.
type expectation struct {
	want  statuses
	build func() probeReq
	// fresh: the request ends the caller's session (sign out), so it is
	// made from a newly signed-in client.
	fresh bool
}

// The answers whole kinds of routes give (admin, developer, no role,
// anonymous).
var (
	signedInPage  = statuses{http.StatusOK, http.StatusOK, http.StatusOK, http.StatusSeeOther}
	managerPage   = statuses{http.StatusOK, http.StatusForbidden, http.StatusForbidden, http.StatusSeeOther}
	managerPost   = statuses{http.StatusSeeOther, http.StatusForbidden, http.StatusForbidden, http.StatusSeeOther}
	signedInAPI   = statuses{http.StatusOK, http.StatusOK, http.StatusOK, http.StatusUnauthorized}
	managerAPI    = statuses{http.StatusOK, http.StatusForbidden, http.StatusForbidden, http.StatusUnauthorized}
	managerCreate = statuses{http.StatusCreated, http.StatusForbidden, http.StatusForbidden, http.StatusUnauthorized}
	tokenUserPage = statuses{http.StatusOK, http.StatusOK, http.StatusForbidden, http.StatusSeeOther}
	ownTokenPage  = statuses{http.StatusOK, http.StatusNotFound, http.StatusForbidden, http.StatusSeeOther}
	leafOnly      = statuses{http.StatusNotFound, http.StatusNotFound, http.StatusNotFound, http.StatusSeeOther}
)

// probeAt probes the path as it is.
func probeAt(p string) func() probeReq { return func() probeReq { return probeReq{path: p} } }

// probeID probes format with the id of a fresh fixture made by id.
func probeID(format string, id func() uint) func() probeReq {
	return func() probeReq { return probeReq{path: path(format, id())} }
}

// probeJSON sends body as JSON to format with the id of a fresh fixture
// made by id.
func probeJSON(format string, id func() uint, body any) func() probeReq {
	return func() probeReq { return probeReq{path: path(format, id()), json: body} }
}

// routeExpectations decides, for every route the server has, who may use
// it. A route missing here fails TestEveryRouteChecksItsPermission: adding
// a route means deciding its permission.
func routeExpectations(f *fixtures) map[string]expectation {
	all := map[string]expectation{}
	for _, area := range []func(*fixtures) map[string]expectation{
		publicRoutes, profileRoutes, tokenRoutes, leafRoutes, variableRoutes, templateRoutes, userRoutes, roleRoutes,
	} {
		for key, e := range area(f) {
			// One map literal refused a key twice; several must say so.
			if _, twice := all[key]; twice {
				f.t.Fatalf("%s is decided twice", key)
			}
			all[key] = e
		}
	}
	return all
}

// publicRoutes are the public ones and the shell's.
func publicRoutes(f *fixtures) map[string]expectation {
	return map[string]expectation{
		"GET /":                     {everyone(http.StatusSeeOther), probeAt("/"), false},
		"GET /initial-system-setup": {everyone(http.StatusNotFound), probeAt("/initial-system-setup"), false},
		"POST /initial-system-setup": {everyone(http.StatusNotFound), func() probeReq {
			return probeReq{path: "/initial-system-setup", form: userForm("late", "late@example.com", "longenough", "longenough", true)}
		}, false},
		"GET /login": {statuses{http.StatusSeeOther, http.StatusSeeOther, http.StatusSeeOther, http.StatusOK}, probeAt("/login"), false},
		"POST /login": {everyone(http.StatusUnauthorized), func() probeReq {
			return probeReq{path: "/login", form: url.Values{"email": {"dev@example.com"}, "password": {"wrong-password"}}}
		}, false},
		"POST /logout":          {everyone(http.StatusSeeOther), probeAt("/logout"), true},
		"GET /api/ping":         {everyone(http.StatusOK), probeAt("/api/ping"), false},
		"GET /api/users/whoami": {signedInAPI, probeAt("/api/users/whoami"), false},
	}
}

// profileRoutes are everyone's own profile: no permission, only ever their
// own account. A wrong current password is refused beside its field (and
// signs nobody out); signing out elsewhere keeps this session.
func profileRoutes(f *fixtures) map[string]expectation {
	refused := http.StatusUnprocessableEntity
	return map[string]expectation{
		"GET /profile": {signedInPage, probeAt("/profile"), false},
		"POST /profile/password": {statuses{refused, refused, refused, http.StatusSeeOther}, func() probeReq {
			return probeReq{path: "/profile/password", form: url.Values{"current": {"not-the-password"}, "password": {"new-password"}, "confirm": {"new-password"}}}
		}, false},
		"POST /profile/sessions/sign-out-others": {everyone(http.StatusSeeOther), probeAt("/profile/sessions/sign-out-others"), false},
	}
}

// tokenRoutes need use_api_tokens, and reach only one's own tokens
// (another's is 404).
func tokenRoutes(f *fixtures) map[string]expectation {
	return map[string]expectation{
		"GET /api-tokens":     {tokenUserPage, probeAt("/api-tokens"), false},
		"GET /api-tokens/new": {tokenUserPage, probeAt("/api-tokens/new"), false},
		"POST /api-tokens": {statuses{http.StatusSeeOther, http.StatusSeeOther, http.StatusForbidden, http.StatusSeeOther}, func() probeReq {
			return probeReq{path: "/api-tokens", form: url.Values{"name": {f.unique("form-tok")}}}
		}, false},
		"GET /api-tokens/:id":         {ownTokenPage, probeID("/api-tokens/%d", f.token), false},
		"GET /api-tokens/:id/secret":  {ownTokenPage, probeID("/api-tokens/%d/secret", f.token), false},
		"DELETE /api-tokens/:id":      {statuses{http.StatusOK, http.StatusNotFound, http.StatusForbidden, http.StatusSeeOther}, probeID("/api-tokens/%d", f.token), false},
		"GET /api-tokens/:id/delete":  {ownTokenPage, probeID("/api-tokens/%d/delete", f.token), false},
		"POST /api-tokens/:id/delete": {statuses{http.StatusSeeOther, http.StatusNotFound, http.StatusForbidden, http.StatusSeeOther}, probeID("/api-tokens/%d/delete", f.token), false},
		"GET /api/tokens":             {statuses{http.StatusOK, http.StatusOK, http.StatusForbidden, http.StatusUnauthorized}, probeAt("/api/tokens"), false},
		"POST /api/tokens": {statuses{http.StatusCreated, http.StatusCreated, http.StatusForbidden, http.StatusUnauthorized}, func() probeReq {
			return probeReq{path: "/api/tokens", json: map[string]string{"name": f.unique("api-tok")}}
		}, false},
		"DELETE /api/tokens/:id": {statuses{http.StatusOK, http.StatusNotFound, http.StatusForbidden, http.StatusUnauthorized}, probeID("/api/tokens/%d", f.token), false},
	}
}

// leafRoutes: the origin's protocol takes an API token, never a session;
// the status exists only on a leaf (this server is not one).
func leafRoutes(f *fixtures) map[string]expectation {
	noAuth := everyone(http.StatusUnauthorized)
	return map[string]expectation{
		"GET /leaf-nodes":               {managerPage, probeAt("/leaf-nodes"), false},
		"GET /api/leaf/status":          {statuses{http.StatusNotFound, http.StatusNotFound, http.StatusNotFound, http.StatusUnauthorized}, probeAt("/api/leaf/status"), false},
		"GET /leaf":                     {leafOnly, probeAt("/leaf"), false},
		"POST /leaf/retry":              {leafOnly, probeAt("/leaf/retry"), false},
		"GET /leaf/banner":              {everyone(http.StatusNotFound), probeAt("/leaf/banner"), false},
		"GET /api/leaf/v1/hello":        {noAuth, probeAt("/api/leaf/v1/hello"), false},
		"GET /api/leaf/v1/templates":    {noAuth, probeAt("/api/leaf/v1/templates"), false},
		"GET /api/leaf/v1/templatevars": {noAuth, probeAt("/api/leaf/v1/templatevars"), false},
		"GET /api/leaf/v1/feed":         {noAuth, probeAt("/api/leaf/v1/feed"), false},
		"POST /api/leaf/v1/auth": {noAuth, func() probeReq {
			return probeReq{path: "/api/leaf/v1/auth", json: map[string]string{"email": knottest.AdminEmail, "password": knottest.AdminPassword}}
		}, false},
	}
}

// variableRoutes need manage_variables; previews need only to see the
// template.
func variableRoutes(f *fixtures) map[string]expectation {
	return map[string]expectation{
		"GET /templates/:id/preview":     {signedInPage, probeID("/templates/%d/preview", f.template), false},
		"GET /api/templates/:id/preview": {signedInAPI, probeID("/api/templates/%d/preview", f.template), false},

		"GET /variables":     {managerPage, probeAt("/variables"), false},
		"GET /variables/new": {managerPage, probeAt("/variables/new"), false},
		"POST /variables": {managerPost, func() probeReq {
			return probeReq{path: "/variables", form: url.Values{"name": {fmt.Sprintf("FORM_%d", f.seq.Add(1))}, "value": {"v"}}}
		}, false},
		"GET /variables/:id/edit":   {managerPage, probeID("/variables/%d/edit", f.variable), false},
		"GET /variables/:id/reveal": {managerPage, probeID("/variables/%d/reveal", f.variable), false},
		"POST /variables/:id": {managerPost, func() probeReq {
			return probeReq{path: path("/variables/%d", f.variable()), form: url.Values{"name": {fmt.Sprintf("EDIT_%d", f.seq.Add(1))}, "value": {"w"}}}
		}, false},
		"POST /variables/:id/delete": {managerPost, probeID("/variables/%d/delete", f.variable), false},
		"GET /api/templatevars":      {managerAPI, probeAt("/api/templatevars"), false},
		"POST /api/templatevars": {managerCreate, func() probeReq {
			return probeReq{path: "/api/templatevars", json: map[string]any{"name": fmt.Sprintf("API_%d", f.seq.Add(1)), "value": "v"}}
		}, false},
		"GET /api/templatevars/:id":    {managerAPI, probeID("/api/templatevars/%d", f.variable), false},
		"PUT /api/templatevars/:id":    {managerAPI, probeJSON("/api/templatevars/%d", f.variable, map[string]any{"value": "changed"}), false},
		"DELETE /api/templatevars/:id": {managerAPI, probeID("/api/templatevars/%d", f.variable), false},
	}
}

// templateRoutes: reading for everyone signed in, writing for
// manage_templates.
func templateRoutes(f *fixtures) map[string]expectation {
	return map[string]expectation{
		"GET /templates":     {signedInPage, probeAt("/templates?q=tpl"), false},
		"GET /templates/new": {managerPage, probeAt("/templates/new"), false},
		"POST /templates": {managerPost, func() probeReq {
			return probeReq{path: "/templates", form: templateForm(f.unique("form-tpl"), "", "", "body", true)}
		}, false},
		"GET /templates/:id/edit": {managerPage, probeID("/templates/%d/edit", f.template), false},
		"POST /templates/:id": {managerPost, func() probeReq {
			return probeReq{path: path("/templates/%d", f.template()), form: templateForm(f.unique("renamed"), "", "", "body", true)}
		}, false},
		"POST /templates/:id/delete": {managerPost, probeID("/templates/%d/delete", f.template), false},
		"GET /api/templates":         {signedInAPI, probeAt("/api/templates"), false},
		"GET /api/templates/:id":     {signedInAPI, probeID("/api/templates/%d", f.template), false},
		"POST /api/templates": {managerCreate, func() probeReq {
			return probeReq{path: "/api/templates", json: map[string]any{"name": f.unique("api-tpl"), "body": "x"}}
		}, false},
		"PUT /api/templates/:id":    {managerAPI, probeJSON("/api/templates/%d", f.template, map[string]any{"description": "changed"}), false},
		"DELETE /api/templates/:id": {managerAPI, probeID("/api/templates/%d", f.template), false},
	}
}

// userRoutes need manage_users.
func userRoutes(f *fixtures) map[string]expectation {
	return map[string]expectation{
		"GET /users":     {managerPage, probeAt("/users"), false},
		"GET /users/new": {managerPage, probeAt("/users/new"), false},
		"POST /users": {managerPost, func() probeReq {
			n := f.unique("formuser")
			return probeReq{path: "/users", form: userForm(n, n+"@example.com", "longenough", "longenough", true)}
		}, false},
		"GET /users/:id/edit": {managerPage, probeID("/users/%d/edit", f.user), false},
		"POST /users/:id": {managerPost, func() probeReq {
			id := f.user()
			return probeReq{path: path("/users/%d", id), form: editForm(f.unique("changed")+"@example.com", true)}
		}, false},
		"POST /users/:id/password": {managerPage, func() probeReq {
			return probeReq{path: path("/users/%d/password", f.user()), form: url.Values{"password": {"new-password"}, "confirm": {"new-password"}}}
		}, false},
		"GET /api/users": {managerAPI, probeAt("/api/users"), false},
		"POST /api/users": {managerCreate, func() probeReq {
			n := f.unique("apiuser")
			return probeReq{path: "/api/users", json: map[string]any{"username": n, "email": n + "@example.com", "password": "longenough"}}
		}, false},
		"GET /api/users/:id": {managerAPI, probeID("/api/users/%d", f.user), false},
		"PUT /api/users/:id": {managerAPI, probeJSON("/api/users/%d", f.user, map[string]any{"active": false}), false},
	}
}

// roleRoutes need manage_roles.
func roleRoutes(f *fixtures) map[string]expectation {
	return map[string]expectation{
		"GET /roles":     {managerPage, probeAt("/roles"), false},
		"GET /roles/new": {managerPage, probeAt("/roles/new"), false},
		"POST /roles": {managerPost, func() probeReq {
			return probeReq{path: "/roles", form: roleForm(f.unique("form-role"), models.PermUseAPITokens)}
		}, false},
		"GET /roles/:id/edit": {managerPage, probeID("/roles/%d/edit", f.role), false},
		"POST /roles/:id": {managerPost, func() probeReq {
			return probeReq{path: path("/roles/%d", f.role()), form: roleForm(f.unique("renamed-role"))}
		}, false},
		"POST /roles/:id/delete": {managerPost, probeID("/roles/%d/delete", f.role), false},
		"GET /api/roles":         {managerAPI, probeAt("/api/roles"), false},
		"POST /api/roles": {managerCreate, func() probeReq {
			return probeReq{path: "/api/roles", json: map[string]any{"name": f.unique("api-role"), "permissions": []string{}}}
		}, false},
		"PUT /api/roles/:id":    {managerAPI, probeJSON("/api/roles/%d", f.role, map[string]any{"permissions": []string{models.PermViewLeafNodes}}), false},
		"DELETE /api/roles/:id": {managerAPI, probeID("/api/roles/%d", f.role), false},
	}
}

// caller is one kind of user the permission walk probes as.
type caller struct {
	name   string
	client *knottest.Client
	fresh  func() *knottest.Client // a newly signed-in client of the same user
	want   func(statuses) int
}

func castCallers(cs *cast) []caller {
	return []caller{
		{"admin", cs.admin, func() *knottest.Client { return cs.srv.Login(knottest.AdminEmail, knottest.AdminPassword) }, func(s statuses) int { return s.admin }},
		{"developer", cs.dev, func() *knottest.Client { return cs.srv.Login("dev@example.com", devPassword) }, func(s statuses) int { return s.dev }},
		{"no role", cs.nobody, func() *knottest.Client { return cs.srv.Login("nobody@example.com", nobodyPassword) }, func(s statuses) int { return s.none }},
		{"anonymous", cs.srv.Client(), cs.srv.Client, func(s statuses) int { return s.anon }},
	}
}

func TestEveryRouteChecksItsPermission(t *testing.T) {
	cs := startCast(t)
	f := &fixtures{t: t, srv: cs.srv, admin: cs.admin}
	expect := routeExpectations(f)

	cfg := cs.srv.Cfg
	table := handlers.New(handlers.Deps{Config: &cfg}).RouteTable()
	keys := make([]string, 0, len(table))
	for _, r := range table {
		keys = append(keys, r.Method+" "+r.Path)
	}
	for key := range expect {
		if !slices.Contains(keys, key) {
			t.Errorf("expectation for %s, but the server has no such route: remove it", key)
		}
	}

	callers := castCallers(cs)
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
			checkProbe(t, who, method, req, probe(t, c, method, req), who.want(e.want))
		}
	}
	// The callers are who the test thinks they are (no role lost along the way).
	if !signedIn(t, cs.admin) || !signedIn(t, cs.dev) || !signedIn(t, cs.nobody) {
		t.Fatal("a caller lost its session during the walk; the statuses above may be wrong")
	}
}

// probe sends req with its form or JSON body, or none.
func probe(t *testing.T, c *knottest.Client, method string, req probeReq) *knottest.Response {
	t.Helper()
	switch {
	case req.form != nil:
		return c.Do(method, req.path, strings.NewReader(req.form.Encode()), "Content-Type: application/x-www-form-urlencoded")
	case req.json != nil:
		body, err := json.Marshal(req.json)
		if err != nil {
			t.Fatal(err)
		}
		return c.Do(method, req.path, strings.NewReader(string(body)), "Content-Type: application/json")
	case method == http.MethodPost:
		return c.Do(method, req.path, strings.NewReader(""), "Content-Type: application/x-www-form-urlencoded")
	default:
		return c.Do(method, req.path, nil)
	}
}

// checkProbe checks one answer: its status, and that a refusal says why in
// the form the caller reads.
func checkProbe(t *testing.T, who caller, method string, req probeReq, res *knottest.Response, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Errorf("%s %s as %s = %d, want %d (body %.200s)", method, req.path, who.name, res.StatusCode, want, res.Body)
		return
	}
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
