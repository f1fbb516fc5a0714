package handlers_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/knottest"
)

// chooseTheme picks theme ("system", "light" or "dark") in the topbar's
// Theme select the way a visitor does: a new value and a change event.
func chooseTheme(theme string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(function () {
		var sel = document.querySelector("[data-theme-choice]");
		sel.focus();
		sel.value = ` + strconv.Quote(theme) + `;
		sel.dispatchEvent(new Event("change", { bubbles: true }));
	})()`)
}

// The theme is a labelled choice of System, Light and Dark: the choice
// outlives a reload and is shown in the select, and System removes the
// override so that the page follows prefers-color-scheme again.
func TestTheThemeChoiceIsKeptAndSystemFollowsTheSystem(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	b := startBrowser(t)
	load := func(what string) {
		t.Helper()
		b.do(t, what, chromedp.Navigate(srv.URL+"/login"), chromedp.WaitVisible(chromedp.CSS("#email")))
	}
	bg := `getComputedStyle(document.documentElement).getPropertyValue("--bg").trim()`
	load("open the sign-in page")
	b.do(t, "follow a light system", knottest.UseTheme(knottest.Light))
	load("reload in the light system")
	if got := b.eval(t, `document.querySelector("label[for=theme-choice]").textContent.trim()`); got != "Theme" {
		t.Errorf("the theme select's label reads %q, want Theme", got)
	}
	if got := b.eval(t, `document.querySelector("[data-theme-choice]").value`); got != "system" {
		t.Errorf("with nothing chosen the select shows %q, want system", got)
	}
	lightBg := b.eval(t, bg)

	b.do(t, "choose Dark", chooseTheme("dark"))
	darkBg := b.eval(t, bg)
	if darkBg == lightBg {
		t.Fatalf("choosing Dark left the background at %s", darkBg)
	}
	load("reload after choosing Dark")
	for js, want := range map[string]string{
		`document.documentElement.dataset.theme || ""`:        "dark",
		`document.querySelector("[data-theme-choice]").value`: "dark",
		`localStorage.getItem("knot-theme") || ""`:            "dark",
		bg: darkBg,
	} {
		if got := b.eval(t, js); got != want {
			t.Errorf("after a reload %s = %q, want %q", js, got, want)
		}
	}

	b.do(t, "choose System", chooseTheme("system"))
	load("reload after choosing System")
	for js, want := range map[string]string{
		`document.documentElement.dataset.theme || ""`:        "",
		`document.querySelector("[data-theme-choice]").value`: "system",
		`String(localStorage.getItem("knot-theme"))`:          "null",
		bg: lightBg,
	} {
		if got := b.eval(t, js); got != want {
			t.Errorf("with System chosen %s = %q, want %q", js, got, want)
		}
	}
	// System follows the system's own preference as it changes.
	b.do(t, "the system turns dark", knottest.UseTheme(knottest.Dark))
	if got := b.eval(t, bg); got != darkBg {
		t.Errorf("with System chosen and a dark system the background is %s, want %s", got, darkBg)
	}
	b.checkPage(t)
}

// On a phone (390 px) the menu hides behind a Menu button whose
// aria-expanded says whether it is open; on a wide screen there is no
// button and the menu is in view.
func TestThePhoneMenuHidesBehindTheMenuButton(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	b := startBrowser(t)
	b.do(t, "a phone's screen", chromedp.EmulateViewport(390, 844))
	b.signIn(t, srv)
	shown := func(sel string) string {
		return `String(getComputedStyle(document.querySelector("` + sel + `")).display !== "none")`
	}
	state := func(what, menu, expanded string) {
		t.Helper()
		if got := b.eval(t, shown("#main-menu")); got != menu {
			t.Errorf("%s: the menu shown = %s, want %s", what, got, menu)
		}
		if got := b.eval(t, `document.querySelector("[data-menu-toggle]").getAttribute("aria-expanded")`); got != expanded {
			t.Errorf("%s: aria-expanded = %s, want %s", what, got, expanded)
		}
	}
	if got := b.eval(t, shown("[data-menu-toggle]")); got != "true" {
		t.Fatal("no Menu button on a phone")
	}
	if got := b.eval(t, `document.querySelector("[data-menu-toggle]").textContent.trim() + " " + document.querySelector("[data-menu-toggle]").getAttribute("aria-controls")`); got != "Menu main-menu" {
		t.Errorf("the Menu button reads %q", got)
	}
	state("at first", "false", "false")
	b.do(t, "open the menu", chromedp.Click(chromedp.CSS("[data-menu-toggle]")))
	state("after a click", "true", "true")
	if got := b.eval(t, `String(document.querySelector("#main-menu a[href='/users']").getBoundingClientRect().width > 0)`); got != "true" {
		t.Error("the open menu's links are not in view")
	}
	b.do(t, "close the menu", chromedp.Click(chromedp.CSS("[data-menu-toggle]")))
	state("after a second click", "false", "false")
	knottest.CheckA11y(t, b.ctx, "the templates page on a phone")

	b.do(t, "a wide screen", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(srv.URL+"/templates"), chromedp.WaitVisible(chromedp.CSS("#template-search")))
	if got := b.eval(t, shown("[data-menu-toggle]")); got != "false" {
		t.Error("the Menu button shows on a wide screen")
	}
	if got := b.eval(t, shown("#main-menu")); got != "true" {
		t.Error("the menu is hidden on a wide screen")
	}
	b.checkPage(t)
}

// With KNOT_SCREENSHOTS=1 this writes the screenshots of the README to
// docs/screenshots/: the main pages at 1280 px in both themes, and two at
// 390 px. They are committed; CI does not make them.
func TestScreenshots(t *testing.T) {
	if os.Getenv("KNOT_SCREENSHOTS") != "1" {
		t.Skip("set KNOT_SCREENSHOTS=1 to write docs/screenshots/")
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := startScreenshotServer(t)
	b := startBrowser(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	open := func(path, ready string) {
		t.Helper()
		b.do(t, "open "+path, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS(ready)))
	}
	b.do(t, "a wide screen", chromedp.EmulateViewport(1280, 800))
	for _, theme := range knottest.Themes {
		b.do(t, "the "+string(theme)+" theme", knottest.UseTheme(theme))
		open("/login", "#email")
		shot("sign-in-" + string(theme))
	}
	b.signIn(t, srv)
	pages := []struct{ name, path, ready string }{
		{"templates", "/templates", "#template-search"},
		{"api-tokens", "/api-tokens", "main h1"},
		{"users", "/users", "main table"},
	}
	for _, theme := range knottest.Themes {
		b.do(t, "the "+string(theme)+" theme", knottest.UseTheme(theme))
		for _, p := range pages {
			open(p.path, p.ready)
			shot(p.name + "-" + string(theme))
		}
	}
	b.do(t, "a phone's screen", chromedp.EmulateViewport(390, 844), knottest.UseTheme(knottest.Light))
	open("/templates", "#template-search")
	shot("templates-phone-light")
	b.do(t, "open the menu", knottest.UseTheme(knottest.Dark), chromedp.Click(chromedp.CSS("[data-menu-toggle]")))
	shot("menu-phone-dark")
}

// startScreenshotServer is a server with what the screenshots show: a few
// templates, tokens and users.
func startScreenshotServer(t *testing.T) *knottest.Instance {
	t.Helper()
	srv, admin := startAdmin(t)
	for _, tpl := range []map[string]any{
		{"name": "nginx-site", "description": "Virtual host for a static site", "body": "server { listen 80; }", "active": true},
		{"name": "systemd-unit", "description": "Service unit for the app", "body": "[Unit]\nDescription=app", "active": true},
		{"name": "motd", "description": "Message of the day", "body": "Welcome", "active": false},
	} {
		wantStatus(t, admin.JSONRequest(http.MethodPost, "/api/templates", tpl), http.StatusCreated)
	}
	admin.CreateAPIToken("deploy")
	admin.CreateAPIToken("backup job")
	srv.CreateUser("alice", "alice@example.com", "correct horse battery")
	return srv
}
