package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

func getUser(t *testing.T, c *knottest.Client, id uint) api.User {
	t.Helper()
	res := c.Get(path("/api/users/%d", id))
	wantStatus(t, res, http.StatusOK)
	var u api.User
	res.JSON(t, &u)
	return u
}

func userForm(username, email, password, confirm string, active bool, roleIDs ...uint) url.Values {
	v := url.Values{"username": {username}, "email": {email}, "password": {password}, "confirm": {confirm}}
	for _, r := range roleIDs {
		v.Add("roles", path("%d", r))
	}
	if active {
		v.Set("active", "true")
	}
	return v
}

func editForm(email string, active bool, roleIDs ...uint) url.Values {
	v := url.Values{"email": {email}}
	for _, r := range roleIDs {
		v.Add("roles", path("%d", r))
	}
	if active {
		v.Set("active", "true")
	}
	return v
}

// signedIn reports whether c's session still works.
func signedIn(t *testing.T, c *knottest.Client) bool {
	t.Helper()
	res := c.Get("/api/users/whoami")
	switch res.StatusCode {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		return false
	}
	t.Fatalf("whoami = %d", res.StatusCode)
	return false
}

func TestUsersPageListsUsers(t *testing.T) {
	cs := startCast(t)
	cs.srv.CreateUser("mallory", `mallory+<b>x</b>@example.com`, "longenough")
	page := cs.admin.Get("/users")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "<strong>admin</strong>", "<strong>dev</strong>", "<strong>nobody</strong>", "dev@example.com",
		`<span class="badge">Admin</span>`, `<span class="badge">Developer</span>`, `<span class="muted">none</span>`,
		`<span class="badge ok">active</span>`, path(`href="/users/%d/edit"`, cs.devID), `href="/users/new"`,
		"mallory+&lt;b&gt;x&lt;/b&gt;@example.com")
	wantNoBody(t, page, "$2a$", "password_hash", "<b>x</b>")
	// Signed-in users have a last sign-in time; a user who never signed in says so.
	wantBody(t, page, "2026-11-02 09:00 UTC", `<td data-label="Last sign-in">never</td>`)
}

func TestCreateUserWithTheForm(t *testing.T) {
	cs := startCast(t)
	page := cs.admin.Get("/users/new")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, `name="username"`, `name="password"`, `name="confirm"`,
		path(`name="roles" value="%d" checked`, models.DeveloperRoleID), path(`name="roles" value="%d">`, models.AdminRoleID),
		`name="active" value="true" checked`)

	res := cs.admin.PostForm("/users", userForm("alice", " Alice@Example.com ", "alice-password", "alice-password", true, models.DeveloperRoleID))
	wantStatus(t, res, http.StatusSeeOther)
	// Stored trimmed, its ASCII letters in lower case.
	wantBody(t, cs.admin.Get("/users"), "User alice created.", "<strong>alice</strong>", "alice@example.com")
	alice := cs.srv.Login("alice@example.com", "alice-password")
	var me api.WhoAmI
	alice.Get("/api/users/whoami").JSON(t, &me)
	if !slices.Equal(me.Roles, []string{"Developer"}) || !slices.Equal(me.Permissions, []string{models.PermUseAPITokens}) {
		t.Fatalf("alice = %+v", me)
	}

	// Created inactive: cannot sign in.
	res = cs.admin.PostForm("/users", userForm("bob", "bob@example.com", "bob-password", "bob-password", false), htmx)
	wantStatus(t, res, http.StatusOK)
	if res.Header.Get("HX-Redirect") != "/users" {
		t.Fatalf("htmx create: HX-Redirect %q", res.Header.Get("HX-Redirect"))
	}
	res = cs.srv.Client().PostForm("/login", url.Values{"email": {"bob@example.com"}, "password": {"bob-password"}})
	wantStatus(t, res, http.StatusForbidden)
}

func TestCreateUserFormShowsEveryMessage(t *testing.T) {
	cs := startCast(t)
	long := strings.Repeat("p", 73)
	cases := []formRefusal{
		{"bad username", userForm("1abc", "a@example.com", "longenough", "longenough", true), "username", "Use 2–64 letters, digits or dashes, starting with a letter.", 422},
		{"empty username", userForm("", "a@example.com", "longenough", "longenough", true), "username", "Use 2–64 letters", 422},
		{"HTML username", userForm("<b>x</b>", "a@example.com", "longenough", "longenough", true), "username", "Use 2–64 letters", 422},
		{"empty email", userForm("alice", "", "longenough", "longenough", true), "email", "Enter an email address.", 422},
		{"bad email", userForm("alice", "not-an-email", "longenough", "longenough", true), "email", "Enter a valid email address, like name@example.com.", 422},
		{"long email", userForm("alice", strings.Repeat("a", 250)+"@example.com", "longenough", "longenough", true), "email", "An email address can be at most 254 characters.", 422},
		{"short password", userForm("alice", "a@example.com", "short", "short", true), "password", "Use at least 8 characters.", 422},
		{"long password", userForm("alice", "a@example.com", long, long, true), "password", "Use at most 72 bytes.", 422},
		{"mismatch", userForm("alice", "a@example.com", "longenough", "different", true), "confirm", "The passwords do not match.", 422},
		{"unknown role", userForm("alice", "a@example.com", "longenough", "longenough", true, 99), "roles", "There is no role with id 99; reload the page and choose again.", 422},
		{"malformed role", url.Values{"username": {"alice"}, "email": {"a@example.com"}, "password": {"longenough"}, "confirm": {"longenough"}, "roles": {"x"}}, "roles", "The roles could not be read; reload the page and choose again.", 422},
		{"taken username", userForm("DEV", "a@example.com", "longenough", "longenough", true), "username", "The username “DEV” is taken; choose another.", 409},
		{"taken email", userForm("alice", "DEV@example.com", "longenough", "longenough", true), "email", "Another user already has the email address dev@example.com.", 409},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page, frag := wantFormRefused(t, cs.admin, "/users", tc)
			wantBody(t, page, "<html")
			if !isFragment(frag) {
				t.Fatal("htmx error answer is a whole page")
			}
			wantBody(t, frag, `value="`+htmlEscape(tc.form.Get("username"))+`"`, `value="`+htmlEscape(tc.form.Get("email"))+`"`)
			// Passwords are never sent back.
			wantNoBody(t, frag, "longenough", "different", `value="short"`)
		})
	}
	// Checked roles and the active box stay as they were typed.
	frag := cs.admin.PostForm("/users", userForm("1bad", "a@example.com", "longenough", "longenough", false, models.AdminRoleID), htmx)
	wantBody(t, frag, path(`name="roles" value="%d" checked`, models.AdminRoleID), path(`name="roles" value="%d">`, models.DeveloperRoleID), `name="active" value="true">`)
	var users int64
	cs.srv.Server.DB().Model(&models.User{}).Count(&users)
	if users != 3 {
		t.Fatalf("%d users after refused creates, want 3", users)
	}
}

func TestEditUserEmailRolesAndActive(t *testing.T) {
	cs := startCast(t)
	edit := cs.admin.Get(path("/users/%d/edit", cs.devID))
	wantStatus(t, edit, http.StatusOK)
	wantBody(t, edit, "Username <strong>dev</strong>", `value="dev@example.com"`, path(`name="roles" value="%d" checked`, models.DeveloperRoleID),
		path(`hx-post="/users/%d/password"`, cs.devID), "Set a new password")
	wantNoBody(t, edit, `name="username"`)

	res := cs.admin.PostForm(path("/users/%d", cs.devID), editForm("developer@example.com", true, models.DeveloperRoleID, models.AdminRoleID))
	wantStatus(t, res, http.StatusSeeOther)
	wantBody(t, cs.admin.Get("/users"), "Changes to dev saved.")
	u := getUser(t, cs.admin, cs.devID)
	if u.Email != "developer@example.com" || !slices.Equal(u.Roles, []string{"Admin", "Developer"}) || !u.Active {
		t.Fatalf("after edit = %+v", u)
	}
	// The new roles apply to the open session at once.
	wantStatus(t, cs.dev.Get("/users"), http.StatusOK)

	// Taking every role away leaves a signed-in user with no permissions.
	wantStatus(t, cs.admin.PostForm(path("/users/%d", cs.devID), editForm("developer@example.com", true)), http.StatusSeeOther)
	wantStatus(t, cs.dev.Get("/api-tokens"), http.StatusForbidden)

	cases := []formRefusal{
		{"empty email", editForm("", true), "email", "Enter an email address.", 422},
		{"bad email", editForm("nope", true), "email", "Enter a valid email address", 422},
		{"taken email", editForm("NOBODY@example.com", true), "email", "Another user already has the email address nobody@example.com.", 409},
		{"unknown role", editForm("dev@example.com", true, 42), "roles", "There is no role with id 42", 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, frag := wantFormRefused(t, cs.admin, path("/users/%d", cs.devID), tc)
			wantBody(t, frag, `value="`+htmlEscape(tc.form.Get("email"))+`"`)
		})
	}
	if u := getUser(t, cs.admin, cs.devID); u.Email != "developer@example.com" {
		t.Fatalf("refused edits changed the user: %+v", u)
	}
	wantStatus(t, cs.admin.Get("/users/999/edit"), http.StatusNotFound)
	wantStatus(t, cs.admin.PostForm("/users/999", editForm("x@example.com", true)), http.StatusNotFound)
}

// sessionRows counts the sessions recorded as signed in (user_sessions):
// a session without its row is refused on its next request.
func sessionRows(t *testing.T, srv *knottest.Instance) int64 {
	t.Helper()
	var n int64
	if err := srv.Server.DB().Table("user_sessions").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeactivatingAUserEndsTheirSessionsAtOnce(t *testing.T) {
	cs := startCast(t)
	second := cs.srv.Login("dev@example.com", devPassword) // a second browser
	if !signedIn(t, cs.dev) || !signedIn(t, second) {
		t.Fatal("developer not signed in to start with")
	}
	_, token := cs.dev.CreateAPIToken("script")
	bearer := cs.srv.Client()
	if res := bearer.Get("/api/users/whoami", "Authorization: Bearer "+token); res.StatusCode != http.StatusOK {
		t.Fatalf("developer's token before deactivation = %d", res.StatusCode)
	}
	before := sessionRows(t, cs.srv)

	res := cs.admin.PostForm(path("/users/%d", cs.devID), editForm("dev@example.com", false, models.DeveloperRoleID), htmx)
	wantStatus(t, res, http.StatusOK)
	if res.Header.Get("HX-Redirect") != "/users" {
		t.Fatalf("deactivate: %d %q %s", res.StatusCode, res.Header.Get("HX-Redirect"), res.Body)
	}
	// Both sessions are ended for good, not merely refused while the
	// account is off...
	if after := sessionRows(t, cs.srv); after != before-2 {
		t.Fatalf("sessions %d → %d, want the developer's two destroyed", before, after)
	}
	// ...so the very next request of each is anonymous, page or API.
	if signedIn(t, cs.dev) || signedIn(t, second) {
		t.Fatal("deactivated user's session still works")
	}
	res = cs.dev.Get("/templates")
	wantStatus(t, res, http.StatusSeeOther)
	if !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("deactivated user's page load went to %q", res.Header.Get("Location"))
	}
	// Their API token stops working at once too.
	if res := bearer.Get("/api/users/whoami", "Authorization: Bearer "+token); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("deactivated user's token = %d, want 401", res.StatusCode)
	}
	wantBody(t, cs.admin.Get("/users"), `<span class="badge off">deactivated</span>`)
	// Other users' sessions are untouched.
	if !signedIn(t, cs.admin) || !signedIn(t, cs.nobody) {
		t.Fatal("deactivating one user signed others out")
	}

	// Re-activating does not revive the old sessions; signing in works again.
	wantStatus(t, cs.admin.PostForm(path("/users/%d", cs.devID), editForm("dev@example.com", true, models.DeveloperRoleID)), http.StatusSeeOther)
	if signedIn(t, cs.dev) {
		t.Fatal("old session came back after re-activation")
	}
	if !signedIn(t, cs.srv.Login("dev@example.com", devPassword)) {
		t.Fatal("re-activated user cannot sign in")
	}
}

func TestDeactivatingThroughTheAPIEndsSessions(t *testing.T) {
	cs := startCast(t)
	res := cs.admin.JSONRequest(http.MethodPut, path("/api/users/%d", cs.devID), map[string]any{"active": false})
	wantStatus(t, res, http.StatusOK)
	var u api.User
	res.JSON(t, &u)
	if u.Active {
		t.Fatalf("after deactivation = %+v", u)
	}
	if signedIn(t, cs.dev) {
		t.Fatal("deactivated user's session still works")
	}
}

// A session whose user is switched off behind the handlers' back (here,
// straight in the database) is refused on its next request as well: the
// identify middleware checks the account on every request.
func TestSessionOfAUserDeactivatedElsewhereIsRefused(t *testing.T) {
	cs := startCast(t)
	if err := cs.srv.Server.DB().Model(&models.User{}).Where("id = ?", cs.devID).Update("active", false).Error; err != nil {
		t.Fatal(err)
	}
	if signedIn(t, cs.dev) {
		t.Fatal("session of a user deactivated in the database still works")
	}
}

func TestTheLastActiveAdminStays(t *testing.T) {
	cs := startCast(t)
	// An admin cannot switch themselves off.
	res := cs.admin.PostForm(path("/users/%d", adminID), editForm(knottest.AdminEmail, false, models.AdminRoleID), htmx)
	wantBody(t, res, "You cannot deactivate your own account; ask another administrator to do it.", `id="active-error"`)
	// The only admin cannot drop the Admin role.
	res = cs.admin.PostForm(path("/users/%d", adminID), editForm(knottest.AdminEmail, true, models.DeveloperRoleID))
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "admin is the last active Admin and must keep the Admin role; make another user an active Admin first.", `id="roles-error"`)
	wantAPIError(t, cs.admin.JSONRequest(http.MethodPut, path("/api/users/%d", adminID), map[string]any{"roles": []string{}}), http.StatusConflict, "admin is the last active Admin")

	// Someone holding every permission through a custom role, but not the
	// Admin role, still cannot deactivate the last Admin.
	res = cs.admin.JSONRequest(http.MethodPost, "/api/roles", map[string]any{"name": "Everything", "permissions": models.AllPermissions})
	wantStatus(t, res, http.StatusCreated)
	res = cs.admin.JSONRequest(http.MethodPost, "/api/users", map[string]any{"username": "ops", "email": "ops@example.com", "password": "ops-password", "roles": []string{"everything"}})
	wantStatus(t, res, http.StatusCreated)
	ops := cs.srv.Login("ops@example.com", "ops-password")
	res = ops.PostForm(path("/users/%d", adminID), editForm(knottest.AdminEmail, false, models.AdminRoleID))
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "admin is the last active Admin and cannot be deactivated; make another user an active Admin first.")
	if u := getUser(t, cs.admin, adminID); !u.Active || !slices.Equal(u.Roles, []string{"Admin"}) {
		t.Fatalf("last admin changed: %+v", u)
	}

	// With a second admin, the first may step down.
	wantStatus(t, cs.admin.JSONRequest(http.MethodPut, path("/api/users/%d", cs.devID), map[string]any{"roles": []string{"Admin"}}), http.StatusOK)
	wantStatus(t, cs.admin.JSONRequest(http.MethodPut, path("/api/users/%d", adminID), map[string]any{"roles": []string{"Developer"}}), http.StatusOK)
	// The remaining admin is now the last one.
	wantAPIError(t, cs.dev.JSONRequest(http.MethodPut, path("/api/users/%d", cs.devID), map[string]any{"roles": []string{}}), http.StatusConflict, "dev is the last active Admin")
}

// Two admins deactivating each other at the same moment must not leave
// the server without an active Admin: the check runs inside the write
// transaction.
func TestTwoAdminsCannotDeactivateEachOtherAtOnce(t *testing.T) {
	for round := range 3 {
		cs := startCast(t)
		wantStatus(t, cs.admin.JSONRequest(http.MethodPut, path("/api/users/%d", cs.devID), map[string]any{"roles": []string{"Admin"}}), http.StatusOK)
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i, pair := range [][2]any{{cs.admin, cs.devID}, {cs.dev, uint(adminID)}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, target := pair[0].(*knottest.Client), pair[1].(uint)
				codes[i] = c.JSONRequest(http.MethodPut, path("/api/users/%d", target), map[string]any{"active": false}).StatusCode
			}()
		}
		wg.Wait()
		var active int64
		cs.srv.Server.DB().Table("users u").Joins("JOIN user_roles ur ON ur.user_id = u.id").
			Where("ur.role_id = ? AND u.active = ?", models.AdminRoleID, true).Count(&active)
		if active != 1 {
			t.Fatalf("round %d: %d active admins left (statuses %v), want exactly 1", round, active, codes)
		}
		// The loser gets 409 or, if the winner's deactivation ended its
		// session first, 401.
		slices.Sort(codes)
		if codes[0] != http.StatusOK || (codes[1] != http.StatusConflict && codes[1] != http.StatusUnauthorized) {
			t.Fatalf("round %d: statuses %v, want one 200 and one 409/401", round, codes)
		}
	}
}

func TestSetANewPassword(t *testing.T) {
	cs := startCast(t)
	p := path("/users/%d/password", cs.devID)
	cases := []struct {
		name, password, confirm, field, msg string
	}{
		{"short", "short", "short", "password", "Use at least 8 characters."},
		{"empty", "", "", "password", "Use at least 8 characters."},
		{"too long", strings.Repeat("x", 73), strings.Repeat("x", 73), "password", "Use at most 72 bytes."},
		{"mismatch", "fresh-secret-1", "fresh-secret-2", "confirm", "The passwords do not match."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frag := cs.admin.PostForm(p, url.Values{"password": {tc.password}, "confirm": {tc.confirm}}, htmx)
			wantStatus(t, frag, http.StatusOK)
			wantBody(t, frag, `id="`+tc.field+`-error"`, tc.msg)
			if tc.password != "" {
				wantNoBody(t, frag, tc.password)
			}
			res := cs.admin.PostForm(p, url.Values{"password": {tc.password}, "confirm": {tc.confirm}})
			wantStatus(t, res, http.StatusUnprocessableEntity)
			wantBody(t, res, tc.msg, "<html")
		})
	}
	if !signedIn(t, cs.dev) {
		t.Fatal("refused password changes signed the user out")
	}
	frag := cs.admin.PostForm(p, url.Values{"password": {"brand-new-password"}, "confirm": {"brand-new-password"}}, htmx)
	wantStatus(t, frag, http.StatusOK)
	wantBody(t, frag, "Password for dev changed; their other sessions were signed out.")
	wantNoBody(t, frag, "brand-new-password")
	if signedIn(t, cs.dev) {
		t.Fatal("old session survived a password reset")
	}
	res := cs.srv.Client().PostForm("/login", url.Values{"email": {"dev@example.com"}, "password": {devPassword}})
	wantStatus(t, res, http.StatusUnauthorized)
	cs.srv.Login("dev@example.com", "brand-new-password")

	// Changing your own password keeps your own session.
	wantStatus(t, cs.admin.PostForm(path("/users/%d/password", adminID), url.Values{"password": {"admin-new-password"}, "confirm": {"admin-new-password"}}), http.StatusOK)
	if !signedIn(t, cs.admin) {
		t.Fatal("changing one's own password signed this browser out")
	}
	wantStatus(t, cs.admin.PostForm("/users/999/password", url.Values{"password": {"whatever12"}, "confirm": {"whatever12"}}), http.StatusNotFound)
}

// A user who may manage users but is not an Admin cannot use that to
// become one, or to take over an Admin's account.
func TestUserManagersCannotGrantWhatTheyLack(t *testing.T) {
	cs := startCast(t)
	wantStatus(t, cs.admin.JSONRequest(http.MethodPost, "/api/roles", map[string]any{"name": "Helpdesk", "permissions": []string{models.PermManageUsers}}), http.StatusCreated)
	wantStatus(t, cs.admin.JSONRequest(http.MethodPost, "/api/users", map[string]any{"username": "helper", "email": "helper@example.com", "password": "helper-password", "roles": []string{"Helpdesk"}}), http.StatusCreated)
	helper := cs.srv.Login("helper@example.com", "helper-password")
	var helperOut []api.User
	helper.Get("/api/users").JSON(t, &helperOut)
	var helperID uint
	for _, u := range helperOut {
		if u.Username == "helper" {
			helperID = u.ID
		}
	}

	// Giving oneself Admin is refused, through the page and the API.
	res := helper.PostForm(path("/users/%d", helperID), editForm("helper@example.com", true, models.AdminRoleID))
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, "You cannot give the role “Admin”: it grants manage_roles, manage_templates, use_api_tokens, view_leaf_nodes, manage_variables, which you do not hold.")
	wantAPIError(t, helper.JSONRequest(http.MethodPut, path("/api/users/%d", helperID), map[string]any{"roles": []string{"Admin"}}), http.StatusForbidden, "You cannot give the role “Admin”")
	// So is creating a user with a role holding more than the helper has.
	wantAPIError(t, helper.JSONRequest(http.MethodPost, "/api/users", map[string]any{"username": "eve", "email": "eve@example.com", "password": "eve-password", "roles": []string{"Developer"}}), http.StatusForbidden, "You cannot give the role “Developer”: it grants use_api_tokens")
	// Resetting an Admin's password (and signing in as them) is refused.
	res = helper.PostForm(path("/users/%d/password", adminID), url.Values{"password": {"taken-over!"}, "confirm": {"taken-over!"}}, htmx)
	wantBody(t, res, "You cannot change admin: they hold manage_roles, manage_templates, manage_variables, use_api_tokens, view_leaf_nodes, which you do not.")
	wantAPIError(t, helper.JSONRequest(http.MethodPut, path("/api/users/%d", adminID), map[string]any{"active": false}), http.StatusForbidden, "You cannot change admin")
	cs.srv.Login(knottest.AdminEmail, knottest.AdminPassword)

	// What the helper may do: users with no more than the helper holds.
	wantStatus(t, helper.JSONRequest(http.MethodPut, path("/api/users/%d", cs.nobodyID), map[string]any{"email": "nobody2@example.com", "roles": []string{"Helpdesk"}}), http.StatusOK)
	wantStatus(t, helper.JSONRequest(http.MethodPost, "/api/users", map[string]any{"username": "carol", "email": "carol@example.com", "password": "carol-password"}), http.StatusCreated)
}

func TestUsersAPIListsUsersWithoutSecrets(t *testing.T) {
	cs := startCast(t)
	res := cs.admin.Get("/api/users")
	wantStatus(t, res, http.StatusOK)
	wantNoBody(t, res, "$2a$", "password")
	var list []api.User
	res.JSON(t, &list)
	if len(list) != 3 || list[0].Username != "admin" || !slices.Equal(list[0].Roles, []string{"Admin"}) || list[2].Username != "nobody" || list[2].Roles == nil {
		t.Fatalf("users = %+v", list)
	}
	// dev signed in through /login, which records the time.
	if list[1].CreatedAt != "2026-11-02T09:00:00Z" || list[1].LastLoginAt == nil || *list[1].LastLoginAt != "2026-11-02T09:00:00Z" {
		t.Fatalf("times = %q %v", list[1].CreatedAt, list[1].LastLoginAt)
	}
}

// createZoe creates the user zoe, a Developer, through the API.
func createZoe(t *testing.T, cs *cast) api.User {
	t.Helper()
	res := cs.admin.JSONRequest(http.MethodPost, "/api/users", map[string]any{"username": "zoe", "email": "zoe@example.com", "password": "zoe-password", "roles": []string{"developer"}})
	wantStatus(t, res, http.StatusCreated)
	var zoe api.User
	res.JSON(t, &zoe)
	if zoe.ID == 0 || !zoe.Active || !slices.Equal(zoe.Roles, []string{"Developer"}) || zoe.LastLoginAt != nil {
		t.Fatalf("created = %+v", zoe)
	}
	wantBody(t, res, `"last_login_at":null`)
	return zoe
}

func TestUsersAPICreatesAndUpdatesAUser(t *testing.T) {
	cs := startCast(t)
	zoe := createZoe(t, cs)
	cs.srv.Login("zoe@example.com", "zoe-password")

	// A fetched user can be sent back unchanged.
	got := getUser(t, cs.admin, zoe.ID)
	wantStatus(t, cs.admin.JSONRequest(http.MethodPut, path("/api/users/%d", zoe.ID), got), http.StatusOK)

	// Password and email through PUT.
	res := cs.admin.JSONRequest(http.MethodPut, path("/api/users/%d", zoe.ID), map[string]any{"email": "zoe2@example.com", "password": "zoe-new-password"})
	wantStatus(t, res, http.StatusOK)
	cs.srv.Login("zoe2@example.com", "zoe-new-password")
}

func TestUsersAPIRefusesBadRequests(t *testing.T) {
	cs := startCast(t)
	zoe := createZoe(t, cs)
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		code   int
		msg    string
	}{
		{"no body", "POST", "/api/users", ``, 400, "The request body is empty"},
		{"wrong type", "POST", "/api/users", `{"username":["x"]}`, 400, `Field "username" must be a string, not array.`},
		{"roles not a list", "POST", "/api/users", `{"username":"yan","email":"y@example.com","password":"longenough","roles":"Admin"}`, 400, `Field "roles" must be a list of strings`},
		{"unknown field", "POST", "/api/users", `{"username":"yan","email":"y@example.com","password":"longenough","is_admin":true}`, 400, `Unknown field "is_admin".`},
		{"unknown role", "POST", "/api/users", `{"username":"yan","email":"y@example.com","password":"longenough","roles":["Root"]}`, 422, "roles: Unknown role “Root”."},
		{"missing everything", "POST", "/api/users", `{}`, 422, "email: Enter an email address.; password: Use at least 8 characters.; username: Use 2–64 letters"},
		{"taken username", "POST", "/api/users", `{"username":"Zoe","email":"y@example.com","password":"longenough"}`, 409, "The username “Zoe” is taken"},
		{"taken email", "POST", "/api/users", `{"username":"yan","email":"ZOE@example.com","password":"longenough"}`, 409, "Another user already has the email address"},
		{"rename", "PUT", path("/api/users/%d", zoe.ID), `{"username":"zoey"}`, 422, "username: Usernames cannot be changed."},
		{"bad email", "PUT", path("/api/users/%d", zoe.ID), `{"email":"zoe"}`, 422, "email: Enter a valid email address"},
		{"short password", "PUT", path("/api/users/%d", zoe.ID), `{"password":"x"}`, 422, "password: Use at least 8 characters."},
		{"active not bool", "PUT", path("/api/users/%d", zoe.ID), `{"active":"false"}`, 400, `Field "active" must be true or false, not string.`},
		{"no such user", "PUT", "/api/users/999", `{"active":false}`, 404, "nothing at this address"},
		{"no such user GET", "GET", "/api/users/999", ``, 404, "nothing at this address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantAPIError(t, cs.admin.JSONRequest(tc.method, tc.path, tc.body), tc.code, tc.msg)
		})
	}
}

func TestConcurrentCreatesOfOneUsernameLeaveExactlyOne(t *testing.T) {
	cs := startCast(t)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = cs.admin.JSONRequest(http.MethodPost, "/api/users", map[string]any{
				"username": "twin", "email": path("twin%d@example.com", i), "password": "twin-password",
			}).StatusCode
		}()
	}
	wg.Wait()
	slices.Sort(codes)
	if codes[0] != http.StatusCreated || codes[1] != http.StatusConflict || codes[7] != http.StatusConflict {
		t.Fatalf("concurrent creates = %v, want one 201 and the rest 409", codes)
	}
}

// An email with a NUL, another control character or bytes that are not
// UTF-8 is refused with a message beside the field, wherever it is typed;
// a good one is stored trimmed with its ASCII letters in lower case.
func TestEmailsAreCheckedAndStoredNormalisedEverywhere(t *testing.T) {
	cs := startCast(t)
	const controlMsg = "An email address cannot contain control characters"
	for name, email := range map[string]string{
		"a NUL":        "x\x00ZZZ@corp.example",
		"a line break": "eve@corp.example\nBcc: all@corp.example",
		"an escape":    "eve\x1b[2J@corp.example",
	} {
		t.Run(name, func(t *testing.T) {
			create := url.Values{"username": {"eve"}, "email": {email}, "password": {"longenough"}, "confirm": {"longenough"}, "active": {"true"}}
			res := cs.admin.PostForm("/users", create)
			wantStatus(t, res, http.StatusUnprocessableEntity)
			wantBody(t, res, `id="email-error"`, controlMsg)
			res = cs.admin.PostForm(path("/users/%d", cs.devID), editForm(email, true, models.DeveloperRoleID))
			wantStatus(t, res, http.StatusUnprocessableEntity)
			wantBody(t, res, `id="email-error"`, controlMsg)
			res = cs.admin.JSONRequest(http.MethodPost, "/api/users", map[string]any{"username": "eve", "email": email, "password": "longenough"})
			wantAPIError(t, res, http.StatusUnprocessableEntity, controlMsg)
			res = cs.admin.JSONRequest(http.MethodPut, path("/api/users/%d", cs.devID), map[string]any{"email": email})
			wantAPIError(t, res, http.StatusUnprocessableEntity, controlMsg)
		})
	}
	res := cs.admin.PostForm("/users", url.Values{"username": {"eve"}, "email": {"\xffeve@corp.example"}, "password": {"longenough"}, "confirm": {"longenough"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "An email address must be valid text (UTF-8)")
	res = cs.admin.JSONRequest(http.MethodPost, "/api/users", map[string]any{"username": "eve", "email": "Eve <eve@corp.example>", "password": "longenough"})
	wantAPIError(t, res, http.StatusUnprocessableEntity, "Enter just the address")

	// Stored normalised, by every way in; the user signs in as typed.
	res = cs.admin.JSONRequest(http.MethodPost, "/api/users", map[string]any{"username": "eve", "email": "  Eve@Corp.EXAMPLE ", "password": "longenough"})
	wantStatus(t, res, http.StatusCreated)
	var eve api.User
	res.JSON(t, &eve)
	if eve.Email != "eve@corp.example" {
		t.Fatalf("created with email %q, want eve@corp.example", eve.Email)
	}
	wantStatus(t, cs.admin.PostForm(path("/users/%d", cs.devID), editForm(" Dev.Two@Example.COM", true, models.DeveloperRoleID)), http.StatusSeeOther)
	if u := getUser(t, cs.admin, cs.devID); u.Email != "dev.two@example.com" {
		t.Fatalf("edited email = %q, want dev.two@example.com", u.Email)
	}
	wantStatus(t, cs.admin.PostForm("/users", url.Values{"username": {"frank"}, "email": {"FRANK@corp.example"}, "password": {"longenough"}, "confirm": {"longenough"}, "active": {"true"}}), http.StatusSeeOther)
	cs.srv.Login("Frank@Corp.Example", "longenough")
}

// The first admin's email is checked and stored like any other.
func TestSetupChecksAndNormalisesTheEmail(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	c := srv.Client()
	form := func(email string) url.Values {
		return url.Values{"setup_code": {srv.SetupCode()}, "username": {"root"}, "email": {email}, "password": {"longenough"}, "confirm": {"longenough"}}
	}
	res := c.PostForm("/initial-system-setup", form("root\x00@corp.example"))
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "An email address cannot contain control characters")
	wantStatus(t, c.PostForm("/initial-system-setup", form(" Root@Corp.Example ")), http.StatusSeeOther)
	var me api.User
	c.Get("/api/users/whoami").JSON(t, &me)
	if me.Email != "root@corp.example" {
		t.Fatalf("the first admin's email = %q, want root@corp.example", me.Email)
	}
}
