package handlers_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

func createRole(t *testing.T, c *knottest.Client, name string, perms ...string) api.Role {
	t.Helper()
	if perms == nil {
		perms = []string{}
	}
	res := c.JSONRequest(http.MethodPost, "/api/roles", map[string]any{"name": name, "permissions": perms})
	wantStatus(t, res, http.StatusCreated)
	var r api.Role
	res.JSON(t, &r)
	return r
}

func listRoles(t *testing.T, c *knottest.Client) []api.Role {
	t.Helper()
	res := c.Get("/api/roles")
	wantStatus(t, res, http.StatusOK)
	var out []api.Role
	res.JSON(t, &out)
	return out
}

func roleForm(name string, perms ...string) url.Values {
	return url.Values{"name": {name}, "permissions": perms}
}

func TestRolesPageListsRolesWithPermissionsAndHolders(t *testing.T) {
	cs := startCast(t)
	createRole(t, cs.admin, `Ops <i>team</i>`, models.PermManageTemplates)
	page := cs.admin.Get("/roles")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "<strong>Admin</strong></span> <span class=\"badge\">built-in</span>", "<strong>Developer</strong>",
		`title="Create, edit and delete roles and choose what each may do.">manage_roles</span>`,
		`title="Create API tokens, with which scripts, the CLI and leaf nodes act as the user.">use_api_tokens</span>`,
		`<td data-label="Held by">admin</td>`, `<td data-label="Held by">dev</td>`, `<span class="muted">nobody</span>`,
		"Ops &lt;i&gt;team&lt;/i&gt;", `hx-confirm="Delete the role “Ops &lt;i&gt;team&lt;/i&gt;”?"`, `href="/roles/new"`)
	wantNoBody(t, page, "<i>team</i>")
	// Built-in roles have no delete button; the custom one has.
	if n := strings.Count(page.Body, `/delete"`); n != 2 { // action= and hx-post= of one form
		t.Fatalf("delete forms: %d attributes, want exactly the custom role's form", n)
	}

	roles := listRoles(t, cs.admin)
	if len(roles) != 3 || roles[0].Name != "Admin" || !roles[0].Builtin || !slices.Equal(roles[0].Permissions, models.AllPermissions) ||
		!slices.Equal(roles[0].Users, []string{"admin"}) || roles[1].Name != "Developer" || !slices.Equal(roles[1].Permissions, []string{models.PermUseAPITokens}) ||
		roles[2].Builtin || len(roles[2].Users) != 0 || roles[2].Users == nil {
		t.Fatalf("roles = %+v", roles)
	}
}

// Every permission on the role form says in a sentence what it allows, and
// its checkbox points to that sentence, so that a screen reader reads it
// after the permission's name.
func TestEveryPermissionOnTheRoleFormIsDescribed(t *testing.T) {
	cs := startCast(t)
	page := cs.admin.Get("/roles/new")
	wantStatus(t, page, http.StatusOK)
	hints := map[string]string{}
	for _, m := range regexp.MustCompile(`<p class="hint perm-hint" id="perm-(\w+)-hint">([^<]*)</p>`).FindAllStringSubmatch(page.Body, -1) {
		hints[m[1]] = html.UnescapeString(m[2])
	}
	for _, p := range models.AllPermissions {
		hint := hints[p]
		if len(hint) < 20 || !strings.HasSuffix(hint, ".") || strings.ToUpper(hint[:1]) != hint[:1] {
			t.Errorf("permission %s is described as %q, want a sentence", p, hint)
		}
		box := regexp.MustCompile(`<input [^>]*value="` + p + `"[^>]*>`).FindString(page.Body)
		if !strings.Contains(box, `aria-describedby="perm-`+p+`-hint"`) {
			t.Errorf("the checkbox of %s does not point to its description: %s", p, box)
		}
	}
	if len(hints) != len(models.AllPermissions) {
		t.Errorf("the form describes %d permissions, want the %d there are", len(hints), len(models.AllPermissions))
	}
}

func TestCreateAndEditACustomRole(t *testing.T) {
	cs := startCast(t)
	newPage := cs.admin.Get("/roles/new")
	wantStatus(t, newPage, http.StatusOK)
	for _, p := range models.AllPermissions {
		wantBody(t, newPage, `name="permissions" value="`+p+`">`)
	}

	res := cs.admin.PostForm("/roles", roleForm("  Template editors ", models.PermManageTemplates, models.PermUseAPITokens))
	wantStatus(t, res, http.StatusSeeOther)
	wantBody(t, cs.admin.Get("/roles"), "Role “Template editors” created.")
	roles := listRoles(t, cs.admin)
	editors := roles[2]
	if editors.Name != "Template editors" || !slices.Equal(editors.Permissions, []string{models.PermManageTemplates, models.PermUseAPITokens}) {
		t.Fatalf("created = %+v", editors)
	}

	// Give it to nobody; their permissions follow the role at once.
	wantStatus(t, cs.admin.JSONRequest(http.MethodPut, path("/api/users/%d", cs.nobodyID), map[string]any{"roles": []string{"Template editors"}}), http.StatusOK)
	wantStatus(t, cs.nobody.Get("/templates/new"), http.StatusOK)

	edit := cs.admin.Get(path("/roles/%d/edit", editors.ID))
	wantStatus(t, edit, http.StatusOK)
	wantBody(t, edit, `name="name" value="Template editors"`, `name="permissions" value="manage_templates" checked`, `name="permissions" value="manage_users">`)

	res = cs.admin.PostForm(path("/roles/%d", editors.ID), roleForm("Editors", models.PermUseAPITokens), htmx)
	wantStatus(t, res, http.StatusOK)
	if res.Header.Get("HX-Redirect") != "/roles" {
		t.Fatalf("htmx save: %q %s", res.Header.Get("HX-Redirect"), res.Body)
	}
	wantStatus(t, cs.nobody.Get("/templates/new"), http.StatusForbidden)
	wantStatus(t, cs.nobody.Get("/api-tokens"), http.StatusOK)
	var me api.WhoAmI
	cs.nobody.Get("/api/users/whoami").JSON(t, &me)
	if !slices.Equal(me.Roles, []string{"Editors"}) {
		t.Fatalf("renamed role shows as %q", me.Roles)
	}

	// Unchecking every box leaves a role with no permissions.
	wantStatus(t, cs.admin.PostForm(path("/roles/%d", editors.ID), roleForm("Editors")), http.StatusSeeOther)
	wantStatus(t, cs.nobody.Get("/api-tokens"), http.StatusForbidden)

	wantStatus(t, cs.admin.Get("/roles/999/edit"), http.StatusNotFound)
	wantStatus(t, cs.admin.PostForm("/roles/999", roleForm("x")), http.StatusNotFound)
}

func TestRoleFormShowsEveryMessage(t *testing.T) {
	cs := startCast(t)
	custom := createRole(t, cs.admin, "Custom")
	cases := []struct {
		name  string
		path  string
		form  url.Values
		field string
		msg   string
		code  int
	}{
		{"no name", "/roles", roleForm("  "), "name", "Enter a name.", 422},
		{"long name", "/roles", roleForm(strings.Repeat("r", 65)), "name", "A name can be at most 64 characters.", 422},
		{"control in name", "/roles", roleForm("a\x07b"), "name", "A name cannot contain tabs, line breaks or control characters.", 422},
		{"unknown permission", "/roles", roleForm("Odd", "sudo"), "permissions", "Unknown permission “sudo”; choose from manage_users, manage_roles, manage_templates, use_api_tokens, view_leaf_nodes, manage_variables.", 422},
		{"taken name", "/roles", roleForm("DEVELOPER"), "name", "A role named “DEVELOPER” already exists; choose another name.", 409},
		{"rename onto another", path("/roles/%d", custom.ID), roleForm("admin"), "name", "A role named “admin” already exists", 409},
		{"edit: no name", path("/roles/%d", custom.ID), roleForm(""), "name", "Enter a name.", 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := cs.admin.PostForm(tc.path, tc.form)
			wantStatus(t, res, tc.code)
			wantBody(t, res, `id="`+tc.field+`-error"`, htmlEscape(tc.msg), "<html")
			frag := cs.admin.PostForm(tc.path, tc.form, htmx)
			wantStatus(t, frag, http.StatusOK)
			if !isFragment(frag) {
				t.Fatal("htmx answer is a whole page")
			}
			wantBody(t, frag, htmlEscape(tc.msg))
			if n := tc.form.Get("name"); !strings.ContainsAny(n, "\x07") {
				wantBody(t, frag, `value="`+htmlEscape(n)+`"`)
			}
		})
	}
	// Checked boxes are kept when the form comes back.
	frag := cs.admin.PostForm("/roles", roleForm("", models.PermViewLeafNodes), htmx)
	wantBody(t, frag, `value="view_leaf_nodes" checked`, `value="manage_users">`)
	if n := len(listRoles(t, cs.admin)); n != 3 {
		t.Fatalf("%d roles after refused creates, want 3", n)
	}
}

func TestBuiltinRolesKeepTheirNamesAndAdminItsPermissions(t *testing.T) {
	cs := startCast(t)
	// The forms do not offer what cannot change.
	adminEdit := cs.admin.Get(path("/roles/%d/edit", models.AdminRoleID))
	wantBody(t, adminEdit, `<input id="name" value="Admin" disabled`, "Built-in roles keep their names.", "The Admin role always has every permission.",
		`value="manage_users" checked disabled`)
	devEdit := cs.admin.Get(path("/roles/%d/edit", models.DeveloperRoleID))
	wantBody(t, devEdit, `<input id="name" value="Developer" disabled`, `name="permissions" value="use_api_tokens" checked>`)

	// Developer's permissions may change; its name may not, even by a crafted form.
	res := cs.admin.PostForm(path("/roles/%d", models.DeveloperRoleID), roleForm("Hacker", models.PermUseAPITokens, models.PermViewLeafNodes))
	wantStatus(t, res, http.StatusSeeOther)
	roles := listRoles(t, cs.admin)
	if roles[1].Name != "Developer" || !slices.Equal(roles[1].Permissions, []string{models.PermUseAPITokens, models.PermViewLeafNodes}) {
		t.Fatalf("developer = %+v", roles[1])
	}
	wantStatus(t, cs.dev.Get("/leaf-nodes"), http.StatusOK)
	// Admin's form changes nothing about its permissions.
	wantStatus(t, cs.admin.PostForm(path("/roles/%d", models.AdminRoleID), roleForm("Root")), http.StatusSeeOther)
	if r := listRoles(t, cs.admin)[0]; r.Name != "Admin" || !slices.Equal(r.Permissions, models.AllPermissions) {
		t.Fatalf("admin = %+v", r)
	}

	// Through the API the refusals are spelled out.
	wantAPIError(t, cs.admin.JSONRequest(http.MethodPut, path("/api/roles/%d", models.AdminRoleID), map[string]any{"name": "Root"}), 422, "name: Built-in roles cannot be renamed; “Admin” keeps its name.")
	wantAPIError(t, cs.admin.JSONRequest(http.MethodPut, path("/api/roles/%d", models.DeveloperRoleID), map[string]any{"name": "developer"}), 422, "Built-in roles cannot be renamed")
	wantAPIError(t, cs.admin.JSONRequest(http.MethodPut, path("/api/roles/%d", models.AdminRoleID), map[string]any{"permissions": []string{"manage_users"}}), 422, "permissions: The Admin role always has every permission; its permissions cannot be changed.")
	// Sending a built-in role back unchanged is fine.
	wantStatus(t, cs.admin.JSONRequest(http.MethodPut, path("/api/roles/%d", models.AdminRoleID), listRoles(t, cs.admin)[0]), http.StatusOK)

	// Built-in roles cannot be deleted.
	wantAPIError(t, cs.admin.Do(http.MethodDelete, path("/api/roles/%d", models.DeveloperRoleID), nil), 409, "“Developer” is a built-in role and cannot be deleted.")
	res = cs.admin.PostForm(path("/roles/%d/delete", models.AdminRoleID), nil)
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "“Admin” is a built-in role and cannot be deleted.")
	if n := len(listRoles(t, cs.admin)); n != 2 {
		t.Fatalf("%d roles, want the 2 built-in ones", n)
	}
}

func TestDeletingARole(t *testing.T) {
	cs := startCast(t)
	used := createRole(t, cs.admin, "Used", models.PermUseAPITokens)
	for _, name := range []string{"zed", "amy", "bo", "cy", "di", "ed"} {
		cs.srv.CreateUser(name, name+"@example.com", "longenough", used.ID)
	}
	// htmx: the row comes back with the reason, naming who holds the role.
	res := cs.admin.PostForm(path("/roles/%d/delete", used.ID), nil, htmx)
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, path(`<tr id="role-%d"`, used.ID), "“Used” cannot be deleted while amy, bo, cy, di, ed and 1 other hold it; take the role away from them on the Users page first.")
	if !isFragment(res) {
		t.Fatal("htmx refusal is a whole page")
	}
	// Without htmx, the list page with the reason.
	res = cs.admin.PostForm(path("/roles/%d/delete", used.ID), nil)
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "cannot be deleted while amy, bo")
	// The API says the same with 409.
	two := createRole(t, cs.admin, "Two")
	cs.srv.CreateUser("pat", "pat@example.com", "longenough", two.ID)
	wantAPIError(t, cs.admin.Do(http.MethodDelete, path("/api/roles/%d", two.ID), nil), 409, "“Two” cannot be deleted while pat holds it")
	cs.srv.CreateUser("quinn", "quinn@example.com", "longenough", two.ID)
	wantAPIError(t, cs.admin.Do(http.MethodDelete, path("/api/roles/%d", two.ID), nil), 409, "while pat and quinn hold it")

	// An unused role goes: htmx gets an empty 200, a form a notice.
	spare := createRole(t, cs.admin, "Spare")
	res = cs.admin.PostForm(path("/roles/%d/delete", spare.ID), nil, htmx)
	wantStatus(t, res, http.StatusOK)
	if res.Body != "" {
		t.Fatalf("htmx delete answered %q", res.Body)
	}
	spare2 := createRole(t, cs.admin, "Spare 2")
	wantStatus(t, cs.admin.PostForm(path("/roles/%d/delete", spare2.ID), nil), http.StatusSeeOther)
	wantBody(t, cs.admin.Get("/roles"), "Role “Spare 2” deleted.")
	spare3 := createRole(t, cs.admin, "Spare 3")
	wantStatus(t, cs.admin.Do(http.MethodDelete, path("/api/roles/%d", spare3.ID), nil), http.StatusOK)
	wantAPIError(t, cs.admin.Do(http.MethodDelete, path("/api/roles/%d", spare3.ID), nil), 404, "nothing at this address")
	for _, r := range listRoles(t, cs.admin) {
		if strings.HasPrefix(r.Name, "Spare") {
			t.Fatalf("role %s still there", r.Name)
		}
	}
}

func TestRolesAPIRefusesBadBodies(t *testing.T) {
	cs := startCast(t)
	cases := []struct {
		name string
		body string
		code int
		msg  string
	}{
		{"empty", ``, 400, "The request body is empty"},
		{"not an object", `["x"]`, 400, "must be a JSON object"},
		{"name not a string", `{"name":true}`, 400, `Field "name" must be a string, not bool.`},
		{"permissions not a list", `{"name":"x","permissions":"manage_users"}`, 400, `Field "permissions" must be a list of strings, not string.`},
		{"unknown permission", `{"name":"x","permissions":["root"]}`, 422, "permissions: Unknown permission “root”"},
		{"huge unknown permission", `{"name":"x","permissions":["` + strings.Repeat("p", 5000) + `"]}`, 422, "Unknown permission"},
		{"unknown field", `{"name":"x","perms":[]}`, 400, `Unknown field "perms".`},
		{"no name", `{"permissions":[]}`, 422, "name: Enter a name."},
		{"taken", `{"name":"admin"}`, 409, "A role named “admin” already exists"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantAPIError(t, cs.admin.JSONRequest(http.MethodPost, "/api/roles", tc.body), tc.code, tc.msg)
		})
	}
	// A huge unknown value is not echoed back whole.
	res := cs.admin.JSONRequest(http.MethodPost, "/api/roles", `{"name":"x","permissions":["`+strings.Repeat("é", 5000)+`"]}`)
	if msg := apiError(t, res); len(msg) > 400 || !strings.Contains(msg, strings.Repeat("é", 64)+"…”") {
		t.Fatalf("message for a huge permission is %d bytes: %.120s", len(msg), msg)
	}
	res = cs.admin.JSONRequest(http.MethodPost, "/api/users", `{"username":"x","roles":["`+strings.Repeat("r", 5000)+`"]}`)
	if msg := apiError(t, res); len(msg) > 400 || !strings.HasPrefix(msg, "roles: Unknown role “rrr") {
		t.Fatalf("message for a huge role name is %d bytes: %.120s", len(msg), msg)
	}
	// Duplicates in the list are harmless; the order follows AllPermissions.
	r := createRole(t, cs.admin, "Dupes", models.PermViewLeafNodes, models.PermManageUsers, models.PermViewLeafNodes)
	if !slices.Equal(r.Permissions, []string{models.PermManageUsers, models.PermViewLeafNodes}) {
		t.Fatalf("permissions = %q", r.Permissions)
	}
	wantAPIError(t, cs.admin.JSONRequest(http.MethodPut, "/api/roles/999", `{"name":"x"}`), 404, "nothing at this address")
}

// Someone who may edit roles but is not an Admin cannot hand out (and so
// gain) permissions they lack.
func TestRoleManagersCannotGrantWhatTheyLack(t *testing.T) {
	cs := startCast(t)
	createRole(t, cs.admin, "Role admins", models.PermManageRoles)
	wantStatus(t, cs.admin.JSONRequest(http.MethodPut, path("/api/users/%d", cs.nobodyID), map[string]any{"roles": []string{"Role admins"}}), http.StatusOK)

	res := cs.nobody.PostForm("/roles", roleForm("Sneaky", models.PermManageUsers), htmx)
	wantBody(t, res, "You can only grant permissions you hold yourself; you lack manage_users.")
	roles := listRoles(t, cs.nobody)
	var mine api.Role
	for _, r := range roles {
		if r.Name == "Role admins" {
			mine = r
		}
	}
	wantAPIError(t, cs.nobody.JSONRequest(http.MethodPut, path("/api/roles/%d", mine.ID), map[string]any{"permissions": []string{models.PermManageRoles, models.PermManageUsers}}),
		403, "you lack manage_users")
	wantAPIError(t, cs.nobody.JSONRequest(http.MethodPut, path("/api/roles/%d", models.DeveloperRoleID), map[string]any{"permissions": []string{models.PermUseAPITokens, models.PermManageTemplates}}),
		403, "you lack manage_templates")
	// Keeping what a role already has, or taking permissions away, is fine.
	wantStatus(t, cs.nobody.JSONRequest(http.MethodPut, path("/api/roles/%d", models.DeveloperRoleID), map[string]any{"permissions": []string{models.PermUseAPITokens}}), http.StatusOK)
	wantStatus(t, cs.nobody.JSONRequest(http.MethodPut, path("/api/roles/%d", models.DeveloperRoleID), map[string]any{"permissions": []string{}}), http.StatusOK)
	wantStatus(t, cs.nobody.JSONRequest(http.MethodPost, "/api/roles", map[string]any{"name": "Readers", "permissions": []string{models.PermManageRoles}}), http.StatusCreated)
}
