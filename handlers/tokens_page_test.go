package handlers_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

// seededToken is a token seedTokens made, with the plaintext only the test
// knows.
type seededToken struct {
	ID    uint
	Name  string
	Plain string
}

// seedTokens gives userID n tokens straight through the model (the API
// would take a request each), one second apart so "newest first" is
// unambiguous: the last one returned is the newest.
func seedTokens(tb testing.TB, srv *knottest.Instance, userID uint, n int, name func(i int) string) []seededToken {
	tb.Helper()
	key, err := srv.Cfg.EncryptKey()
	if err != nil {
		tb.Fatal(err)
	}
	v, err := vault.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	start := srv.Clock.Now().Add(-time.Duration(n) * time.Second)
	out := make([]seededToken, n)
	for i := range n {
		tok, plain, err := models.CreateToken(context.Background(), srv.Server.DB(), v, userID, name(i), start.Add(time.Duration(i)*time.Second), 0)
		if err != nil {
			tb.Fatalf("seed token %d: %v", i, err)
		}
		out[i] = seededToken{ID: tok.ID, Name: tok.Name, Plain: plain}
	}
	return out
}

// rowIDs lists the token rows of a page or fragment, top to bottom.
func rowIDs(body string) []uint {
	var out []uint
	for _, m := range regexp.MustCompile(`<tr id="token-(\d+)" class="token-row">`).FindAllStringSubmatch(body, -1) {
		id, _ := strconv.ParseUint(m[1], 10, 32)
		out = append(out, uint(id))
	}
	return out
}

// idsNewestFirst are the ids of seeded[from:to], newest first.
func idsNewestFirst(seeded []seededToken, from, to int) []uint {
	var out []uint
	for i := to - 1; i >= from; i-- {
		out = append(out, seeded[i].ID)
	}
	return out
}

// pagerLink returns the href of the pager's link with rel ("prev" or
// "next"), unescaped, or "" when there is none.
func pagerLink(body, rel string) string {
	m := regexp.MustCompile(`<a href="([^"]*)" rel="` + rel + `"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// startWithTokens is a server with a signed-in developer who has tokens
// named by name, one second apart (the last is the newest).
func startWithTokens(t *testing.T, n int, name func(i int) string) (*knottest.Instance, *knottest.Client, []seededToken) {
	t.Helper()
	srv, uid := startWithDev(t)
	seeded := seedTokens(t, srv, uid, n, name)
	return srv, srv.Login("dev@example.com", devPassword), seeded
}

func TestTokenListShowsFiftyNewestTokensAPage(t *testing.T) {
	_, dev, seeded := startWithTokens(t, 60, func(i int) string { return fmt.Sprintf("token %02d", i) })

	first := dev.Get("/api-tokens")
	if first.StatusCode != http.StatusOK {
		t.Fatalf("GET /api-tokens = %d", first.StatusCode)
	}
	if got, want := rowIDs(first.Body), idsNewestFirst(seeded, 10, 60); !slices.Equal(got, want) {
		t.Fatalf("page 1 rows = %v, want the 50 newest %v", got, want)
	}
	if !strings.Contains(first.Body, "Showing 1–50 of 60") {
		t.Error(`page 1 does not say "Showing 1–50 of 60"`)
	}
	if got := pagerLink(first.Body, "next"); got != "/api-tokens?page=2" {
		t.Errorf("page 1's Next = %q, want /api-tokens?page=2", got)
	}
	if got := pagerLink(first.Body, "prev"); got != "" {
		t.Errorf("page 1 links to a previous page %q", got)
	}

	second := dev.Get("/api-tokens?page=2")
	if got, want := rowIDs(second.Body), idsNewestFirst(seeded, 0, 10); !slices.Equal(got, want) {
		t.Fatalf("page 2 rows = %v, want the 10 oldest %v", got, want)
	}
	if !strings.Contains(second.Body, "Showing 51–60 of 60") || !strings.Contains(second.Body, "Page 2 of 2") {
		t.Error(`page 2 does not say "Showing 51–60 of 60" and "Page 2 of 2"`)
	}
	if got := pagerLink(second.Body, "prev"); got != "/api-tokens?page=1" {
		t.Errorf("page 2's Previous = %q, want /api-tokens?page=1", got)
	}
	if got := pagerLink(second.Body, "next"); got != "" {
		t.Errorf("the last page links to a next page %q", got)
	}

	// Neither page carries any full token: Copy fetches one at a time.
	for _, s := range seeded {
		if strings.Contains(first.Body, s.Plain) || strings.Contains(second.Body, s.Plain) {
			t.Fatalf("a page carries the full token of %q", s.Name)
		}
	}

	wantOddPageNumbersShowAPage(t, dev, seeded)
	wantPageLinksSwapOnlyTheList(t, dev, first, second)
}

// wantOddPageNumbersShowAPage checks that, of 60 tokens, a page number that
// is not one shows the first page; past the end, the last.
func wantOddPageNumbersShowAPage(t *testing.T, dev *knottest.Client, seeded []seededToken) {
	t.Helper()
	for path, want := range map[string][]uint{
		"/api-tokens?page=0":                    idsNewestFirst(seeded, 10, 60),
		"/api-tokens?page=-3":                   idsNewestFirst(seeded, 10, 60),
		"/api-tokens?page=two":                  idsNewestFirst(seeded, 10, 60),
		"/api-tokens?page=99":                   idsNewestFirst(seeded, 0, 10),
		"/api-tokens?page=99999999999999999999": idsNewestFirst(seeded, 10, 60),
	} {
		if res := dev.Get(path); res.StatusCode != http.StatusOK || !slices.Equal(rowIDs(res.Body), want) {
			t.Errorf("GET %s = %d with rows %v, want %v", path, res.StatusCode, rowIDs(res.Body), want)
		}
	}
}

// wantPageLinksSwapOnlyTheList checks that with htmx a page link swaps just
// the list, which pushes its address; first and second are the two pages.
func wantPageLinksSwapOnlyTheList(t *testing.T, dev *knottest.Client, first, second *knottest.Response) {
	t.Helper()
	frag := dev.Get("/api-tokens?page=2", hx)
	if frag.StatusCode != http.StatusOK || !isFragment(frag) || !strings.HasPrefix(frag.Body, `<div id="token-list"`) {
		t.Fatalf("htmx page 2 = %d, want the list fragment: %.200s", frag.StatusCode, frag.Body)
	}
	if !slices.Equal(rowIDs(frag.Body), rowIDs(second.Body)) {
		t.Error("the htmx fragment lists other rows than the page")
	}
	next := regexp.MustCompile(`<a href="[^"]*" rel="next"[^>]*>`).FindString(first.Body)
	for name, want := range map[string]string{"hx-get": "/api-tokens?page=2", "hx-target": "#token-list", "hx-swap": "outerHTML", "hx-push-url": "true"} {
		if got := attr(next, name); got != want {
			t.Errorf("Next's %s = %q, want %q", name, got, want)
		}
	}
	for _, res := range []*knottest.Response{first, frag} {
		if !variesOnHTMX(res.Header) {
			t.Errorf("Vary = %v, want HX-Request: the page and the fragment share a URL", res.Header.Values("Vary"))
		}
	}
}

func TestTokenSearchFiltersByNameInAnyCaseAndKeepsTheSearchInPageLinks(t *testing.T) {
	// 55 leaf tokens in three spellings of the word, and 5 others.
	spellings := []string{"Leaf", "leaf", "LEAF"}
	_, dev, seeded := startWithTokens(t, 60, func(i int) string {
		if i%12 == 0 {
			return fmt.Sprintf("deploy & co %02d", i)
		}
		return fmt.Sprintf("%s node %02d", spellings[i%3], i)
	})
	var leaves, others []seededToken
	for _, s := range seeded {
		if strings.HasPrefix(s.Name, "deploy") {
			others = append(others, s)
		} else {
			leaves = append(leaves, s)
		}
	}

	first := dev.Get("/api-tokens?q=lEaF")
	if !strings.Contains(first.Body, "Showing 1–50 of 55") || !strings.Contains(first.Body, "matching “lEaF”") {
		t.Errorf("the search does not say it shows 1–50 of 55 matching “lEaF”")
	}
	if got, want := rowIDs(first.Body), idsNewestFirst(leaves, 5, 55); !slices.Equal(got, want) {
		t.Fatalf("search page 1 = %v, want the 50 newest leaf tokens %v", got, want)
	}
	if !strings.Contains(first.Body, `name="q" value="lEaF"`) {
		t.Error("the search box does not keep what was searched")
	}
	if !strings.Contains(first.Body, `<form class="toolbar" method="get" action="/api-tokens" role="search"`) {
		t.Error("the search is not a plain GET form (it must work without JavaScript)")
	}
	next := pagerLink(first.Body, "next")
	if next != "/api-tokens?page=2&q=lEaF" {
		t.Fatalf("the search's Next = %q, want /api-tokens?page=2&q=lEaF", next)
	}
	second := dev.Get(next)
	if got, want := rowIDs(second.Body), idsNewestFirst(leaves, 0, 5); !slices.Equal(got, want) {
		t.Fatalf("search page 2 = %v, want the 5 oldest leaf tokens %v", got, want)
	}
	if got := pagerLink(second.Body, "prev"); got != "/api-tokens?page=1&q=lEaF" {
		t.Errorf("the search's Previous = %q, want /api-tokens?page=1&q=lEaF", got)
	}
	// The htmx list refreshes the page it shows, search included.
	frag := dev.Get(next, hx)
	if got := attr(frag.Body, "hx-get"); got != next {
		t.Errorf("the list refreshes from %q, want %q", got, next)
	}

	wantSearchesForURLAndHTMLCharacters(t, dev, others)
}

// wantSearchesForURLAndHTMLCharacters searches with characters that mean
// something in a URL or in HTML; others are the "deploy & co" tokens.
func wantSearchesForURLAndHTMLCharacters(t *testing.T, dev *knottest.Client, others []seededToken) {
	t.Helper()
	amp := dev.Get("/api-tokens?q=" + url.QueryEscape("DEPLOY & co"))
	if got, want := rowIDs(amp.Body), idsNewestFirst(others, 0, len(others)); !slices.Equal(got, want) {
		t.Fatalf("search “DEPLOY & co” = %v, want %v", got, want)
	}
	if strings.Contains(amp.Body, `rel="next"`) {
		t.Error("five results have a next page")
	}

	none := dev.Get("/api-tokens?q=" + url.QueryEscape("<b>nope</b>"))
	if !strings.Contains(none.Body, "No tokens match “&lt;b&gt;nope&lt;/b&gt;”.") || len(rowIDs(none.Body)) != 0 {
		t.Fatalf("a search with no match does not say so: %.3000s", none.Body)
	}
	if strings.Contains(none.Body, "Showing") || strings.Contains(none.Body, `class="pager"`) {
		t.Error("a search with no match still shows a count or pages")
	}
	if strings.Contains(none.Body, "You have no API tokens yet") {
		t.Error("a search with no match says there are no tokens at all")
	}
}

func TestTokenSecretIsForItsOwnerOnlyAndNeverStored(t *testing.T) {
	srv, admin := startAdmin(t)
	srv.CreateUser("dev", "dev@example.com", devPassword, models.DeveloperRoleID)
	dev := srv.Login("dev@example.com", devPassword)
	id, token := admin.CreateAPIToken("Leaf Test")
	secret := fmt.Sprintf("/api-tokens/%d/secret", id)

	res := admin.Get(secret)
	if res.StatusCode != http.StatusOK || res.Body != token {
		t.Fatalf("GET %s = %d %q, want 200 with the token", secret, res.StatusCode, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	if cc := res.Header.Values("Cache-Control"); !slices.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if got := res.Header.Get("Cross-Origin-Resource-Policy"); got != "same-origin" {
		t.Errorf("Cross-Origin-Resource-Policy = %q, want same-origin", got)
	}

	// Another user's token looks like no token at all.
	other := dev.Get(secret)
	if other.StatusCode != http.StatusNotFound || strings.Contains(other.Body, token) {
		t.Fatalf("another user's GET %s = %d, want 404 without the token", secret, other.StatusCode)
	}
	if missing := admin.Get(fmt.Sprintf("/api-tokens/%d/secret", id+1000)); missing.StatusCode != http.StatusNotFound {
		t.Fatalf("a missing token's secret = %d, want 404", missing.StatusCode)
	}
	// Signed out: off to the sign-in page; a bearer token is no session.
	anon := srv.Client().Get(secret)
	if anon.StatusCode != http.StatusSeeOther || !strings.HasPrefix(anon.Header.Get("Location"), "/login") || strings.Contains(anon.Body, token) {
		t.Fatalf("signed out GET %s = %d to %q, want 303 to /login", secret, anon.StatusCode, anon.Header.Get("Location"))
	}
	if res := srv.Client().Get(secret, bearer(token)); res.StatusCode == http.StatusOK {
		t.Fatal("a bearer token fetched a token's secret")
	}
	if strings.Contains(srv.Logs.String(), token) {
		t.Fatal("the log holds the token")
	}
}

func TestTokenPageOfAThousandTokensStaysSmall(t *testing.T) {
	_, dev, seeded := startWithTokens(t, 1000, func(i int) string { return fmt.Sprintf("automation token number %04d", i) })
	res := dev.Get("/api-tokens")
	if res.StatusCode != http.StatusOK || len(rowIDs(res.Body)) != 50 || !strings.Contains(res.Body, "Showing 1–50 of 1,000") {
		t.Fatalf("GET /api-tokens = %d with %d rows", res.StatusCode, len(rowIDs(res.Body)))
	}
	// A page of a thousand tokens stays small; before paging it was over 900 KB.
	if n := len(res.Body); n > 100<<10 {
		t.Errorf("the page is %d bytes, want at most 100 KB", n)
	}
	if strings.Contains(res.Body, seeded[len(seeded)-1].Plain) {
		t.Error("the page carries a full token")
	}
	// The JSON API still lists every token, newest first.
	list := listTokens(t, dev)
	if len(list) != 1000 || list[0].ID != seeded[999].ID || list[999].ID != seeded[0].ID {
		t.Fatalf("GET /api/tokens lists %d tokens, want all 1,000 newest first", len(list))
	}
}

func TestATokenThatCannotBeDecryptedIsListedButNotCopied(t *testing.T) {
	srv, dev, seeded := startWithTokens(t, 2, func(i int) string { return fmt.Sprintf("token %d", i) })
	broken := seeded[0]
	// As if server.encrypt had been replaced since: the ciphertext no longer opens.
	if err := srv.Server.DB().Exec(`UPDATE api_tokens SET token_cipher = 'not a ciphertext' WHERE id = ?`, broken.ID).Error; err != nil {
		t.Fatal(err)
	}
	page := dev.Get("/api-tokens")
	if page.StatusCode != http.StatusOK || !slices.Equal(rowIDs(page.Body), []uint{seeded[1].ID, broken.ID}) {
		t.Fatalf("GET /api-tokens = %d with rows %v, want both tokens listed", page.StatusCode, rowIDs(page.Body))
	}
	res := dev.Get(fmt.Sprintf("/api-tokens/%d/secret", broken.ID))
	if res.StatusCode != http.StatusConflict || !strings.Contains(res.Body, "cannot be copied") {
		t.Fatalf("the broken token's secret = %d %.200s, want 409 saying it cannot be copied", res.StatusCode, res.Body)
	}
	if res := dev.Get(fmt.Sprintf("/api-tokens/%d/secret", seeded[1].ID)); res.Body != seeded[1].Plain {
		t.Fatal("the other token cannot be copied any more")
	}
}
