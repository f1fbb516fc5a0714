package handlers_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

const badToken = `{"error":"Authentication token is not valid"}`

func bearer(token string) string { return "Authorization: Bearer " + token }

// whoamiWith calls /api/users/whoami with only the token: a fresh client,
// no cookies.
func whoamiWith(srv *knottest.Instance, token string) *knottest.Response {
	return srv.Client().Get("/api/users/whoami", bearer(token))
}

func listTokens(t *testing.T, c *knottest.Client, headers ...string) []api.Token {
	t.Helper()
	res := c.Get("/api/tokens", headers...)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/tokens = %d %s", res.StatusCode, res.Body)
	}
	var out []api.Token
	res.JSON(t, &out)
	return out
}

var tokenFormat = regexp.MustCompile(`^[A-Za-z0-9_-]{43}=$`)

func TestTokenAPICreateListDelete(t *testing.T) {
	srv, admin := startAdmin(t)
	if res := admin.Get("/api/tokens"); res.StatusCode != http.StatusOK || strings.TrimSpace(res.Body) != "[]" {
		t.Fatalf("empty list = %d %q, want 200 []", res.StatusCode, res.Body)
	}
	tok := createTokenThroughTheAPI(t, admin, srv.Clock.Now())
	wantTheListWithoutTheToken(t, admin, tok)

	// Newest first.
	_, second := admin.CreateAPIToken("second")
	got := listTokens(t, admin)
	if len(got) != 2 || got[0].Name != "second" || got[1].Name != "Leaf Test" {
		t.Fatalf("list order = %+v", got)
	}
	if second == tok.Token {
		t.Fatal("two tokens are equal")
	}

	deleteTokenThroughTheAPI(t, srv, admin, tok)
	if got := listTokens(t, admin); len(got) != 1 || got[0].Name != "second" {
		t.Fatalf("after delete list = %+v", got)
	}
}

// createTokenThroughTheAPI makes "Leaf Test" at the given time and checks
// the answer: exactly the documented keys, kept out of caches, a token of
// 32 random bytes that expires 14 days on.
func createTokenThroughTheAPI(t *testing.T, admin *knottest.Client, created time.Time) api.Token {
	t.Helper()
	res := admin.JSONRequest(http.MethodPost, "/api/tokens", map[string]string{"name": "  Leaf Test  "})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create = %d %s", res.StatusCode, res.Body)
	}
	var raw map[string]any
	res.JSON(t, &raw)
	keys := slices.Sorted(maps.Keys(raw))
	if want := []string{"created_at", "expires_at", "id", "last_used_at", "name", "prefix", "token"}; !slices.Equal(keys, want) {
		t.Fatalf("create answer keys = %v, want %v", keys, want)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("create answer Cache-Control = %q, want no-store", res.Header.Get("Cache-Control"))
	}
	var tok api.Token
	res.JSON(t, &tok)
	if !tokenFormat.MatchString(tok.Token) {
		t.Fatalf("token %q is not 44 characters of URL-safe base64 with padding", tok.Token)
	}
	if b, err := base64.URLEncoding.DecodeString(tok.Token); err != nil || len(b) != 32 {
		t.Fatalf("token decodes to %d bytes (%v), want 32", len(b), err)
	}
	if tok.Name != "Leaf Test" || tok.Prefix != tok.Token[:8] || tok.LastUsedAt != nil {
		t.Fatalf("created = %+v", tok)
	}
	if tok.CreatedAt != created.Format(time.RFC3339) || tok.ExpiresAt != created.Add(14*24*time.Hour).Format(time.RFC3339) {
		t.Fatalf("created_at %q expires_at %q; want %q and 14 days later, RFC 3339 UTC", tok.CreatedAt, tok.ExpiresAt, created.Format(time.RFC3339))
	}
	return tok
}

// wantTheListWithoutTheToken checks that the list, tok alone in it, never
// carries the token itself.
func wantTheListWithoutTheToken(t *testing.T, admin *knottest.Client, tok api.Token) {
	t.Helper()
	res := admin.Get("/api/tokens")
	if strings.Contains(res.Body, tok.Token) || strings.Contains(res.Body, `"token"`) {
		t.Fatalf("list leaks the token: %s", res.Body)
	}
	var list []map[string]any
	res.JSON(t, &list)
	if len(list) != 1 || list[0]["last_used_at"] != nil || list[0]["name"] != "Leaf Test" {
		t.Fatalf("list = %s", res.Body)
	}
	if _, present := list[0]["last_used_at"]; !present {
		t.Fatal("last_used_at is missing instead of null")
	}
}

// deleteTokenThroughTheAPI deletes tok, which stops working at once, and
// checks that a second delete, or one of no token at all, is a 404.
func deleteTokenThroughTheAPI(t *testing.T, srv *knottest.Instance, admin *knottest.Client, tok api.Token) {
	t.Helper()
	res := admin.JSONRequest(http.MethodDelete, fmt.Sprintf("/api/tokens/%d", tok.ID), nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("delete = %d %s", res.StatusCode, res.Body)
	}
	wantTokenRefused(t, srv, tok.Token, "deleted token")
	if res := admin.JSONRequest(http.MethodDelete, fmt.Sprintf("/api/tokens/%d", tok.ID), nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("second delete = %d, want 404", res.StatusCode)
	}
	for _, path := range []string{"/api/tokens/abc", "/api/tokens/0", "/api/tokens/-1", "/api/tokens/99999999999"} {
		if res := admin.JSONRequest(http.MethodDelete, path, nil); res.StatusCode != http.StatusNotFound || !strings.Contains(res.Body, `"error"`) {
			t.Errorf("DELETE %s = %d %s, want a 404 JSON error", path, res.StatusCode, res.Body)
		}
	}
}

func TestTokenAPIRejectsBadBodiesNamingTheProblem(t *testing.T) {
	_, admin := startAdmin(t)
	cases := []struct {
		name, body, want string
	}{
		{"empty", "", "empty"},
		{"not JSON", "name=Leaf", "must be a JSON object"},
		{"cut short", `{"name":"Le`, "not valid JSON"},
		{"array", `["Leaf"]`, "must be a JSON object"},
		{"string", `"Leaf"`, "must be a JSON object"},
		{"number name", `{"name":5}`, `Field "name" must be a string, not number.`},
		{"object name", `{"name":{"a":1}}`, `Field "name" must be a string, not object.`},
		{"missing name", `{}`, "name is required"},
		{"null name", `{"name":null}`, "name is required"},
		{"null body", `null`, "must be a JSON object"},
		{"unknown field", `{"name":"a","nmae":"b"}`, `Unknown field "nmae"`},
		{"two objects", `{"name":"a"}{"name":"b"}`, "more than one JSON value"},
		{"trailing garbage", `{"name":"a"} x`, "more than one JSON value"},
		{"blank name", `{"name":"   "}`, "name: Enter a name"},
		{"256 characters", `{"name":"` + strings.Repeat("x", 256) + `"}`, "name: Use at most 255 characters"},
		{"256 emoji", `{"name":"` + strings.Repeat("🔑", 256) + `"}`, "name: Use at most 255 characters"},
		{"control character", `{"name":"a\u0007b"}`, "name: Use a name on one line"},
		{"huge body", `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, "larger than 16 KiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := admin.JSONRequest(http.MethodPost, "/api/tokens", tc.body)
			var e struct {
				Error string `json:"error"`
			}
			res.JSON(t, &e)
			// A malformed body is 400; a name the rules refuse is 422.
			want := http.StatusBadRequest
			if strings.HasPrefix(tc.want, "name: ") {
				want = http.StatusUnprocessableEntity
			}
			if res.StatusCode != want || !strings.Contains(e.Error, tc.want) {
				t.Fatalf("status %d error %q; want %d containing %q", res.StatusCode, e.Error, want, tc.want)
			}
		})
	}
	if got := listTokens(t, admin); len(got) != 0 {
		t.Fatalf("bad bodies created %d tokens", len(got))
	}
	// Exactly 255 characters (multi-byte ones too) is fine, and unicode survives.
	for _, name := range []string{strings.Repeat("ü", 255), "Schlüssel 🔑 <b>&</b>"} {
		res := admin.JSONRequest(http.MethodPost, "/api/tokens", map[string]string{"name": name})
		var tok api.Token
		res.JSON(t, &tok)
		if res.StatusCode != http.StatusCreated || tok.Name != name {
			t.Fatalf("create %.20q = %d, name %.20q", name, res.StatusCode, tok.Name)
		}
	}
}

func TestBearerTokenAuthenticatesTheAPI(t *testing.T) {
	srv, devID := startWithDev(t)
	dev := srv.Login("dev@example.com", devPassword)
	id, token := dev.CreateAPIToken("script")

	res := whoamiWith(srv, token)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("whoami with token = %d %s", res.StatusCode, res.Body)
	}
	var me api.WhoAmI
	res.JSON(t, &me)
	if me.ID != devID || me.Username != "dev" {
		t.Fatalf("token authenticated as %+v, want dev", me)
	}

	// The scheme is case-insensitive; a state-changing call from a script
	// (no Origin, no Sec-Fetch-Site) passes cross-origin protection.
	script := srv.Client()
	res = script.JSONRequest(http.MethodPost, "/api/tokens", map[string]string{"name": "made by a script"}, "Authorization: bearer "+token)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create with a token = %d %s", res.StatusCode, res.Body)
	}
	if got := listTokens(t, script, bearer(token)); len(got) != 2 {
		t.Fatalf("list with a token = %d tokens, want 2", len(got))
	}
	if res.Header.Get("Set-Cookie") != "" {
		t.Fatalf("a bearer request got a cookie: %q", res.Header.Get("Set-Cookie"))
	}

	valid, _ := models.GenerateToken()
	wantMalformedBearersRefused(t, srv, token, valid)
	// A bad token is refused even alongside a good session: the header wins.
	if res := dev.Get("/api/users/whoami", bearer(valid)); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token with a good session = %d, want 401", res.StatusCode)
	}
	// Pages are for sessions: a token does not sign a browser in.
	if res := srv.Client().Get("/templates", bearer(token)); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET /templates with only a token = %d, want 303 to sign-in", res.StatusCode)
	}

	// Deleted → 401 at once.
	if res := dev.JSONRequest(http.MethodDelete, fmt.Sprintf("/api/tokens/%d", id), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("delete = %d", res.StatusCode)
	}
	wantTokenRefused(t, srv, token, "deleted token")

	// Nothing about the token reached the log.
	if logs := srv.Logs.String(); strings.Contains(logs, token) || strings.Contains(logs, valid) || strings.Contains(logs, "Bearer") {
		t.Fatal("the log contains a token or an Authorization header")
	}
	if !strings.Contains(srv.Logs.String(), "reason=\"unknown token\"") {
		t.Fatal("a refused token was not logged with its reason")
	}
}

// wantMalformedBearersRefused checks that every Authorization header that
// is not exactly "Bearer " and an issued token gets the one 401; token is
// an issued one, valid well formed but never issued.
func wantMalformedBearersRefused(t *testing.T, srv *knottest.Instance, token, valid string) {
	t.Helper()
	malformed := []string{
		"Authorization: Bearer",
		"Authorization: Bearer ",
		"Authorization: Basic ZGV2OmRldnBhc3N3b3Jk",
		"Authorization: Token " + token,
		"Authorization: " + token,
		"Authorization: Bearer short",
		"Authorization: Bearer " + token[:43],
		"Authorization: Bearer " + token + "A",
		"Authorization: Bearer " + strings.ReplaceAll(strings.ReplaceAll(token, "_", "/"), "-", "+") + "x",
		"Authorization: Bearer " + token + " " + token,
		"Authorization: Bearer " + valid, // well formed, never issued
	}
	for _, h := range malformed {
		res := srv.Client().Get("/api/users/whoami", h)
		if res.StatusCode != http.StatusUnauthorized || res.Body != badToken {
			t.Errorf("%.40q: %d %s, want 401 %s", h, res.StatusCode, res.Body, badToken)
		}
	}
}

func TestBearerTokenOfADisabledOrDeletedUserIsRefused(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	db := srv.Server.DB()
	aliceID := srv.CreateUser("alice", "alice@example.com", "alicepassword", models.DeveloperRoleID)
	bobID := srv.CreateUser("bob", "bob@example.com", "bobpassword", models.DeveloperRoleID)
	_, aliceTok := srv.Login("alice@example.com", "alicepassword").CreateAPIToken("a")
	_, bobTok := srv.Login("bob@example.com", "bobpassword").CreateAPIToken("b")

	if err := db.Model(&models.User{}).Where("id = ?", aliceID).Update("active", false).Error; err != nil {
		t.Fatal(err)
	}
	if res := whoamiWith(srv, aliceTok); res.StatusCode != http.StatusUnauthorized || res.Body != badToken {
		t.Fatalf("disabled user's token = %d %s", res.StatusCode, res.Body)
	}
	if err := db.Model(&models.User{}).Where("id = ?", aliceID).Update("active", true).Error; err != nil {
		t.Fatal(err)
	}
	if res := whoamiWith(srv, aliceTok); res.StatusCode != http.StatusOK {
		t.Fatalf("re-enabled user's token = %d", res.StatusCode)
	}

	if err := db.Exec(`DELETE FROM users WHERE id = ?`, bobID).Error; err != nil {
		t.Fatal(err)
	}
	if res := whoamiWith(srv, bobTok); res.StatusCode != http.StatusUnauthorized || res.Body != badToken {
		t.Fatalf("deleted user's token = %d %s", res.StatusCode, res.Body)
	}
}

func TestBearerTokenNeedsTheUseAPITokensPermission(t *testing.T) {
	srv, id := startWithDev(t)
	_, token := srv.Login("dev@example.com", devPassword).CreateAPIToken("t")
	if err := srv.Server.DB().Exec(`DELETE FROM user_roles WHERE user_id = ?`, id).Error; err != nil {
		t.Fatal(err)
	}
	res := whoamiWith(srv, token)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "use_api_tokens") {
		t.Fatalf("token of a user who lost use_api_tokens = %d %s, want 403 naming the permission", res.StatusCode, res.Body)
	}
}

func TestTokenExpiresAfter14DaysUnusedAndEveryUseResetsThat(t *testing.T) {
	srv, admin, clock := startAdminOnClock(t, daysLongSessions(t))
	_, used := admin.CreateAPIToken("used")
	_, idle := admin.CreateAPIToken("idle")
	day := 24 * time.Hour

	// Exactly 14 days after creation both are still good; using one resets it.
	clock.Advance(14 * day)
	if res := whoamiWith(srv, used); res.StatusCode != http.StatusOK {
		t.Fatalf("at exactly 14 days: %d, want 200", res.StatusCode)
	}
	// One second more: the unused one is refused, before any sweep has run.
	clock.Advance(time.Second)
	if res := whoamiWith(srv, idle); res.StatusCode != http.StatusUnauthorized || res.Body != badToken {
		t.Fatalf("unused for 14 days + 1s: %d %s, want 401", res.StatusCode, res.Body)
	}
	var rows int64
	srv.Server.DB().Table("api_tokens").Count(&rows)
	if rows != 2 {
		t.Fatalf("%d token rows; the expired one should still be there (no sweep yet), refused anyway", rows)
	}

	// Each use starts a new 14 days: use it every 10 days for 50 days.
	for range 5 {
		clock.Advance(10 * day)
		if res := whoamiWith(srv, used); res.StatusCode != http.StatusOK {
			t.Fatalf("used every 10 days, at %v: %d", clock.Now(), res.StatusCode)
		}
	}
	lastUse := clock.Now()
	admin = srv.Login(knottest.AdminEmail, knottest.AdminPassword) // the browser session idled out weeks ago
	for _, tok := range listTokens(t, admin) {
		if tok.Name == "used" && (tok.LastUsedAt == nil || *tok.LastUsedAt != lastUse.Format(time.RFC3339) || tok.ExpiresAt != lastUse.Add(14*day).Format(time.RFC3339)) {
			t.Fatalf("after the last use: %+v, want last_used_at %v and expires_at 14 days later", tok, lastUse)
		}
	}
	clock.Advance(14 * day)
	if res := whoamiWith(srv, used); res.StatusCode != http.StatusOK {
		t.Fatalf("14 days after the last use: %d, want 200", res.StatusCode)
	}
	clock.Advance(14*day + time.Second)
	if res := whoamiWith(srv, used); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("14 days + 1s after the last use: %d, want 401", res.StatusCode)
	}
}

func TestLastUsedIsWrittenAtMostOnceAMinute(t *testing.T) {
	srv, admin, clock := startAdminOnClock(t, knottest.Config(t))
	_, token := admin.CreateAPIToken("busy")
	writes := knottest.CountLastUsedWrites(t, srv.Server.DB())
	script := srv.Client()

	for i := range 40 {
		if res := script.Get("/api/users/whoami", bearer(token)); res.StatusCode != http.StatusOK {
			t.Fatalf("request %d = %d", i, res.StatusCode)
		}
		if i%10 == 9 {
			clock.Advance(10 * time.Second) // 40 requests spread over 40 seconds
		}
	}
	if got := writes(); got != 1 {
		t.Fatalf("40 requests within a minute wrote last_used_at %d times, want 1", got)
	}
	clock.Advance(19 * time.Second) // 59s after the first use
	script.Get("/api/users/whoami", bearer(token))
	if got := writes(); got != 1 {
		t.Fatalf("59 seconds after the first use: %d writes, want still 1", got)
	}
	clock.Advance(time.Second)
	script.Get("/api/users/whoami", bearer(token))
	if got := writes(); got != 2 {
		t.Fatalf("a minute after the first use: %d writes, want 2", got)
	}
	if got := listTokens(t, admin); got[0].LastUsedAt == nil || *got[0].LastUsedAt != clock.Now().Format(time.RFC3339) {
		t.Fatalf("last_used_at = %v, want %v", got[0].LastUsedAt, clock.Now())
	}
	// Session requests never touch a token.
	for range 5 {
		admin.Get("/api/users/whoami")
	}
	if got := writes(); got != 2 {
		t.Fatalf("session requests wrote last_used_at: %d writes", got)
	}
}

func TestSweepDeletesExactlyTheExpiredTokens(t *testing.T) {
	srv, admin, clock := startAdminOnClock(t, daysLongSessions(t))
	day := 24 * time.Hour

	admin.CreateAPIToken("old, never used")         // t0
	_, usedTok := admin.CreateAPIToken("old, used") // t0, used on day 5
	clock.Advance(time.Second)
	admin.CreateAPIToken("one second younger") // t0+1s
	clock.Advance(5*day - time.Second)
	whoamiWith(srv, usedTok)
	clock.Advance(5 * day)
	admin.CreateAPIToken("new") // day 10

	clock.Advance(4 * day) // day 14 exactly: nothing is expired yet
	if n, err := srv.Server.SweepTokens(context.Background()); err != nil || n != 0 {
		t.Fatalf("sweep at exactly 14 days deleted %d (%v), want 0", n, err)
	}
	clock.Advance(time.Second) // 14 days + 1s: only the first is expired
	if n, err := srv.Server.SweepTokens(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep at 14 days + 1s deleted %d (%v), want 1", n, err)
	}
	names := func() []string {
		var out []string
		for _, tok := range listTokens(t, admin) {
			out = append(out, tok.Name)
		}
		return out
	}
	if got := names(); !slices.Equal(got, []string{"new", "one second younger", "old, used"}) {
		t.Fatalf("after the sweep: %v", got)
	}
	clock.Advance(time.Second)
	if n, _ := srv.Server.SweepTokens(context.Background()); n != 1 {
		t.Fatalf("a second later the sweep deleted %d, want 1", n)
	}
	clock.Advance(5 * day) // day 19 + 2s: "old, used" (day 5) is gone, "new" (day 10) stays
	if n, _ := srv.Server.SweepTokens(context.Background()); n != 1 {
		t.Fatalf("on day 19 the sweep deleted %d, want 1", n)
	}
	if got := names(); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("after the day-19 sweep: %v", got)
	}
	if !strings.Contains(srv.Logs.String(), `msg="swept expired API tokens" deleted=1`) {
		t.Fatal("the sweep did not log how many it deleted")
	}
}

func TestSweepRunsAtStartAndEveryInterval(t *testing.T) {
	clock := knottest.NewClock()
	cfg := knottest.Config(t)
	first := knottest.Start(t, cfg, knottest.WithClock(clock))
	admin := first.SetupAdmin()
	admin.CreateAPIToken("forgotten")
	first.Stop()

	// Down for 15 days: the sweep at start removes the token.
	clock.Advance(15 * 24 * time.Hour)
	second := knottest.Start(t, cfg, knottest.WithClock(clock))
	countTokens := func(srv *knottest.Instance) int64 {
		var n int64
		if err := srv.Server.DB().Table("api_tokens").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	second.AwaitSweeps(t, 1)
	if countTokens(second) != 0 || !strings.Contains(second.Logs.String(), `msg="swept expired API tokens" deleted=1`) {
		t.Fatalf("the start-up sweep left %d tokens", countTokens(second))
	}
	second.Stop()

	// Running: the next tick removes a token that expires meanwhile.
	cfg.Server.TokenSweepInterval = 1e9 // 1s, the shortest config allows
	third := knottest.Start(t, cfg, knottest.WithTimersOn(clock))
	c := third.Login(knottest.AdminEmail, knottest.AdminPassword)
	c.CreateAPIToken("short-lived")
	// The sweep's ticker and the change feed's poll; the start-up sweep
	// has ended once the sweep's ticker is armed.
	knottest.AwaitTimers(t, clock, 2)
	done := third.Server.Sweeps()
	clock.Advance(15 * 24 * time.Hour)
	third.AwaitSweeps(t, done+1)
	if n := countTokens(third); n != 0 {
		t.Errorf("the periodic sweep left %d tokens", n)
	}
}

func TestOtherUsersTokensAreNotFound(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	srv.CreateUser("alice", "alice@example.com", "alicepassword", models.DeveloperRoleID)
	srv.CreateUser("bob", "bob@example.com", "bobpassword", models.DeveloperRoleID)
	alice := srv.Login("alice@example.com", "alicepassword")
	bob := srv.Login("bob@example.com", "bobpassword")
	bobID, bobTok := bob.CreateAPIToken("bob's secret token")
	alice.CreateAPIToken("alice's")

	// List: neither the API nor the page shows bob's token to alice.
	for _, tok := range listTokens(t, alice) {
		if tok.ID == bobID {
			t.Fatal("alice's API list holds bob's token")
		}
	}
	page := alice.Get("/api-tokens").Body
	if strings.Contains(page, "bob&#39;s secret token") || strings.Contains(page, bobTok) || strings.Contains(page, bobTok[:8]) {
		t.Fatal("alice's page shows bob's token")
	}
	// Copy, delete, confirm: 404, by API, htmx and plain form; the same
	// answer as for a token that does not exist.
	id := fmt.Sprint(bobID)
	for _, r := range []route{
		{http.MethodGet, "/api-tokens/" + id},
		{http.MethodGet, "/api-tokens/" + id + "/delete"},
		{http.MethodPost, "/api-tokens/" + id + "/delete"},
		{http.MethodDelete, "/api-tokens/" + id},
		{http.MethodDelete, "/api/tokens/" + id},
		{http.MethodGet, "/api-tokens/424242"},
	} {
		res := alice.Do(r.method, r.path, nil, "HX-Request: true")
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("alice %s %s = %d, want 404", r.method, r.path, res.StatusCode)
		}
		if strings.Contains(res.Body, bobTok) || strings.Contains(res.Body, "bob&#39;s") {
			t.Errorf("alice %s %s leaks bob's token", r.method, r.path)
		}
	}
	// Bob's token is untouched and still works.
	if got := listTokens(t, bob); len(got) != 1 || got[0].ID != bobID {
		t.Fatalf("bob's tokens after alice's attempts: %+v", got)
	}
	if res := whoamiWith(srv, bobTok); res.StatusCode != http.StatusOK {
		t.Fatalf("bob's token after alice's attempts = %d", res.StatusCode)
	}
}

func TestTokenEndpointsNeedThePermission(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	srv.CreateUser("norole", "norole@example.com", "norolepass")
	c := srv.Login("norole@example.com", "norolepass")
	// Without use_api_tokens: 403, saying to ask the administrator.
	wantRoutesRefused(t, c, http.StatusForbidden, "Ask your site administrator",
		"GET /api/tokens", "POST /api/tokens", "DELETE /api/tokens/1",
		"GET /api-tokens", "GET /api-tokens/new", "POST /api-tokens", "GET /api-tokens/1", "POST /api-tokens/1/delete")
	// Signed out: pages go to sign-in, the API says 401.
	anon := srv.Client()
	if res := anon.Get("/api/tokens"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous GET /api/tokens = %d", res.StatusCode)
	}
	if res := anon.Get("/api-tokens"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("anonymous GET /api-tokens = %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestHideAPITokensTurnsTheFeatureOffForEveryone(t *testing.T) {
	cfg := knottest.Config(t)
	first := knottest.Start(t, cfg)
	admin := first.SetupAdmin()
	_, token := admin.CreateAPIToken("made before hiding")
	first.Stop()

	cfg.Server.UI.HideAPITokens = true
	srv := knottest.Start(t, cfg)
	admin = srv.Login(knottest.AdminEmail, knottest.AdminPassword)
	if strings.Contains(admin.Get("/templates").Body, `href="/api-tokens"`) {
		t.Fatal("the menu shows API Tokens although hidden")
	}
	wantRoutesRefused(t, admin, http.StatusNotFound, "API tokens are turned off on this server",
		"GET /api-tokens", "GET /api-tokens/new", "POST /api-tokens", "GET /api/tokens", "POST /api/tokens", "DELETE /api/tokens/1")
	// Tokens made before still authenticate: hiding the UI does not cut
	// off leaf nodes already set up.
	if res := whoamiWith(srv, token); res.StatusCode != http.StatusOK {
		t.Fatalf("existing token while hidden = %d, want 200", res.StatusCode)
	}
}

// daysLongSessions is a test server config whose browser sessions outlast
// the weeks these tests move the clock through, so that only the tokens
// expire (session idle time has its own test).
func daysLongSessions(t *testing.T) config.Config {
	cfg := knottest.Config(t)
	cfg.Server.SessionIdleTimeout = config.Duration(30 * 24 * time.Hour)
	return cfg
}

// A user holds at most server.max_tokens_per_user tokens: one more is
// refused with a message saying what to do, on the API and the page alike,
// and deleting one makes room again.
func TestTokensPerUserAreCapped(t *testing.T) {
	cfg := knottest.Config(t)
	cfg.Server.MaxTokensPerUser = 3
	srv := knottest.Start(t, cfg)
	admin := srv.SetupAdmin()
	var first uint
	for i := range 3 {
		id, _ := admin.CreateAPIToken(fmt.Sprintf("t%d", i))
		if i == 0 {
			first = id
		}
	}
	res := admin.JSONRequest(http.MethodPost, "/api/tokens", map[string]string{"name": "one too many"})
	if res.StatusCode != http.StatusConflict || !strings.Contains(res.Body, "the most one person may hold") {
		t.Fatalf("a fourth token through the API = %d %s", res.StatusCode, res.Body)
	}
	page := admin.PostForm("/api-tokens", url.Values{"name": {"one too many"}})
	if page.StatusCode != http.StatusConflict || !strings.Contains(page.Body, "Delete some you no longer use") || !strings.Contains(page.Body, `value="one too many"`) {
		t.Fatalf("a fourth token through the page = %d", page.StatusCode)
	}
	if res := admin.Do(http.MethodDelete, fmt.Sprintf("/api/tokens/%d", first), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("delete = %d", res.StatusCode)
	}
	admin.CreateAPIToken("room again")
}
