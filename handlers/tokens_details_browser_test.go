package handlers_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestTokenPageDetailsInABrowser checks the API Tokens page's finer points
// in headless Chromium: Escape closes the New Token form; Enter pressed
// twice fast makes one token, no error and no page load (the button is
// disabled while the request is in flight); the new-token card can be
// dismissed from the keyboard; times are relative with the exact time in
// a title.
func TestTokenPageDetailsInABrowser(t *testing.T) {
	b := devTokenTab(t, 45*time.Second)
	b.watchConsole()

	b.signInAsDev()
	b.step("open API Tokens",
		chromedp.Navigate(b.srv.URL+"/api-tokens"),
		chromedp.WaitVisible(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
		htmxReady,
	)
	b.markTab()
	// Whether the submit button was disabled as each create went out.
	b.eval("watch the requests", `window.knotInFlight = []; document.addEventListener("htmx:beforeSend", function (e) {
		var b = document.querySelector("#token-form button[type=submit]");
		if (e.detail.requestConfig.verb === "post") window.knotInFlight.push(String(!!b && b.disabled));
	}); ""`)

	escapeClosesTheTokenForm(b)
	enterTwiceMakesOneToken(b)
	dismissTheNewTokenFromTheKeyboard(b)
	b.checkConsole()
}

func escapeClosesTheTokenForm(b *tokenTab) {
	b.t.Helper()
	b.step("open the form and press Escape",
		chromedp.Click(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
		chromedp.WaitVisible(chromedp.ID("token-name")),
		chromedp.Focus(chromedp.ID("token-name")),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotPresent(chromedp.ID("token-form")),
		chromedp.WaitVisible(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
	)
	if got := b.eval("focus", `String(document.activeElement.matches('#token-panel a[href="/api-tokens/new"]'))`); got != "true" {
		b.t.Error("after Escape focus is not on New Token")
	}
	b.sameTab("Escape")
}

func enterTwiceMakesOneToken(b *tokenTab) {
	t := b.t
	t.Helper()
	b.step("type a name and press Enter twice fast",
		chromedp.Poll[chromedp.Void](`!!document.querySelector('#token-panel a[href="/api-tokens/new"]')`),
		chromedp.Click(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
		chromedp.WaitVisible(chromedp.ID("token-name")),
		chromedp.SendKeys(chromedp.ID("token-name"), "Leaf Test"),
		chromedp.KeyEvent(kb.Enter+kb.Enter),
		chromedp.WaitVisible(chromedp.ID("new-token-value")),
		chromedp.Sleep(700*time.Millisecond),
	)
	b.sameTab("Enter twice")
	if got := b.eval("focus", `String(document.activeElement.matches("#token-created button[data-copy]"))`); got != "true" {
		t.Error("after a create focus is not on the new token's Copy button")
	}
	if n := b.eval("rows", `String(document.querySelectorAll("#token-rows tr.token-row").length)`); n != "1" {
		t.Fatalf("Enter twice made %s token rows, want 1", n)
	}
	if e := b.eval("errors", `String(!!document.querySelector("#token-name-error, .field-error, .alert"))`); e != "false" {
		t.Fatal("Enter twice showed an error")
	}
	if got := b.eval("in flight", `window.knotInFlight.join(",")`); got != "true" {
		t.Errorf("creates sent (submit button disabled?) = %q, want one, with the button disabled", got)
	}

	// Created and last-used times are relative, the exact time in a title.
	created := b.eval("created time", `(function(){ var e = document.querySelector("#token-rows tr.token-row time.relative"); return [e.textContent, e.getAttribute("title"), e.getAttribute("datetime"), e.tabIndex].join("|") })()`)
	if !regexp.MustCompile(`^just now\|\d{4}-\d\d-\d\d \d\d:\d\d UTC\|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\|0$`).MatchString(created) {
		t.Errorf("created time = %q, want just now with the exact time in a focusable <time>", created)
	}
}

func dismissTheNewTokenFromTheKeyboard(b *tokenTab) {
	b.t.Helper()
	b.step("dismiss the new token from the keyboard",
		chromedp.Focus(chromedp.CSS(`#token-created button[data-dismiss]`)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitNotPresent(chromedp.ID("token-created")),
	)
	if got := b.eval("focus", `document.activeElement.id`); got != "token-name" {
		b.t.Errorf("after Dismiss focus is on %q, want the name field", got)
	}
	b.sameTab("Dismiss")
}
