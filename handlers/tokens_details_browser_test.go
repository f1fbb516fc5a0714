package handlers_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

// TestTokenPageDetailsInABrowser checks the API Tokens page's finer points
// in headless Chromium: Escape closes the New Token form; Enter pressed
// twice fast makes one token, no error and no page load (the button is
// disabled while the request is in flight); the new-token card can be
// dismissed from the keyboard; times are relative with the exact time in
// a title.
func TestTokenPageDetailsInABrowser(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	srv.CreateUser("dev", "dev@example.com", "devpassword", models.DeveloperRoleID)
	tab := knottest.Browser(t)
	ctx, cancel := context.WithTimeout(tab, 45*time.Second)
	defer cancel()

	consoleCtx, stopConsole := context.WithCancel(ctx)
	var problems []string
	consoleDone := make(chan struct{})
	messages := chromedp.Console(consoleCtx)
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
			dctx, dcancel := context.WithTimeout(tab, 5*time.Second)
			defer dcancel()
			where, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.outerHTML`))
			t.Fatalf("%s: %v\npage: %.3000s", what, err, where)
		}
	}
	eval := func(what, js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	sameTab := func(what string) {
		t.Helper()
		if got := eval("read the marker", `String(window.knotNoReload)`); got != "same page" {
			t.Fatalf("%s reloaded the page", what)
		}
	}

	step("sign in and open API Tokens",
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.ID("email"), "dev@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "devpassword"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.sidebar a[href="/api-tokens"]`)),
		chromedp.Navigate(srv.URL+"/api-tokens"),
		chromedp.WaitVisible(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
		chromedp.Poll[chromedp.Void](`document.readyState === "complete" && !!window.htmx`),
	)
	eval("mark the page", `window.knotNoReload = "same page"`)
	// Whether the submit button was disabled as each create went out.
	eval("watch the requests", `window.knotInFlight = []; document.addEventListener("htmx:beforeSend", function (e) {
		var b = document.querySelector("#token-form button[type=submit]");
		if (e.detail.requestConfig.verb === "post") window.knotInFlight.push(String(!!b && b.disabled));
	}); ""`)

	step("open the form and press Escape",
		chromedp.Click(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
		chromedp.WaitVisible(chromedp.ID("token-name")),
		chromedp.Focus(chromedp.ID("token-name")),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotPresent(chromedp.ID("token-form")),
		chromedp.WaitVisible(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
	)
	if got := eval("focus", `String(document.activeElement.matches('#token-panel a[href="/api-tokens/new"]'))`); got != "true" {
		t.Error("after Escape focus is not on New Token")
	}
	sameTab("Escape")

	step("type a name and press Enter twice fast",
		chromedp.Poll[chromedp.Void](`!!document.querySelector('#token-panel a[href="/api-tokens/new"]')`),
		chromedp.Click(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
		chromedp.WaitVisible(chromedp.ID("token-name")),
		chromedp.SendKeys(chromedp.ID("token-name"), "Leaf Test"),
		chromedp.KeyEvent(kb.Enter+kb.Enter),
		chromedp.WaitVisible(chromedp.ID("new-token-value")),
		chromedp.Sleep(700*time.Millisecond),
	)
	sameTab("Enter twice")
	if got := eval("focus", `String(document.activeElement.matches("#token-created button[data-copy]"))`); got != "true" {
		t.Error("after a create focus is not on the new token's Copy button")
	}
	if n := eval("rows", `String(document.querySelectorAll("#token-rows tr.token-row").length)`); n != "1" {
		t.Fatalf("Enter twice made %s token rows, want 1", n)
	}
	if e := eval("errors", `String(!!document.querySelector("#token-name-error, .field-error, .alert"))`); e != "false" {
		t.Fatal("Enter twice showed an error")
	}
	if got := eval("in flight", `window.knotInFlight.join(",")`); got != "true" {
		t.Errorf("creates sent (submit button disabled?) = %q, want one, with the button disabled", got)
	}

	// Created and last-used times are relative, the exact time in a title.
	created := eval("created time", `(function(){ var e = document.querySelector("#token-rows tr.token-row time.relative"); return [e.textContent, e.getAttribute("title"), e.getAttribute("datetime"), e.tabIndex].join("|") })()`)
	if !regexp.MustCompile(`^just now\|\d{4}-\d\d-\d\d \d\d:\d\d UTC\|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\|0$`).MatchString(created) {
		t.Errorf("created time = %q, want just now with the exact time in a focusable <time>", created)
	}

	step("dismiss the new token from the keyboard",
		chromedp.Focus(chromedp.CSS(`#token-created button[data-dismiss]`)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitNotPresent(chromedp.ID("token-created")),
	)
	if got := eval("focus", `document.activeElement.id`); got != "token-name" {
		t.Errorf("after Dismiss focus is on %q, want the name field", got)
	}
	sameTab("Dismiss")

	stopConsole()
	<-consoleDone
	for _, p := range problems {
		t.Errorf("the page logged %s", p)
	}
}
