package handlers_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/models"
)

// TestTokenJourneyInABrowser walks the README's leaf step 2 in headless
// Chromium: what only a browser proves (htmx swaps without a reload, the
// clipboard, the confirmation dialog) end to end.
func TestTokenJourneyInABrowser(t *testing.T) {
	srv, _ := startWithDev(t)
	b := openTokenTab(t, srv, 30*time.Second)
	b.grantClipboard()
	b.watchConsole()

	b.signInAsDev()
	b.step("open API Tokens",
		chromedp.Click(chromedp.CSS(`nav.sidebar a[href="/api-tokens"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
		htmxReady,
	)
	b.markTab()

	shown := createTokenInTheBrowser(b)
	copied := copyTokenInTheBrowser(b, shown)
	// The copied token works from a script.
	if res := whoamiWith(srv, copied); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `"username":"dev"`) {
		t.Fatalf("whoami with the copied token = %d %s", res.StatusCode, res.Body)
	}
	deleteTokenInTheBrowser(b)
	if res := whoamiWith(srv, copied); res.StatusCode != http.StatusUnauthorized || res.Body != badToken {
		t.Fatalf("the deleted token = %d %s, want 401", res.StatusCode, res.Body)
	}

	// Nothing the page did was refused by the CSP or threw.
	b.checkConsole()
}

// createTokenInTheBrowser makes "Leaf Test" with the New Token form and
// returns the token shown once.
func createTokenInTheBrowser(b *tokenTab) string {
	t := b.t
	t.Helper()
	b.step("New Token",
		chromedp.Click(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
		chromedp.WaitVisible(chromedp.ID("token-name")),
		chromedp.SendKeys(chromedp.ID("token-name"), "Leaf Test"),
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#token-rows tr.token-row button[data-copy-url]`)),
		chromedp.WaitVisible(chromedp.ID("new-token-value")),
	)
	b.sameTab("creating the token")
	if got := b.eval("row name", `document.querySelector("#token-rows tr.token-row .token-name").textContent`); got != "Leaf Test" {
		t.Fatalf("the new row's name is %q", got)
	}
	shown := b.eval("token shown once", `document.getElementById("new-token-value").textContent`)
	if !models.WellFormedToken(shown) {
		t.Fatalf("the token shown is %q", shown)
	}
	if got := b.eval("empty-state row", `getComputedStyle(document.querySelector("#token-rows .no-tokens")).display`); got != "none" {
		t.Fatalf("the empty-list message still shows beside a token (display %q)", got)
	}
	return shown
}

// copyTokenInTheBrowser copies the token shown once with its own Copy
// button, then again with Copy on its row, and returns what the row's Copy
// put in the clipboard.
func copyTokenInTheBrowser(b *tokenTab, shown string) string {
	t := b.t
	t.Helper()
	// The Copy button beside the token shown once says so in its own panel.
	b.step("copy the new token", chromedp.Click(chromedp.CSS(`#token-created button[data-copy]`)))
	b.step("the panel says Copied", chromedp.Poll[chromedp.Void](`document.querySelector("#token-created [data-copy-status]").textContent === "Copied the new token"`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if got := b.clipboard(); got != shown {
		t.Fatalf("after Copy the clipboard holds %q, want the token", got)
	}
	b.eval("clear the clipboard", `navigator.clipboard.writeText("").then(() => "")`, chromedp.EvalAwaitPromise)

	// The list carries no full token: Copy fetches it from the server.
	if got := b.eval("tokens in the list", `String(document.getElementById("token-list").outerHTML.includes(document.getElementById("new-token-value").textContent))`); got != "false" {
		t.Fatal("the list carries the full token")
	}
	b.step("click Copy on the row", chromedp.Click(chromedp.CSS(`#token-rows tr.token-row button[data-copy-url]`)))
	b.step("the page says Copied", chromedp.Poll[chromedp.Void](`document.getElementById("token-copy-status").textContent.includes("Copied")`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if got := b.eval("copy status", `document.getElementById("token-copy-status").textContent`); got != "Copied token “Leaf Test” to the clipboard" {
		t.Fatalf("copy status = %q", got)
	}
	b.sameTab("clicking Copy")
	copied := b.clipboard()
	if copied != shown {
		t.Fatalf("clipboard holds %q, want the token %q", copied, shown)
	}
	return copied
}

// deleteTokenInTheBrowser deletes the only token, accepting the
// confirmation (a <dialog>, not confirm()) that names it.
func deleteTokenInTheBrowser(b *tokenTab) {
	t := b.t
	t.Helper()
	b.step("delete asks",
		chromedp.Click(chromedp.CSS(`#token-rows tr.token-row button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog#confirm-dialog[open]`)),
	)
	if msg := b.eval("the question", `document.getElementById("confirm-dialog").textContent`); !strings.Contains(msg, "“Leaf Test”") {
		t.Fatalf("the confirmation %q does not name the token", msg)
	}
	b.step("confirm",
		chromedp.Click(chromedp.CSS(`#confirm-dialog [data-dialog-confirm]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#token-rows tr.token-row`)),
	)
	b.sameTab("deleting the token")
	if got := b.eval("empty-state row", `getComputedStyle(document.querySelector("#token-rows .no-tokens")).display`); got == "none" {
		t.Fatal("the empty-list message does not come back after the last delete")
	}
}

// TestTokenListPagesSearchesAndCopiesInABrowser walks a long token list in
// headless Chromium: Next swaps in the second page (and its address)
// without a reload, Copy on that page fetches the full token into the
// clipboard, typing searches, and Back returns to the first page.
func TestTokenListPagesSearchesAndCopiesInABrowser(t *testing.T) {
	srv, _, seeded := startWithTokens(t, 60, func(i int) string { return fmt.Sprintf("token %02d", i) })
	b := openTokenTab(t, srv, 30*time.Second)
	b.grantClipboard()

	b.signInAsDev()
	b.step("open API Tokens", chromedp.Navigate(srv.URL+"/api-tokens"), tokenCount("Showing 1–50 of 60"), htmxReady)
	if got := b.eval("Copy shows with JavaScript", `getComputedStyle(document.querySelector("#token-rows button[data-copy-url]")).display`); got == "none" {
		t.Fatal("the Copy buttons are hidden although JavaScript runs")
	}
	b.markTab()

	// The first row of page 2 is the tenth token made.
	copyOnTheSecondPage(b, seeded[9])
	searchThenGoBack(b)
}

// tokenCount waits until the list says want in its count.
func tokenCount(want string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`(document.getElementById("token-count") || {}).textContent?.includes(`+strconv.Quote(want)+`) === true`,
		chromedp.WithPollingTimeout(10*time.Second))
}

// copyOnTheSecondPage follows Next and copies the first token there, want.
func copyOnTheSecondPage(b *tokenTab, want seededToken) {
	t := b.t
	t.Helper()
	b.step("Next", chromedp.Click(chromedp.CSS(`nav.pager a[rel=next]`)), tokenCount("Showing 51–60 of 60"))
	if got := b.eval("address", `location.pathname + location.search`); got != "/api-tokens?page=2" {
		t.Errorf("after Next the address is %q, want /api-tokens?page=2", got)
	}
	b.sameTab("Next (instead of swapping the list)")

	if got := b.eval("first row", `document.querySelector("#token-rows tr.token-row .token-name").textContent`); got != want.Name {
		t.Fatalf("page 2 starts with %q, want %q", got, want.Name)
	}
	b.step("Copy on page 2",
		chromedp.Click(chromedp.CSS(`#token-rows tr.token-row button[data-copy-url]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("token-copy-status").textContent.includes("Copied")`, chromedp.WithPollingTimeout(10*time.Second)),
	)
	if got := b.eval("copy status", `document.getElementById("token-copy-status").textContent`); got != "Copied token “"+want.Name+"” to the clipboard" {
		t.Errorf("copy status = %q", got)
	}
	if got := b.clipboard(); got != want.Plain {
		t.Fatalf("after Copy the clipboard holds %q, want the token of %q", got, want.Name)
	}
}

// searchThenGoBack types a search, then goes Back to the first page.
func searchThenGoBack(b *tokenTab) {
	t := b.t
	t.Helper()
	b.step("search as you type", chromedp.SendKeys(chromedp.ID("token-search"), "TOKEN 0"), tokenCount("Showing 1–10 of 10 matching “TOKEN 0”"))
	if got := b.eval("address", `location.pathname + "|" + new URLSearchParams(location.search).get("q")`); got != "/api-tokens|TOKEN 0" {
		t.Errorf("after the search the address is %q, want /api-tokens?q=TOKEN 0", got)
	}
	b.sameTab("the search (instead of swapping the list)")

	// Back restores the first page; htmx keeps no copy of this page (it may
	// hold a new token), so it asks the server for it again.
	b.step("Back", chromedp.Evaluate[chromedp.Void](`history.back()`), tokenCount("Showing 1–50 of 60"))
	if got := b.eval("address", `location.pathname + location.search`); got != "/api-tokens" {
		t.Errorf("after Back the address is %q, want /api-tokens", got)
	}
	if got := b.eval("history cache", `String(localStorage.getItem("htmx-history-cache"))`); strings.Contains(got, "token-") {
		t.Error("htmx saved the token page into localStorage")
	}
}
