package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

// TestTokenJourneyInABrowser walks the README's leaf step 2 in headless
// Chromium: what only a browser proves (htmx swaps without a reload, the
// clipboard, the confirmation dialog) end to end.
func TestTokenJourneyInABrowser(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	srv.CreateUser("dev", "dev@example.com", "devpassword", models.DeveloperRoleID)
	tab := knottest.Browser(t)
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()

	// http://127.0.0.1 is a secure context, so the page may use the async
	// clipboard API once these permissions are granted for its origin.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
			Setting:    browser.PermissionSettingGranted,
			Origin:     srv.URL,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	// Collect what the page logs: a CSP violation or script error is a bug.
	consoleCtx, stopConsole := context.WithCancel(ctx)
	var problems []string
	consoleDone := make(chan struct{})
	messages := chromedp.Console(consoleCtx) // subscribed from here on
	go func() {
		defer close(consoleDone)
		for msg, err := range messages {
			if err != nil {
				return
			}
			if msg.Type == chromedp.ConsoleException || msg.Type == chromedp.ConsoleError {
				problems = append(problems, msg.String())
			}
		}
	}()

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			// Show where the page was, read with a fresh deadline since
			// the step's may be spent.
			dctx, dcancel := context.WithTimeout(tab, 5*time.Second)
			defer dcancel()
			where, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.outerHTML`))
			t.Fatalf("%s: %v\npage: %.3000s", what, err, where)
		}
	}
	eval := func(what, js string, opts ...chromedp.EvaluateOption) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, opts...))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}

	step("sign in",
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.ID("email"), "dev@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "devpassword"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.sidebar a[href="/api-tokens"]`)),
	)
	step("open API Tokens",
		chromedp.Click(chromedp.CSS(`nav.sidebar a[href="/api-tokens"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
		// The link is visible before htmx has processed the page; a click
		// then would be a plain navigation (seen on a loaded CI machine).
		chromedp.Poll[chromedp.Void](`document.readyState === "complete" && !!window.htmx`),
	)
	// A marker on window survives htmx swaps but not a page load.
	eval("mark the page", `window.knotNoReload = "same page"`)

	step("New Token",
		chromedp.Click(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
		chromedp.WaitVisible(chromedp.ID("token-name")),
		chromedp.SendKeys(chromedp.ID("token-name"), "Leaf Test"),
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#token-rows tr.token-row button[data-copy-url]`)),
		chromedp.WaitVisible(chromedp.ID("new-token-value")),
	)
	if got := eval("read the marker", `String(window.knotNoReload)`); got != "same page" {
		t.Fatal("creating the token reloaded the page")
	}
	if got := eval("row name", `document.querySelector("#token-rows tr.token-row .token-name").textContent`); got != "Leaf Test" {
		t.Fatalf("the new row's name is %q", got)
	}
	shown := eval("token shown once", `document.getElementById("new-token-value").textContent`)
	if !models.WellFormedToken(shown) {
		t.Fatalf("the token shown is %q", shown)
	}
	if got := eval("empty-state row", `getComputedStyle(document.querySelector("#token-rows .no-tokens")).display`); got != "none" {
		t.Fatalf("the empty-list message still shows beside a token (display %q)", got)
	}

	// The Copy button beside the token shown once says so in its own panel.
	step("copy the new token", chromedp.Click(chromedp.CSS(`#token-created button[data-copy]`)))
	step("the panel says Copied", chromedp.Poll[chromedp.Void](`document.querySelector("#token-created [data-copy-status]").textContent === "Copied the new token"`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if got := eval("read the clipboard", `navigator.clipboard.readText()`, chromedp.EvalAwaitPromise); got != shown {
		t.Fatalf("after Copy the clipboard holds %q, want the token", got)
	}
	eval("clear the clipboard", `navigator.clipboard.writeText("").then(() => "")`, chromedp.EvalAwaitPromise)

	// The list carries no full token: Copy fetches it from the server.
	if got := eval("tokens in the list", `String(document.getElementById("token-list").outerHTML.includes(document.getElementById("new-token-value").textContent))`); got != "false" {
		t.Fatal("the list carries the full token")
	}
	step("click Copy on the row", chromedp.Click(chromedp.CSS(`#token-rows tr.token-row button[data-copy-url]`)))
	step("the page says Copied", chromedp.Poll[chromedp.Void](`document.getElementById("token-copy-status").textContent.includes("Copied")`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if got := eval("copy status", `document.getElementById("token-copy-status").textContent`); got != "Copied token “Leaf Test” to the clipboard" {
		t.Fatalf("copy status = %q", got)
	}
	if got := eval("still the same page", `String(window.knotNoReload)`); got != "same page" {
		t.Fatal("clicking Copy navigated away instead of copying")
	}
	copied := eval("read the clipboard", `navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)
	if copied != shown {
		t.Fatalf("clipboard holds %q, want the token %q", copied, shown)
	}

	// The copied token works from a script.
	if res := whoamiWith(srv, copied); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `"username":"dev"`) {
		t.Fatalf("whoami with the copied token = %d %s", res.StatusCode, res.Body)
	}

	// Delete, accepting the confirmation (a <dialog>, not confirm()) that
	// names the token.
	step("delete asks",
		chromedp.Click(chromedp.CSS(`#token-rows tr.token-row button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog#confirm-dialog[open]`)),
	)
	if msg := eval("the question", `document.getElementById("confirm-dialog").textContent`); !strings.Contains(msg, "“Leaf Test”") {
		t.Fatalf("the confirmation %q does not name the token", msg)
	}
	step("confirm",
		chromedp.Click(chromedp.CSS(`#confirm-dialog [data-dialog-confirm]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#token-rows tr.token-row`)),
	)
	if got := eval("read the marker", `String(window.knotNoReload)`); got != "same page" {
		t.Fatal("deleting the token reloaded the page")
	}
	if got := eval("empty-state row", `getComputedStyle(document.querySelector("#token-rows .no-tokens")).display`); got == "none" {
		t.Fatal("the empty-list message does not come back after the last delete")
	}
	if res := whoamiWith(srv, copied); res.StatusCode != http.StatusUnauthorized || res.Body != badToken {
		t.Fatalf("the deleted token = %d %s, want 401", res.StatusCode, res.Body)
	}

	// Nothing the page did was refused by the CSP or threw.
	stopConsole()
	<-consoleDone
	for _, p := range problems {
		t.Errorf("the page logged %s", p)
	}
}

// TestTokenListPagesSearchesAndCopiesInABrowser walks a long token list in
// headless Chromium: Next swaps in the second page (and its address)
// without a reload, Copy on that page fetches the full token into the
// clipboard, typing searches, and Back returns to the first page.
func TestTokenListPagesSearchesAndCopiesInABrowser(t *testing.T) {
	srv, _, seeded := startWithTokens(t, 60, func(i int) string { return fmt.Sprintf("token %02d", i) })
	tab := knottest.Browser(t)
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
			Setting:    browser.PermissionSettingGranted,
			Origin:     srv.URL,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			dctx, dcancel := context.WithTimeout(tab, 5*time.Second)
			defer dcancel()
			where, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.outerHTML`))
			t.Fatalf("%s: %v\npage: %.3000s", what, err, where)
		}
	}
	eval := func(what, js string, opts ...chromedp.EvaluateOption) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, opts...))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	count := func(want string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](`(document.getElementById("token-count") || {}).textContent?.includes(`+strconv.Quote(want)+`) === true`,
			chromedp.WithPollingTimeout(10*time.Second))
	}

	step("sign in",
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.ID("email"), "dev@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), devPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.sidebar a[href="/api-tokens"]`)),
	)
	step("open API Tokens",
		chromedp.Navigate(srv.URL+"/api-tokens"),
		count("Showing 1–50 of 60"),
		// As in the journey test: a click before htmx is ready would navigate.
		chromedp.Poll[chromedp.Void](`document.readyState === "complete" && !!window.htmx`),
	)
	if got := eval("Copy shows with JavaScript", `getComputedStyle(document.querySelector("#token-rows button[data-copy-url]")).display`); got == "none" {
		t.Fatal("the Copy buttons are hidden although JavaScript runs")
	}
	eval("mark the page", `window.knotNoReload = "same page"`)

	step("Next", chromedp.Click(chromedp.CSS(`nav.pager a[rel=next]`)), count("Showing 51–60 of 60"))
	if got := eval("address", `location.pathname + location.search`); got != "/api-tokens?page=2" {
		t.Errorf("after Next the address is %q, want /api-tokens?page=2", got)
	}
	if got := eval("read the marker", `String(window.knotNoReload)`); got != "same page" {
		t.Fatal("Next reloaded the page instead of swapping the list")
	}

	// The first row of page 2 is the tenth token made.
	want := seeded[9]
	if got := eval("first row", `document.querySelector("#token-rows tr.token-row .token-name").textContent`); got != want.Name {
		t.Fatalf("page 2 starts with %q, want %q", got, want.Name)
	}
	step("Copy on page 2",
		chromedp.Click(chromedp.CSS(`#token-rows tr.token-row button[data-copy-url]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("token-copy-status").textContent.includes("Copied")`, chromedp.WithPollingTimeout(10*time.Second)),
	)
	if got := eval("copy status", `document.getElementById("token-copy-status").textContent`); got != "Copied token “"+want.Name+"” to the clipboard" {
		t.Errorf("copy status = %q", got)
	}
	if got := eval("read the clipboard", `navigator.clipboard.readText()`, chromedp.EvalAwaitPromise); got != want.Plain {
		t.Fatalf("after Copy the clipboard holds %q, want the token of %q", got, want.Name)
	}

	step("search as you type", chromedp.SendKeys(chromedp.ID("token-search"), "TOKEN 0"), count("Showing 1–10 of 10 matching “TOKEN 0”"))
	if got := eval("address", `location.pathname + "|" + new URLSearchParams(location.search).get("q")`); got != "/api-tokens|TOKEN 0" {
		t.Errorf("after the search the address is %q, want /api-tokens?q=TOKEN 0", got)
	}
	if got := eval("read the marker", `String(window.knotNoReload)`); got != "same page" {
		t.Fatal("the search reloaded the page instead of swapping the list")
	}

	// Back restores the first page; htmx keeps no copy of this page (it may
	// hold a new token), so it asks the server for it again.
	step("Back", chromedp.Evaluate[chromedp.Void](`history.back()`), count("Showing 1–50 of 60"))
	if got := eval("address", `location.pathname + location.search`); got != "/api-tokens" {
		t.Errorf("after Back the address is %q, want /api-tokens", got)
	}
	if got := eval("history cache", `String(localStorage.getItem("htmx-history-cache"))`); strings.Contains(got, "token-") {
		t.Error("htmx saved the token page into localStorage")
	}
}
