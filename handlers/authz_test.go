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

	return map[string]entry{
		// Public and shell.
		"GET /static/*filepath":     {everyone(ok), page("/static/app.css"), false},
		"HEAD /static/*filepath":    {everyone(ok), page("/static/htmx-2.0.11.min.js"), false},
		"GET /favicon.ico":          {everyone(http.StatusMovedPermanently), page("/favicon.ico"), false},
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

		// Pages of features others own.
		"GET /api-tokens": {statuses{ok, ok, denied, see}, page("/api-tokens"), false},
		"GET /leaf-nodes": {managerPage, page("/leaf-nodes"), false},

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
