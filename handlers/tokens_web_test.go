package handlers_test

import (
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

const hx = "HX-Request: true"

// rowOf returns the <tr> of token id in an HTML page or fragment, or "".
func rowOf(body string, id uint) string {
	re := regexp.MustCompile(fmt.Sprintf(`(?s)<tr id="token-%d" class="token-row">.*?</tr>`, id))
	return re.FindString(body)
}

// attr returns the value of the first attribute name in s, unescaped.
func attr(s, name string) string {
	m := regexp.MustCompile(`\s` + regexp.QuoteMeta(name) + `="([^"]*)"`).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// newTokenShown returns the token shown in full after a create, or "".
func newTokenShown(body string) string {
	m := regexp.MustCompile(`<code id="new-token-value">([^<]*)</code>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestTokensPageListsTokensWithEverythingTheSpecAsks(t *testing.T) {
	srv, admin, clock := startAdminOnClock(t, daysLongSessions(t))
	empty := admin.Get("/api-tokens")
	if empty.StatusCode != http.StatusOK || !strings.Contains(empty.Body, "You have no API tokens yet.") || !strings.Contains(empty.Body, ">New Token</a>") {
		t.Fatalf("empty page = %d, lacks the empty state or New Token", empty.StatusCode)
	}
	if !strings.Contains(empty.Body, `href="/api-tokens" aria-current="page"`) {
		t.Fatal("the menu does not mark API Tokens as the current page")
	}

	usedID, used := admin.CreateAPIToken("Leaf Test")
	clock.Advance(3*24*time.Hour + time.Hour)
	whoamiWith(srv, used)
	idleID, idle := admin.CreateAPIToken("Idle")
	clock.Advance(2 * 24 * time.Hour)

	page := admin.Get("/api-tokens")
	if !variesOnHTMX(page.Header) {
		t.Errorf("Vary = %v, want HX-Request", page.Header.Values("Vary"))
	}
	usedRow, idleRow := rowOf(page.Body, usedID), rowOf(page.Body, idleID)
	if usedRow == "" || idleRow == "" {
		t.Fatal("a token row is missing")
	}
	if strings.Index(page.Body, idleRow) > strings.Index(page.Body, usedRow) {
		t.Error("the newer token is not listed first")
	}
	wantTokenRowsSayWhatTheySay(t, used, usedRow, idleRow)
	// The page carries no full token: Copy fetches the one asked for, and
	// without JavaScript the masked token links to a page showing it.
	for _, tok := range []string{used, idle} {
		if strings.Contains(page.Body, tok) {
			t.Error("the page carries a full token")
		}
	}
	wantTokenRowActions(t, page.Body, map[uint]string{usedID: usedRow, idleID: idleRow}, usedID)
	wantTokenPageKeptPrivate(t, page)

	clock.Advance(12*24*time.Hour - time.Hour)
	if row := rowOf(admin.Get("/api-tokens").Body, usedID); !strings.Contains(row, ">less than a day</time>") {
		t.Errorf("an hour before expiry the row says %s", regexp.MustCompile(`>[^<]*</time></td><td><form`).FindString(row))
	}
}

// wantTokenRowsSayWhatTheySay checks the cells of two rows, five days after
// the used token (used) was made and two after the idle one: names, masked
// tokens, relative times with the exact time on hover.
func wantTokenRowsSayWhatTheySay(t *testing.T, used, usedRow, idleRow string) {
	t.Helper()
	checks := []struct {
		row, want, what string
	}{
		{usedRow, ">Leaf Test</span></td>", "name"},
		{usedRow, "<code>" + used[:8] + "…</code>", "masked token"},
		{usedRow, `datetime="2026-11-02T09:00:00Z" title="2026-11-02 09:00 UTC" tabindex="0">5 days ago</time>`, "created, relative with the exact time on hover"},
		{usedRow, `datetime="2026-11-05T10:00:00Z" title="2026-11-05 10:00 UTC" tabindex="0">2 days ago</time>`, "last used, relative with the exact time on hover"},
		{usedRow, ">12 days</time>", "expires in (14 days from the use, 2 days ago)"},
		{idleRow, `<td data-label="Last used">never</td>`, "last used: never"},
		{idleRow, ">12 days</time>", "expires in (created 2 days ago)"},
	}
	for _, c := range checks {
		if !strings.Contains(c.row, c.want) {
			t.Errorf("row lacks %s %q:\n%s", c.what, c.want, c.row)
		}
	}
}

// wantTokenRowActions checks each row's Copy and link, and the Delete of
// the row of usedID ("Leaf Test").
func wantTokenRowActions(t *testing.T, page string, rows map[uint]string, usedID uint) {
	t.Helper()
	for id, row := range rows {
		if got, want := attr(row, "data-copy-url"), fmt.Sprintf("/api-tokens/%d/secret", id); got != want {
			t.Errorf("Copy's data-copy-url = %q, want %q", got, want)
		}
		if !strings.Contains(row, fmt.Sprintf(`<a class="token-link" href="/api-tokens/%d"`, id)) {
			t.Errorf("the masked token does not link to its page:\n%s", row)
		}
	}
	usedRow := rows[usedID]
	if !strings.Contains(usedRow, `aria-label="Copy token Leaf Test">Copy</button>`) {
		t.Errorf("the row has no Copy button naming the token:\n%s", usedRow)
	}
	// The page has the place where "Copied" is announced.
	if !strings.Contains(page, "data-copy-status") {
		t.Error("the page has no [data-copy-status] for the copy confirmation")
	}
	// Delete: htmx asks, names the token, and swaps the row out.
	for name, want := range map[string]string{
		"hx-delete":  fmt.Sprintf("/api-tokens/%d", usedID),
		"hx-confirm": "Delete the token “Leaf Test”? Anything using it stops working at once.",
		"hx-target":  "closest tr",
		"hx-swap":    "outerHTML",
		"action":     fmt.Sprintf("/api-tokens/%d/delete", usedID),
	} {
		if got := attr(usedRow, name); got != want {
			t.Errorf("delete %s = %q, want %q", name, got, want)
		}
	}
}

// wantTokenPageKeptPrivate checks that a page holding tokens stays out of
// caches and htmx's history, and runs under the strict CSP.
func wantTokenPageKeptPrivate(t *testing.T, page *knottest.Response) {
	t.Helper()
	if cc := page.Header.Values("Cache-Control"); !slices.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if !strings.Contains(page.Body, `hx-history="false"`) {
		t.Error(`the page lacks hx-history="false"`)
	}
	// No inline script or handler anywhere on the page.
	for _, bad := range []string{"<script>", "onclick=", "hx-on", "javascript:"} {
		if strings.Contains(page.Body, bad) {
			t.Errorf("page contains %q, which the CSP forbids", bad)
		}
	}
}

func TestNewTokenFormOpensAsFragmentOrPage(t *testing.T) {
	_, admin := startAdmin(t)

	frag := admin.Get("/api-tokens/new", hx)
	if frag.StatusCode != http.StatusOK || strings.Contains(frag.Body, "<html") {
		t.Fatalf("htmx GET /api-tokens/new = %d, want a fragment", frag.StatusCode)
	}
	for _, want := range []string{`<form id="token-form"`, `<label for="token-name">Token Name</label>`, `name="name" value=""`, ">Create Token</button>", `hx-post="/api-tokens"`, `method="post" action="/api-tokens"`} {
		if !strings.Contains(frag.Body, want) {
			t.Errorf("form fragment lacks %q", want)
		}
	}
	// Without JavaScript the link leads to the whole page with the same form open.
	page := admin.Get("/api-tokens/new")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "<html") || !strings.Contains(page.Body, frag.Body) {
		t.Fatal("GET /api-tokens/new without htmx is not the page with the same form")
	}
}

func TestCreateTokenWithHTMX(t *testing.T) {
	srv, admin := startAdmin(t)
	admin.CreateAPIToken("older")

	res := admin.PostForm("/api-tokens", url.Values{"name": {"Leaf Test"}}, hx)
	if res.StatusCode != http.StatusOK || strings.Contains(res.Body, "<html") {
		t.Fatalf("htmx create = %d, want a 200 fragment", res.StatusCode)
	}
	token := newTokenShown(res.Body)
	if !models.WellFormedToken(token) {
		t.Fatalf("the full token is not shown: %q", token)
	}
	if cc := res.Header.Values("Cache-Control"); !slices.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	list := listTokens(t, admin)
	if len(list) != 2 || list[0].Name != "Leaf Test" || list[0].Prefix != token[:8] {
		t.Fatalf("after create the list is %+v", list)
	}
	// The row goes in at the top of the list, out of band.
	oob := regexp.MustCompile(`(?s)<template><tbody hx-swap-oob="afterbegin:#token-rows">(.*)</tbody></template>`).FindStringSubmatch(res.Body)
	if oob == nil || rowOf(oob[1], list[0].ID) == "" || strings.Contains(oob[1], token) {
		t.Fatalf("no out-of-band row for the new token, or one carrying the full token, in:\n%s", res.Body)
	}
	// The list fetches its page again, so its count and pages follow.
	if got := res.Header.Get("HX-Trigger"); got != "tokens-changed" {
		t.Errorf("HX-Trigger = %q, want tokens-changed", got)
	}
	// The same component renders the row on the page.
	if page := admin.Get("/api-tokens").Body; rowOf(page, list[0].ID) != rowOf(oob[1], list[0].ID) {
		t.Error("the htmx row differs from the page's row")
	}
	// A copy button beside the token, and a fresh form for the next one.
	if !strings.Contains(res.Body, `data-copy="`+token+`" data-copy-label="the new token">Copy</button>`) {
		t.Error("the new token has no copy button")
	}
	if !strings.Contains(res.Body, `<form id="token-form"`) || !strings.Contains(res.Body, `name="name" value=""`) {
		t.Error("no fresh form after create")
	}
	if whoamiWith(srv, token).StatusCode != http.StatusOK {
		t.Fatal("the token shown does not work")
	}
}

func TestCreateTokenWithoutJavaScript(t *testing.T) {
	srv, admin := startAdmin(t)

	res := admin.PostForm("/api-tokens", url.Values{"name": {"No Script"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/api-tokens" {
		t.Fatalf("plain create = %d %q, want 303 to /api-tokens", res.StatusCode, res.Header.Get("Location"))
	}
	page := admin.Get("/api-tokens").Body
	token := newTokenShown(page)
	if !models.WellFormedToken(token) || !strings.Contains(page, "Token “No Script” created") {
		t.Fatal("the page after the redirect does not show the new token")
	}
	if whoamiWith(srv, token).StatusCode != http.StatusOK {
		t.Fatal("the token shown does not work")
	}
	// Shown in full once; afterwards the list has only its prefix.
	again := admin.Get("/api-tokens").Body
	if newTokenShown(again) != "" || strings.Contains(again, "created</h2>") || strings.Contains(again, token) {
		t.Fatal("the new token is shown a second time")
	}
	id := listTokens(t, admin)[0].ID
	if !strings.Contains(rowOf(again, id), fmt.Sprintf(`<a class="token-link" href="/api-tokens/%d"`, id)) {
		t.Fatal("the masked token does not link to the token's page")
	}
	// The masked token's link shows the token for copying by hand.
	one := admin.Get(fmt.Sprintf("/api-tokens/%d", id))
	if one.StatusCode != http.StatusOK || !strings.Contains(one.Body, `<code id="token-value">`+token+`</code>`) {
		t.Fatalf("GET /api-tokens/%d = %d, lacks the token", id, one.StatusCode)
	}
}

func TestTokenNameValidationKeepsWhatWasTyped(t *testing.T) {
	_, admin := startAdmin(t)
	long := strings.Repeat("x", 256)
	cases := []struct {
		name, typed, msg string
	}{
		{"empty", "", "Enter a name for the token, such as Leaf Test."},
		{"blank", "   \t ", "Enter a name for the token, such as Leaf Test."},
		{"256 characters", long, "Use at most 255 characters (this name has 256)."},
		{"256 emoji", strings.Repeat("🔑", 256), "Use at most 255 characters (this name has 256)."},
		{"HTML and too long", "<script>alert(1)</script>" + long, "Use at most 255 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []string{"htmx", "plain"} {
				wantTokenNameRefused(t, admin, mode, tc.typed, tc.msg)
			}
		})
	}
	if n := len(listTokens(t, admin)); n != 0 {
		t.Fatalf("invalid names created %d tokens", n)
	}

	// Unicode and HTML in a valid name are kept and escaped everywhere.
	name := `Schlüssel 🔑 <img src=x onerror=alert(1)> "q" & 'a'`
	res := admin.PostForm("/api-tokens", url.Values{"name": {name}}, hx)
	if strings.Contains(res.Body, "<img src=x") {
		t.Fatal("the name is rendered as HTML")
	}
	list := listTokens(t, admin)
	if len(list) != 1 || list[0].Name != name {
		t.Fatalf("stored name = %+v, want %q", list, name)
	}
	page := admin.Get("/api-tokens").Body
	row := rowOf(page, list[0].ID)
	if strings.Contains(page, "<img src=x") || !strings.Contains(row, ">"+html.EscapeString(name)+"</span></td>") {
		t.Fatalf("the name is not shown escaped in the row:\n%s", row)
	}
	if got := attr(row, "hx-confirm"); got != "Delete the token “"+name+"”? Anything using it stops working at once." {
		t.Fatalf("hx-confirm = %q", got)
	}
	// 255 characters is the most, counted in characters not bytes.
	if res := admin.PostForm("/api-tokens", url.Values{"name": {strings.Repeat("ü", 255)}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a 255-character name = %d, want 303", res.StatusCode)
	}
}

// wantTokenNameRefused creates a token named typed, through htmx or a
// plain form (mode), and wants the form back with msg beside the field
// and what was typed kept, escaped.
func wantTokenNameRefused(t *testing.T, admin *knottest.Client, mode, typed, msg string) {
	t.Helper()
	var res *knottest.Response
	if mode == "htmx" {
		res = admin.PostForm("/api-tokens", url.Values{"name": {typed}}, hx)
		if res.StatusCode != http.StatusOK || res.Header.Get("HX-Retarget") != "#token-form" || res.Header.Get("HX-Reswap") != "outerHTML" || strings.Contains(res.Body, "<html") {
			t.Fatalf("htmx: %d retarget %q, want 200 with the form retargeted", res.StatusCode, res.Header.Get("HX-Retarget"))
		}
	} else {
		res = admin.PostForm("/api-tokens", url.Values{"name": {typed}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "<html") {
			t.Fatalf("plain: %d, want 422 with the page", res.StatusCode)
		}
	}
	form := regexp.MustCompile(`(?s)<form id="token-form".*?</form>`).FindString(res.Body)
	// The message sits beside the field, inside the form.
	if !strings.Contains(form, `<p class="field-error" id="token-name-error" role="alert">`+html.EscapeString(msg)) {
		t.Errorf("%s: the form lacks the message %q beside the field", mode, msg)
	}
	if !strings.Contains(form, `aria-invalid="true" aria-describedby="token-name-error"`) {
		t.Errorf("%s: the field is not marked invalid", mode)
	}
	if got := attr(form, "value"); got != typed {
		t.Errorf("%s: value = %.30q, want what was typed %.30q", mode, got, typed)
	}
	if strings.Contains(res.Body, "<script>alert") {
		t.Errorf("%s: the typed HTML came back unescaped", mode)
	}
}

func TestDeleteTokenWithHTMX(t *testing.T) {
	srv, admin := startAdmin(t)
	id, token := admin.CreateAPIToken("Leaf Test")
	keepID, keep := admin.CreateAPIToken("keep")

	res := admin.Do(http.MethodDelete, fmt.Sprintf("/api-tokens/%d", id), nil, hx)
	if res.StatusCode != http.StatusOK || res.Body != "" {
		t.Fatalf("htmx delete = %d %q, want 200 with an empty body (htmx swaps the row out)", res.StatusCode, res.Body)
	}
	if got := res.Header.Get("HX-Trigger"); got != "tokens-changed" {
		t.Errorf("HX-Trigger = %q, want tokens-changed (the list refreshes its count and pages)", got)
	}
	if res := whoamiWith(srv, token); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("deleted token's next call = %d, want 401", res.StatusCode)
	}
	page := admin.Get("/api-tokens").Body
	if rowOf(page, id) != "" || rowOf(page, keepID) == "" {
		t.Fatal("the page still lists the deleted token, or lost the other one")
	}
	if whoamiWith(srv, keep).StatusCode != http.StatusOK {
		t.Fatal("the other token stopped working")
	}
}

func TestDeleteTokenWithoutJavaScript(t *testing.T) {
	srv, admin := startAdmin(t)
	id, token := admin.CreateAPIToken("Leaf Test")

	confirm := admin.Get(fmt.Sprintf("/api-tokens/%d/delete", id))
	if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.Body, "Delete the token “Leaf Test”?") {
		t.Fatalf("confirmation page = %d, does not name the token", confirm.StatusCode)
	}
	if !strings.Contains(confirm.Body, fmt.Sprintf(`<form method="post" action="/api-tokens/%d/delete">`, id)) {
		t.Fatal("the confirmation page has no delete form")
	}
	if whoamiWith(srv, token).StatusCode != http.StatusOK {
		t.Fatal("asking for confirmation deleted the token")
	}
	res := admin.PostForm(fmt.Sprintf("/api-tokens/%d/delete", id), nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/api-tokens" {
		t.Fatalf("plain delete = %d %q, want 303 to /api-tokens", res.StatusCode, res.Header.Get("Location"))
	}
	page := admin.Get("/api-tokens").Body
	if rowOf(page, id) != "" || !strings.Contains(page, "Deleted the token “Leaf Test”.") {
		t.Fatal("after the plain delete the row is still there or the notice is missing")
	}
	if whoamiWith(srv, token).StatusCode != http.StatusUnauthorized {
		t.Fatal("the deleted token still works")
	}
}

// TestDatabaseHoldsNoPlaintextToken creates tokens every way there is, uses
// them, then searches the raw database files (and the log) for them.
func TestDatabaseHoldsNoPlaintextToken(t *testing.T) {
	srv, admin, clock := startAdminOnClock(t, knottest.Config(t))

	var tokens []string
	_, viaAPI := admin.CreateAPIToken("api")
	tokens = append(tokens, viaAPI)
	tokens = append(tokens, newTokenShown(admin.PostForm("/api-tokens", url.Values{"name": {"htmx"}}, hx).Body))
	admin.PostForm("/api-tokens", url.Values{"name": {"plain"}})
	tokens = append(tokens, newTokenShown(admin.Get("/api-tokens").Body)) // through the session flash
	for _, tok := range tokens {
		if !models.WellFormedToken(tok) {
			t.Fatalf("could not collect a token: %q", tok)
		}
		if whoamiWith(srv, tok).StatusCode != http.StatusOK {
			t.Fatal("a collected token does not work")
		}
	}
	clock.Advance(2 * time.Minute)
	for _, tok := range tokens {
		whoamiWith(srv, tok) // and a last-used write
	}

	search := func(when string) {
		t.Helper()
		raw := srv.StoredBytes()
		for _, tok := range tokens {
			rawBytes, _ := base64URL(tok)
			if strings.Contains(string(raw), tok) || strings.Contains(string(raw), tok[:43]) || strings.Contains(string(raw), string(rawBytes)) {
				t.Fatalf("%s: the database holds a plaintext token", when)
			}
		}
	}
	search("while running (data in the WAL)")
	if logs := srv.Logs.String(); strings.Contains(logs, tokens[0]) || strings.Contains(logs, tokens[1]) || strings.Contains(logs, tokens[2]) {
		t.Fatal("the log holds a token")
	}
	srv.Stop() // checkpoints the WAL into the main file
	search("after shutdown")
}

func base64URL(s string) ([]byte, error) { return base64.URLEncoding.DecodeString(s) }

// A long token name is cut to one line in the list, whole in its title and
// on focus (the cell's span takes the keyboard), so rows stay one line.
func TestALongTokenNameStaysOneLineWithTheWholeNameOnHover(t *testing.T) {
	_, admin := startAdmin(t)
	long := strings.Repeat("a very long token name ", 10)
	admin.CreateAPIToken(long)
	page := admin.Get("/api-tokens")
	want := `<span class="truncate" title="` + strings.TrimSpace(long) + `" tabindex="0">`
	if !strings.Contains(page.Body, want) {
		t.Fatalf("the long name is not in a truncating span with its full title")
	}
}
