package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

func TestEmptyDatabaseSendsEveryPageToSetup(t *testing.T) {
	c := knottest.Start(t, knottest.Config(t)).Client()
	for _, path := range []string{"/", "/login", "/templates", "/api-tokens", "/users"} {
		res := c.Get(path)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/initial-system-setup" {
			t.Errorf("GET %s = %d Location %q, want 303 to /initial-system-setup", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	res := c.Get("/initial-system-setup")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "Create administrator") {
		t.Fatalf("setup page = %d %q", res.StatusCode, res.Body)
	}
}

func TestSetupValidatesAndKeepsWhatWasTyped(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	c := srv.Client()
	cases := []struct {
		name string
		form url.Values
		want string
	}{
		{"bad username", url.Values{"username": {"1abc"}, "email": {"a@b.c"}, "password": {"longenough"}, "confirm": {"longenough"}}, "Use 2–64 letters"},
		{"empty email", url.Values{"username": {"alice"}, "email": {""}, "password": {"longenough"}, "confirm": {"longenough"}}, "Enter an email address."},
		{"bad email", url.Values{"username": {"alice"}, "email": {"not-an-email"}, "password": {"longenough"}, "confirm": {"longenough"}}, "Enter a valid email address"},
		{"short password", url.Values{"username": {"alice"}, "email": {"a@b.c"}, "password": {"short"}, "confirm": {"short"}}, "Use at least 8 characters."},
		{"mismatch", url.Values{"username": {"alice"}, "email": {"a@b.c"}, "password": {"longenough"}, "confirm": {"different1"}}, "The passwords do not match."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := c.PostForm("/initial-system-setup", tc.form)
			if res.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", res.StatusCode)
			}
			if !strings.Contains(res.Body, tc.want) {
				t.Fatalf("body lacks %q", tc.want)
			}
			if u := tc.form.Get("username"); !strings.Contains(res.Body, `value="`+u+`"`) {
				t.Fatalf("typed username %q not kept", u)
			}
		})
	}
	// HTML in a field is escaped, not rendered.
	res := c.PostForm("/initial-system-setup", url.Values{"username": {`<script>x</script>`}, "email": {"a@b.c"}, "password": {"longenough"}, "confirm": {"longenough"}})
	if strings.Contains(res.Body, "<script>x</script>") {
		t.Fatal("username rendered unescaped")
	}
}

func TestSetupWorksOnceEvenUnderARace(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	// Five: as many setup code guesses as one address gets at once, so
	// every request reaches the race instead of the rate limit.
	const n = 5
	setupCode := srv.SetupCode()
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := srv.Client()
			name := "admin" + string(rune('a'+i))
			res := c.PostForm("/initial-system-setup", url.Values{
				"setup_code": {setupCode},
				"username":   {name}, "email": {name + "@example.com"},
				"password": {"longenough"}, "confirm": {"longenough"},
			})
			codes[i] = res.StatusCode
		}()
	}
	wg.Wait()
	wantOneWinner(t, codes, http.StatusSeeOther, http.StatusNotFound)
	var users int64
	srv.Server.DB().Model(&models.User{}).Count(&users)
	if users != 1 {
		t.Fatalf("%d users exist, want 1", users)
	}
	// Afterwards the page is gone for good, for GET and POST.
	c := srv.Client()
	if res := c.Get("/initial-system-setup"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET setup after setup = %d, want 404", res.StatusCode)
	}
	res := c.PostForm("/initial-system-setup", url.Values{"setup_code": {setupCode}, "username": {"late"}, "email": {"late@example.com"}, "password": {"longenough"}, "confirm": {"longenough"}})
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("POST setup after setup = %d, want 404", res.StatusCode)
	}
}

func TestSetupSignsInTheFirstAdmin(t *testing.T) {
	_, c := startAdmin(t)
	var me struct {
		Username    string   `json:"username"`
		Email       string   `json:"email"`
		Roles       []string `json:"roles"`
		Permissions []string `json:"permissions"`
	}
	res := c.Get("/api/users/whoami")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("whoami = %d %s", res.StatusCode, res.Body)
	}
	res.JSON(t, &me)
	if me.Username != knottest.AdminUsername || me.Email != knottest.AdminEmail || len(me.Roles) != 1 || me.Roles[0] != "Admin" {
		t.Fatalf("whoami = %+v", me)
	}
	if len(me.Permissions) != len(models.AllPermissions) {
		t.Fatalf("admin permissions = %v, want all of %v", me.Permissions, models.AllPermissions)
	}
	if strings.Contains(res.Body, "password") || strings.Contains(res.Body, "$2a$") {
		t.Fatalf("whoami leaks a secret: %s", res.Body)
	}
}

func TestSignInAndSignOut(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	c := srv.Client()

	if res := c.Get("/templates"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("signed-out GET /templates = %d %q, want redirect to /login", res.StatusCode, res.Header.Get("Location"))
	}
	res := c.PostForm("/login", url.Values{"email": {strings.ToUpper(knottest.AdminEmail)}, "password": {knottest.AdminPassword}, "next": {"/api-tokens"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/api-tokens" {
		t.Fatalf("sign in = %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	cookie := res.Header.Get("Set-Cookie")
	for _, attr := range []string{srv.SessionCookie() + "=", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("cookie is Secure on a plain-HTTP server: %q", cookie)
	}
	page := c.Get("/templates")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, knottest.AdminUsername) || !strings.Contains(page.Body, `href="/api-tokens"`) {
		t.Fatalf("templates page after sign-in = %d", page.StatusCode)
	}
	if res := c.PostForm("/logout", nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("sign out = %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := c.Get("/api/users/whoami"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("whoami after sign-out = %d", res.StatusCode)
	}
}

func TestSignInRenewsTheSessionToken(t *testing.T) {
	srv, _ := startWithDev(t)
	u, _ := url.Parse(srv.URL)
	sessionToken := func(c *knottest.Client) string {
		for _, ck := range c.HTTP.Jar.Cookies(u) {
			if ck.Name == srv.SessionCookie() {
				return ck.Value
			}
		}
		return ""
	}
	// Signing in again on a browser that already has a session (no sign-out
	// in between) must still hand out a new token: a token planted or seen
	// before sign-in is worth nothing after it.
	c := srv.Login(knottest.AdminEmail, knottest.AdminPassword)
	before := sessionToken(c)
	if res := c.PostForm("/login", url.Values{"email": {"dev@example.com"}, "password": {devPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("second sign-in = %d", res.StatusCode)
	}
	after := sessionToken(c)
	if before == "" || after == "" || before == after {
		t.Fatalf("session token not renewed at sign-in: before %q after %q", before, after)
	}
	old := srv.Client()
	old.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: srv.SessionCookie(), Value: before}})
	if res := old.Get("/api/users/whoami"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the token from before sign-in still works: %d", res.StatusCode)
	}
}

func TestWrongCredentialsGetOneGenericMessage(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	c := srv.Client()
	wrongPw := c.PostForm("/login", url.Values{"email": {knottest.AdminEmail}, "password": {"wrong password"}})
	noUser := c.PostForm("/login", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password"}})
	empty := c.PostForm("/login", url.Values{})
	for _, res := range []*knottest.Response{wrongPw, noUser, empty} {
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Body, "The email or password is incorrect.") {
			t.Fatalf("bad sign-in = %d, body lacks the generic message", res.StatusCode)
		}
		if res.Header.Get("Set-Cookie") != "" && strings.Contains(res.Header.Get("Set-Cookie"), srv.SessionCookie()+"=") {
			t.Fatal("failed sign-in set a session cookie")
		}
	}
	if !strings.Contains(noUser.Body, `value="nobody@example.com"`) {
		t.Fatal("typed email not kept")
	}
}

func TestInactiveUserCannotSignIn(t *testing.T) {
	srv, id := startWithDev(t)
	c := srv.Login("dev@example.com", devPassword)
	if err := srv.Server.DB().Model(&models.User{}).Where("id = ?", id).Update("active", false).Error; err != nil {
		t.Fatal(err)
	}
	// The existing session stops working at once...
	if res := c.Get("/api/users/whoami"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("deactivated user's session: whoami = %d, want 401", res.StatusCode)
	}
	// ...and a new sign-in is refused, also with the right password.
	res := srv.Client().PostForm("/login", url.Values{"email": {"dev@example.com"}, "password": {devPassword}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "This account is disabled") {
		t.Fatalf("inactive sign-in = %d", res.StatusCode)
	}
	// A wrong password for an inactive account says nothing about its state.
	res = srv.Client().PostForm("/login", url.Values{"email": {"dev@example.com"}, "password": {"wrongwrong"}})
	if res.StatusCode != http.StatusUnauthorized || strings.Contains(res.Body, "disabled") {
		t.Fatalf("inactive + wrong password = %d", res.StatusCode)
	}
}

func TestSignInRateLimits(t *testing.T) {
	cfg := knottest.Config(t)
	cfg.Server.AuthIPRateLimiting = true
	srv := knottest.Start(t, cfg)
	srv.SetupAdmin()
	c := srv.Client()
	const wrong = "n0t-the-Passw0rd"

	// Per email and address: five attempts, then 429 with Retry-After, also
	// for the right password.
	for i := range 5 {
		if res := c.PostForm("/login", url.Values{"email": {knottest.AdminEmail}, "password": {wrong}}); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d = %d, want 401", i+1, res.StatusCode)
		}
	}
	res := c.PostForm("/login", url.Values{"email": {knottest.AdminEmail}, "password": {knottest.AdminPassword}})
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("sixth attempt = %d, want 429", res.StatusCode)
	}
	if res.Header.Get("Retry-After") == "" || !strings.Contains(res.Body, "Too many sign-in attempts. Try again in") {
		t.Fatalf("429 lacks Retry-After or message: %q", res.Header.Get("Retry-After"))
	}
	// Whoever made those attempts cannot lock the owner out: from another
	// address the owner signs in at once.
	if res := srv.ClientFrom("127.0.0.2").PostForm("/login", url.Values{"email": {knottest.AdminEmail}, "password": {knottest.AdminPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the owner from another address = %d, want 303: one address's failures locked the account", res.StatusCode)
	}
	// After the wait the first address gets back in.
	srv.Clock.Advance(31e9)
	if res := c.PostForm("/login", url.Values{"email": {knottest.AdminEmail}, "password": {knottest.AdminPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after waiting = %d, want 303", res.StatusCode)
	}

	// Every refusal and every throttled attempt is in the log with the
	// email, the address and why — never the password.
	logs := srv.Logs.String()
	for _, want := range []string{
		`msg="sign-in refused" via=web email=admin@example.com client=127.0.0.1 reason=bad_credentials`,
		`msg="sign-in throttled" via=web email=admin@example.com client=127.0.0.1`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, wrong) || strings.Contains(logs, knottest.AdminPassword) {
		t.Fatal("a password is in the log")
	}

	// Per IP: spraying many emails from one address runs out too.
	if !sprayIsLimited(c, wrong) {
		t.Fatal("30 attempts from one IP with different emails were never limited")
	}
}

// sprayIsLimited tries password with 30 emails from c's address, and
// reports whether that address was throttled.
func sprayIsLimited(c *knottest.Client, password string) bool {
	for i := range 30 {
		email := "spray" + string(rune('a'+i)) + "@example.com"
		if res := c.PostForm("/login", url.Values{"email": {email}, "password": {password}}); res.StatusCode == http.StatusTooManyRequests {
			return true
		}
	}
	return false
}

// An address that is not an email is simply wrong credentials: it reaches
// no account (not even one whose stored address shares its start up to a
// NUL) and costs the same bcrypt work as a wrong password.
func TestSignInWithAMalformedEmailReachesNoAccount(t *testing.T) {
	cfg := knottest.Config(t)
	cfg.Server.AuthIPRateLimiting = true // the limits must not trip over such an address either
	srv := knottest.Start(t, cfg)
	srv.SetupAdmin()
	if !knottest.OnPostgres() {
		// A row from before emails were checked; PostgreSQL never stored a NUL.
		srv.CreateUser("neighbour", "x\x00AAA@corp.example", "neighbours-password")
	}
	c := srv.Client()
	for _, email := range []string{"x\x00ZZZ@corp.example", "x\x00AAA@corp.example", "\xffx@corp.example", "Admin <admin@example.com>", "admin@example.com\r\n"} {
		res := c.PostForm("/login", url.Values{"email": {email}, "password": {"neighbours-password"}})
		wantStatus(t, res, http.StatusUnauthorized)
		wantBody(t, res, "The email or password is incorrect.")
	}
	// The address as people type it — spaces, capitals — is found.
	if res := c.PostForm("/login", url.Values{"email": {"  Admin@Example.COM "}, "password": {knottest.AdminPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in with the email in capitals = %d, want 303", res.StatusCode)
	}
}

func TestCrossSitePostIsRefused(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	c := srv.Client()
	form := url.Values{"email": {knottest.AdminEmail}, "password": {knottest.AdminPassword}}
	res := c.PostForm("/login", form, "Sec-Fetch-Site: cross-site")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST = %d, want 403", res.StatusCode)
	}
	res = c.PostForm("/login", form, "Origin: https://evil.example")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with foreign Origin = %d, want 403", res.StatusCode)
	}
	res = c.PostForm("/login", form, "Sec-Fetch-Site: same-origin")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin POST = %d, want 303", res.StatusCode)
	}
}

func TestAPIErrorsAreJSON(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	c := srv.Client()
	var ping struct {
		Status  bool   `json:"status"`
		Version string `json:"version"`
	}
	c.Get("/api/ping").JSON(t, &ping)
	if !ping.Status || ping.Version == "" {
		t.Fatalf("ping = %+v", ping)
	}
	for _, path := range []string{"/api/users/whoami", "/api/no-such-route"} {
		res := c.Get(path)
		var body struct {
			Error string `json:"error"`
		}
		res.JSON(t, &body)
		if body.Error == "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("GET %s = %d %q, want a JSON error", path, res.StatusCode, res.Body)
		}
	}
	if res := c.Get("/api/users/whoami"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated whoami = %d, want 401", res.StatusCode)
	}
	if res := c.Get("/api/no-such-route"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown API route = %d, want 404", res.StatusCode)
	}
}

func TestNextRedirectStaysOnSite(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	for _, next := range []string{"//evil.example/", "https://evil.example/", `/\evil.example`, "javascript:alert(1)", "/\t/evil.example", "/\n/evil.example", "/%09/x\x7f", ""} {
		c := srv.Client()
		res := c.PostForm("/login", url.Values{"email": {knottest.AdminEmail}, "password": {knottest.AdminPassword}, "next": {next}})
		if loc := res.Header.Get("Location"); loc != "/templates" {
			t.Errorf("next=%q redirected to %q, want /templates", next, loc)
		}
	}
}

func TestMenuFollowsPermissions(t *testing.T) {
	srv, admin := startAdmin(t)
	srv.CreateUser("dev", "dev@example.com", devPassword, models.DeveloperRoleID)
	srv.CreateUser("norole", "norole@example.com", "norolepass")
	dev := srv.Login("dev@example.com", devPassword)
	none := srv.Login("norole@example.com", "norolepass")

	adminPage := admin.Get("/templates").Body
	for _, item := range []string{"/templates", "/api-tokens", "/users", "/roles", "/leaf-nodes"} {
		if !strings.Contains(adminPage, `href="`+item+`"`) {
			t.Errorf("admin menu lacks %s", item)
		}
	}
	devPage := dev.Get("/templates").Body
	if !strings.Contains(devPage, `href="/api-tokens"`) || strings.Contains(devPage, `href="/users"`) {
		t.Error("developer menu should have API Tokens and no Users")
	}
	nonePage := none.Get("/templates").Body
	if strings.Contains(nonePage, `href="/api-tokens"`) {
		t.Error("a user without use_api_tokens sees API Tokens")
	}
	res := none.Get("/api-tokens")
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "Ask your site administrator") {
		t.Fatalf("GET /api-tokens without permission = %d", res.StatusCode)
	}
}

func TestSessionsEndAfterTheIdleTimeout(t *testing.T) {
	clock := knottest.NewClock()
	cfg := knottest.Config(t)
	cfg.Server.SessionIdleTimeout = config.Duration(2 * time.Hour)
	srv := knottest.Start(t, cfg, knottest.WithClock(clock))
	c := srv.SetupAdmin()
	// Each use within the timeout keeps the session alive, however long
	// the session lives in all.
	for range 5 {
		clock.Advance(2*time.Hour - time.Minute)
		if res := c.Get("/api/users/whoami"); res.StatusCode != http.StatusOK {
			t.Fatalf("session used every 1h59m = %d", res.StatusCode)
		}
	}
	// Idle for longer than the timeout: signed out, and the page says so by
	// sending the browser to sign in.
	clock.Advance(2*time.Hour + time.Second)
	if res := c.Get("/api/users/whoami"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("idle session = %d, want 401", res.StatusCode)
	}
	if res := c.Get("/templates"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("idle session page = %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestSessionActivityIsWrittenAtMostOncePerMinute(t *testing.T) {
	clock := knottest.NewClock()
	srv := knottest.Start(t, knottest.Config(t), knottest.WithClock(clock))
	c := srv.SetupAdmin()
	var before []byte
	srv.Server.DB().Raw("SELECT data FROM sessions").Row().Scan(&before)
	for range 20 {
		if res := c.Get("/api/users/whoami"); res.StatusCode != http.StatusOK {
			t.Fatalf("whoami = %d", res.StatusCode)
		}
		if res := c.Get("/api/users/whoami"); res.Header.Get("Set-Cookie") != "" {
			t.Fatal("an unchanged session was saved again (Set-Cookie on a plain read)")
		}
	}
	var after []byte
	srv.Server.DB().Raw("SELECT data FROM sessions").Row().Scan(&after)
	if string(before) != string(after) {
		t.Fatal("the session row was rewritten within the same minute")
	}
	clock.Advance(time.Minute)
	if res := c.Get("/api/users/whoami"); res.Header.Get("Set-Cookie") == "" {
		t.Fatal("a minute later the session's last use was not recorded")
	}
}

// Sign-in and setup refuse an oversized body as every other form does: 413
// with the message that says to shorten it, not a baffling "incorrect
// password" or "enter an email".
func TestOversizedSignInAndSetupFormsGet413LikeEveryOtherForm(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	c := srv.Client()
	huge := strings.Repeat("x", 70<<10)
	res := c.PostForm("/initial-system-setup", url.Values{"username": {"alice"}, "email": {"a@example.com"}, "password": {huge}, "confirm": {huge}})
	wantStatus(t, res, http.StatusRequestEntityTooLarge)
	wantBody(t, res, "The form is larger than 64 KiB; shorten what you entered.")

	srv.SetupAdmin()
	res = c.PostForm("/login", url.Values{"email": {knottest.AdminEmail}, "password": {huge}})
	wantStatus(t, res, http.StatusRequestEntityTooLarge)
	wantBody(t, res, "The form is larger than 64 KiB; shorten what you entered.")
	// The same page as the Users form gives for the same body.
	users := srv.Login(knottest.AdminEmail, knottest.AdminPassword).PostForm("/users", url.Values{"username": {"bob"}, "password": {huge}})
	wantStatus(t, users, http.StatusRequestEntityTooLarge)
}
