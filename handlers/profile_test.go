package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

// signInAs signs in a new client that calls itself ua (its User-Agent on
// every request), so that a sessions list can tell the browsers apart.
func signInAs(t *testing.T, srv *knottest.Instance, email, password, ua string) *knottest.Client {
	t.Helper()
	c := srv.Client()
	res := c.PostForm("/login", url.Values{"email": {email}, "password": {password}}, "User-Agent: "+ua)
	wantStatus(t, res, http.StatusSeeOther)
	return c
}

// sessionCookie is c's session cookie, to replay it from another client.
func sessionCookie(t *testing.T, srv *knottest.Instance, c *knottest.Client) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == srv.SessionCookie() {
			return ck
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// withCookie is a new client that sends only ck: someone who copied it.
func withCookie(srv *knottest.Instance, ck *http.Cookie) *knottest.Client {
	c := srv.Client()
	u, _ := url.Parse(srv.URL)
	c.HTTP.Jar.SetCookies(u, []*http.Cookie{ck})
	return c
}

func userSessionRows(t *testing.T, srv *knottest.Instance, userID uint) int64 {
	t.Helper()
	var n int64
	if err := srv.Server.DB().Table("user_sessions").Where("user_id = ?", userID).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTheProfileNeedsASignedInUserAndServesEveryoneTheirOwn(t *testing.T) {
	cs := startCast(t)
	res := cs.srv.Client().Get("/profile")
	wantStatus(t, res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/login?next=%2Fprofile" {
		t.Fatalf("anonymous /profile went to %q, want the sign-in page coming back here", loc)
	}
	for _, who := range []struct {
		name           string
		c              *knottest.Client
		username, mail string
	}{
		{"developer", cs.dev, "dev", "dev@example.com"},
		{"no role", cs.nobody, "nobody", "nobody@example.com"},
		{"admin", cs.admin, knottest.AdminUsername, knottest.AdminEmail},
	} {
		t.Run(who.name, func(t *testing.T) {
			res := who.c.Get("/profile")
			wantStatus(t, res, http.StatusOK)
			wantBody(t, res, `<a href="/profile" aria-current="page"><span class="icon icon-user" aria-hidden="true"></span>Profile</a>`, "<dd>"+who.username+"</dd>", "<dd>"+who.mail+"</dd>",
				`name="current"`, "this session", "No other browser is signed in as you.")
			// Nobody sees another user's sessions.
			for _, other := range []string{"dev@example.com", "nobody@example.com", knottest.AdminEmail} {
				if other != who.mail {
					wantNoBody(t, res, other)
				}
			}
		})
	}
	if !strings.Contains(cs.nobody.Get("/templates").Body, `href="/profile"`) {
		t.Fatal("the menu of a user without roles lacks Profile")
	}
}

func TestChangingYourPasswordNeedsTheCurrentOneAndSignsOutOnlyYourOtherBrowsers(t *testing.T) {
	cs := startCast(t)
	other := cs.srv.Login("dev@example.com", devPassword)
	stolen := sessionCookie(t, cs.srv, cs.dev)
	const fresh = "a-fresh-passphrase"

	cases := []struct {
		name, current, password, confirm, field, msg string
	}{
		{"wrong current password", "not-my-password", fresh, fresh, "current", "That is not your current password."},
		{"no current password", "", fresh, fresh, "current", "Enter your current password."},
		{"short new password", devPassword, "short", "short", "password", "Use at least 8 characters."},
		{"mismatch", devPassword, fresh, fresh + "x", "confirm", "The passwords do not match."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"current": {tc.current}, "password": {tc.password}, "confirm": {tc.confirm}}
			wantPasswordChangeRefused(t, cs.dev, form, tc.field, tc.msg)
		})
	}
	if !signedIn(t, cs.dev) || !signedIn(t, other) {
		t.Fatal("a refused password change signed a browser out")
	}
	if logs := cs.srv.Logs.String(); strings.Contains(logs, "not-my-password") || strings.Contains(logs, fresh) {
		t.Fatal("a typed password reached the log")
	}

	res := cs.dev.PostForm("/profile/password", url.Values{"current": {devPassword}, "password": {fresh}, "confirm": {fresh}})
	wantStatus(t, res, http.StatusSeeOther)
	if res.Header.Get("Location") != "/profile" {
		t.Fatalf("after the change: %q, want /profile", res.Header.Get("Location"))
	}
	if signedIn(t, other) {
		t.Fatal("the other browser is still signed in after the password change")
	}
	if !signedIn(t, cs.dev) {
		t.Fatal("the browser that changed the password was signed out")
	}
	// This browser's token was renewed: a copy of the old cookie is dead.
	if signedIn(t, withCookie(cs.srv, stolen)) {
		t.Fatal("the session's old token still works after the password change")
	}
	wantBody(t, cs.dev.Get("/profile"), "Your password was changed, and you were signed out everywhere else.")
	wantStatus(t, cs.srv.Client().PostForm("/login", url.Values{"email": {"dev@example.com"}, "password": {devPassword}}), http.StatusUnauthorized)
	cs.srv.Login("dev@example.com", fresh)
	// Other users were not touched.
	if !signedIn(t, cs.admin) || !signedIn(t, cs.nobody) {
		t.Fatal("one user's password change signed another out")
	}
}

// wantPasswordChangeRefused posts form to change c's password, without
// JavaScript and with htmx, and wants it refused with msg beside field and
// none of the typed passwords sent back.
func wantPasswordChangeRefused(t *testing.T, c *knottest.Client, form url.Values, field, msg string) {
	t.Helper()
	res := c.PostForm("/profile/password", form)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantBody(t, res, "<html", `id="`+field+`-error"`, htmlEscape(msg), `aria-describedby="`+field+`-error"`)
	frag := c.PostForm("/profile/password", form, htmx)
	wantStatus(t, frag, http.StatusOK)
	if !isFragment(frag) {
		t.Fatal("htmx got a whole page, not the form")
	}
	wantBody(t, frag, `id="`+field+`-error"`, htmlEscape(msg))
	// What was typed into a password field never comes back.
	for _, key := range []string{"current", "password", "confirm"} {
		if typed := form.Get(key); typed != "" {
			wantNoBody(t, res, typed)
			wantNoBody(t, frag, typed)
		}
	}
}

func TestTheSessionsListShowsEachBrowserAndSignsOutEveryOtherOne(t *testing.T) {
	cs := startCast(t)
	here := signInAs(t, cs.srv, "dev@example.com", devPassword, "Firefox on the desk")
	cs.srv.Clock.Advance(time.Minute)
	there := signInAs(t, cs.srv, "dev@example.com", devPassword, "Safari on the phone")

	page := here.Get("/profile")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Firefox on the desk", "Safari on the phone", "127.0.0.1")
	if n := strings.Count(page.Body, "this session"); n != 1 {
		t.Fatalf(`"this session" appears %d times, want once`, n)
	}
	// Newest first, and "this session" is the Firefox row.
	safari, firefox := strings.Index(page.Body, "Safari on the phone"), strings.Index(page.Body, "Firefox on the desk")
	mark := strings.Index(page.Body, "this session")
	if safari > firefox || mark < safari || mark > firefox {
		t.Fatal("the list is not newest first with this session marked on its own row")
	}

	res := here.PostForm("/profile/sessions/sign-out-others", nil)
	wantStatus(t, res, http.StatusSeeOther)
	if signedIn(t, there) || signedIn(t, cs.dev) {
		t.Fatal("another browser of the same user is still signed in")
	}
	if !signedIn(t, here) {
		t.Fatal("signing out everywhere else signed this browser out")
	}
	page = here.Get("/profile")
	wantBody(t, page, "You were signed out everywhere else.", "Firefox on the desk", "No other browser is signed in as you.")
	wantNoBody(t, page, "Safari on the phone")
	if !signedIn(t, cs.admin) || !signedIn(t, cs.nobody) {
		t.Fatal("signing out everywhere else reached other users")
	}

	// With htmx the card is swapped in place.
	again := signInAs(t, cs.srv, "dev@example.com", devPassword, "Chromium on the laptop")
	frag := here.PostForm("/profile/sessions/sign-out-others", nil, htmx)
	wantStatus(t, frag, http.StatusOK)
	if !isFragment(frag) {
		t.Fatal("htmx got a whole page, not the sessions card")
	}
	wantBody(t, frag, `id="sessions"`, "You were signed out everywhere else.")
	wantNoBody(t, frag, "Chromium on the laptop")
	if signedIn(t, again) {
		t.Fatal("the third browser survived signing out everywhere else")
	}
}

func TestASignInBeyondTheCapSignsOutTheOldestSession(t *testing.T) {
	cfg := knottest.Config(t)
	cfg.Server.MaxSessionsPerUser = 3
	srv := knottest.Start(t, cfg)
	srv.SetupAdmin()
	devID := srv.CreateUser("dev", "dev@example.com", devPassword, models.DeveloperRoleID)
	var browsers []*knottest.Client
	for _, ua := range []string{"first", "second", "third"} {
		browsers = append(browsers, signInAs(t, srv, "dev@example.com", devPassword, ua+" browser"))
		srv.Clock.Advance(time.Minute)
	}
	for i, b := range browsers {
		if !signedIn(t, b) {
			t.Fatalf("browser %d of 3 is signed out with a cap of 3", i+1)
		}
	}

	fourth := srv.Client()
	res := fourth.PostForm("/login", url.Values{"email": {"dev@example.com"}, "password": {devPassword}}, "User-Agent: fourth browser")
	wantStatus(t, res, http.StatusSeeOther)
	if signedIn(t, browsers[0]) {
		t.Fatal("the oldest session survived a sign-in beyond the cap")
	}
	if !signedIn(t, browsers[1]) || !signedIn(t, browsers[2]) || !signedIn(t, fourth) {
		t.Fatal("the cap signed out more than the oldest session")
	}
	if n := userSessionRows(t, srv, devID); n != 3 {
		t.Fatalf("%d sessions recorded, want 3", n)
	}
	// The page the sign-in lands on says so once; the profile keeps saying it.
	const said = "Signing in here signed out your oldest session (signed in 2026-11-02 09:00 UTC from 127.0.0.1)"
	wantBody(t, fourth.Get(res.Header.Get("Location")), said)
	page := fourth.Get("/profile")
	wantBody(t, page, said, "at most 3 sessions may be signed in at once")
	wantNoBody(t, page, "first browser")
	if strings.Count(page.Body, said) != 1 {
		t.Fatal("the profile repeats the message")
	}
	if !strings.Contains(srv.Logs.String(), "signed out the oldest sessions") {
		t.Fatal("the cap's sign-out is not logged")
	}
	// The browsers signed in within the cap hear nothing of it.
	wantNoBody(t, browsers[1].Get("/profile"), "signed out your oldest")
}

func TestSigningOutRemovesTheSessionsRecord(t *testing.T) {
	cs := startCast(t)
	second := cs.srv.Login("dev@example.com", devPassword)
	if n := userSessionRows(t, cs.srv, cs.devID); n != 2 {
		t.Fatalf("%d sessions recorded for two browsers", n)
	}
	wantStatus(t, second.PostForm("/logout", nil), http.StatusSeeOther)
	if n := userSessionRows(t, cs.srv, cs.devID); n != 1 {
		t.Fatalf("after signing out one browser %d sessions are recorded, want 1", n)
	}
	if signedIn(t, second) || !signedIn(t, cs.dev) {
		t.Fatal("signing out one browser did not end exactly that one")
	}
}

// A session whose record is gone (ended by another server of a cluster, or
// straight in the database) is refused on its very next request, and its
// browser goes to sign in.
func TestASessionWhoseRecordIsGoneIsRefusedOnItsNextRequest(t *testing.T) {
	cs := startCast(t)
	if err := cs.srv.Server.DB().Exec(`DELETE FROM user_sessions WHERE user_id = ?`, cs.devID).Error; err != nil {
		t.Fatal(err)
	}
	res := cs.dev.Get("/templates")
	wantStatus(t, res, http.StatusSeeOther)
	if !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("an ended session's page went to %q", res.Header.Get("Location"))
	}
	if signedIn(t, cs.dev) || !signedIn(t, cs.nobody) {
		t.Fatal("ending one user's sessions did not end exactly theirs")
	}
}

// The record's last use moves with the session's own: at most once a
// minute, and not for a page's own polling.
func TestASessionsLastUseIsRecordedAtMostOncePerMinute(t *testing.T) {
	cs := startCast(t)
	lastSeen := func() time.Time {
		var row struct{ LastSeenAt time.Time }
		if err := cs.srv.Server.DB().Table("user_sessions").Select("last_seen_at").Where("user_id = ?", cs.devID).Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		return row.LastSeenAt.UTC()
	}
	start := lastSeen()
	cs.srv.Clock.Advance(30 * time.Second)
	signedIn(t, cs.dev)
	if got := lastSeen(); !got.Equal(start) {
		t.Fatalf("last use written again within the minute: %v → %v", start, got)
	}
	cs.srv.Clock.Advance(time.Minute)
	cs.dev.Get("/api/users/whoami", "Knot-Background: 1")
	if got := lastSeen(); !got.Equal(start) {
		t.Fatalf("a background poll counted as a use: %v → %v", start, got)
	}
	signedIn(t, cs.dev)
	if got := lastSeen(); !got.Equal(cs.srv.Clock.Now()) {
		t.Fatalf("last use after a minute and a half = %v, want %v", got, cs.srv.Clock.Now())
	}
}
