package handlers_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

// Every page of the web UI, in the state people meet it in (empty, filled,
// with a form refused), passes axe-core in the light and the dark theme:
// contrast, names of controls, landmarks and the rest of what axe checks.
// One browser walks them all, so the sweep stays quick.
func TestEveryPagePassesAxeInBothThemes(t *testing.T) {
	s := startAxeSweep(t)
	srv := s.srv

	s.visit("the initial setup page", "/", "#setup_code")
	s.check("the initial setup page with a wrong code",
		chromedp.SendKeys(chromedp.CSS("#setup_code"), "AAAA-AAAA-AAAA-AAAA"),
		chromedp.Submit(chromedp.CSS("#setup_code")),
		chromedp.WaitVisible(chromedp.CSS("#setup_code-error")),
	)
	admin := srv.SetupAdmin()
	s.visit("the sign-in page", "/login", "#email")
	s.check("the sign-in page after a wrong password",
		chromedp.SendKeys(chromedp.CSS("#email"), knottest.AdminEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	s.b.signIn(t, srv)

	sweepTheManagersPages(s, admin)
	sweepTheTokenPages(s, admin)
	s.visit("a page that does not exist", "/no-such-page", "main")

	// An alert straight on the page's background, not in a card: the
	// Leaf Nodes page of a server refusing leaves. (Its session cookie
	// takes the first server's place: both are http://127.0.0.1.)
	cfg := knottest.Config(t)
	cfg.Server.Cluster.AllowLeafNodes = false
	refusing := knottest.Start(t, cfg)
	refusing.SetupAdmin()
	s.b.signIn(t, refusing)
	s.check("the Leaf Nodes page of a server refusing leaves",
		chromedp.Navigate(refusing.URL+"/leaf-nodes"),
		chromedp.WaitVisible(chromedp.CSS("main .alert")),
	)
	s.b.checkPage(t)
}

// axeSweep is one browser walking page after page through axe-core.
type axeSweep struct {
	t   *testing.T
	b   *uiBrowser
	srv *knottest.Instance
}

// startAxeSweep starts a server, with no admin yet, and a browser.
func startAxeSweep(t *testing.T) *axeSweep {
	t.Helper()
	return &axeSweep{t: t, b: startBrowser(t), srv: knottest.Start(t, knottest.Config(t))}
}

// check runs the steps, then axe-core on the page they end on.
func (s *axeSweep) check(what string, steps ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	s.b.do(s.t, what, steps...)
	knottest.CheckA11y(s.t, s.b.ctx, what)
}

// visit opens path, waits for ready, and checks the page.
func (s *axeSweep) visit(what, path, ready string) {
	s.t.Helper()
	s.check(what, chromedp.Navigate(s.srv.URL+path), chromedp.WaitVisible(chromedp.CSS(ready)))
}

// sweepTheManagersPages fills the server with templates, variables and
// users, then checks their pages, the roles', the leaf's and the profile.
func sweepTheManagersPages(s *axeSweep, admin *knottest.Client) {
	t := s.t
	t.Helper()
	tpl := createTemplate(t, admin, map[string]any{"name": "Go toolchain", "description": "Compilers", "active": true,
		"body": "image: golang\nenv:\n  DB: ${{ .var.DB_HOST }}\n"})
	createTemplate(t, admin, map[string]any{"name": "Retired", "description": "No longer offered", "active": false, "zones": []string{"eu", "!us"}})
	createVariable(t, admin, map[string]any{"name": "DB_HOST", "value": "db.internal"})
	secret := createVariable(t, admin, map[string]any{"name": "DB_PASSWORD", "value": "secret", "protected": true, "zones": []string{"eu"}})
	devID := s.srv.CreateUser("dev", "dev@example.com", devPassword, models.DeveloperRoleID)
	s.srv.CreateUser("gone", "gone@example.com", devPassword)

	s.visit("the templates page", "/templates", "#template-list .badge.ok")
	s.visit("the templates of every zone", "/templates?all_zones=true", "#template-list .badge.off")
	s.visit("the new template form", "/templates/new", "#name")
	s.check("the new template form refused",
		htmxReady,
		chromedp.SendKeys(chromedp.CSS("#zones"), "eu,,us"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#zones-error")),
	)
	s.visit("a template's edit form", path("/templates/%d/edit", tpl.ID), "#name")
	s.visit("a template's preview", path("/templates/%d/preview", tpl.ID), "#preview-body")
	s.visit("the variables page", "/variables", "#variable-list")
	s.visit("the new variable form", "/variables/new", "#name")
	s.visit("a protected variable's edit form", path("/variables/%d/edit", secret.ID), "#name")
	s.visit("the users page", "/users", "main table")
	s.visit("the new user form", "/users/new", "#username")
	s.visit("a user's edit form", path("/users/%d/edit", devID), "#email")
	s.visit("the roles page", "/roles", "main table")
	s.visit("the new role form", "/roles/new", "#name")
	s.visit("the Admin role's form", path("/roles/%d/edit", models.AdminRoleID), "#name")
	s.visit("the Leaf Nodes page with no leaf", "/leaf-nodes", "main h1")
	s.visit("the profile page", "/profile", "#current")
}

// sweepTheTokenPages checks the API Tokens page in each state a token's
// life passes through, and the pages without JavaScript.
func sweepTheTokenPages(s *axeSweep, admin *knottest.Client) {
	t := s.t
	t.Helper()
	s.visit("the API Tokens page with no token", "/api-tokens", "#token-panel")
	s.check("the API Tokens page with the New Token form open",
		htmxReady,
		chromedp.Click(chromedp.CSS(`#token-panel a[href="/api-tokens/new"]`)),
		chromedp.WaitVisible(chromedp.CSS("#token-name")),
	)
	s.check("the API Tokens page with a name refused",
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#token-name-error")),
	)
	s.check("the API Tokens page with a token just created",
		chromedp.SendKeys(chromedp.CSS("#token-name"), "Leaf Test"),
		chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#new-token-value")),
		waitFor(`!!document.querySelector("#token-rows tr.token-row")`),
	)
	s.check("the API Tokens page asking to delete a token in a dialog",
		chromedp.Click(chromedp.CSS(`#token-rows tr.token-row button.danger`)),
		chromedp.WaitVisible(chromedp.CSS("dialog#confirm-dialog[open]")),
	)
	tok := listTokens(t, admin)[0]
	s.visit("a token's own page", path("/api-tokens/%d", tok.ID), "#token-value")
	s.visit("a token's delete confirmation", path("/api-tokens/%d/delete", tok.ID), "main form")
	seedTokens(t, s.srv, adminID, 60, func(i int) string { return fmt.Sprintf("token %02d", i) })
	s.visit("the API Tokens page with a pager", "/api-tokens", "nav.pager")
}

// themeColours reads every custom property the stylesheets define, as the
// page resolves it now, and the color-scheme the browser's own controls
// follow.
const themeColours = `(() => {
	const names = new Set();
	const walk = rules => { for (const r of rules) {
		if (r.style) for (const p of r.style) if (p.startsWith("--")) names.add(p);
		if (r.cssRules) walk(r.cssRules);
	} };
	for (const s of document.styleSheets) walk(s.cssRules);
	const cs = getComputedStyle(document.documentElement);
	const out = {"color-scheme": cs.colorScheme};
	for (const n of [...names].sort()) out[n] = cs.getPropertyValue(n).trim();
	return out;
})()`

// The theme chosen with the toggle is the same theme as the system's
// preference, colour for colour, so that checking the pages under the
// system preference (as the axe sweep does) checks the toggle's too; and
// the browser's own controls follow the toggle.
func TestTheToggledThemesAreTheSystemThemes(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	b := startBrowser(t)
	b.do(t, "open the sign-in page", chromedp.Navigate(srv.URL+"/login"), chromedp.WaitVisible(chromedp.CSS("#email")))
	read := func(what string) map[string]string {
		t.Helper()
		v, err := chromedp.Run(b.ctx, chromedp.Evaluate[map[string]string](themeColours))
		if err != nil {
			t.Fatalf("read the colours of %s: %v", what, err)
		}
		return v
	}
	other := map[knottest.Theme]knottest.Theme{knottest.Light: knottest.Dark, knottest.Dark: knottest.Light}
	for _, theme := range knottest.Themes {
		b.do(t, "follow the system", knottest.UseTheme(theme))
		system := read(string(theme) + " from the system")
		if system["color-scheme"] != "light dark" || system["--ok"] == "" {
			t.Fatalf("the %s system theme reads %v", theme, system)
		}
		// The theme choice sets data-theme; the system says the opposite.
		b.do(t, "choose the theme against the system",
			knottest.UseTheme(other[theme]),
			chooseTheme(string(theme)),
		)
		if got := b.eval(t, `document.documentElement.dataset.theme`); got != string(theme) {
			t.Fatalf("after the toggle data-theme = %q, want %q", got, theme)
		}
		toggled := read(string(theme) + " from the toggle")
		if toggled["color-scheme"] != string(theme) {
			t.Errorf("the %s theme from the toggle leaves the browser's controls in color-scheme %q", theme, toggled["color-scheme"])
		}
		for name, want := range system {
			if name != "color-scheme" && toggled[name] != want {
				t.Errorf("%s is %q in the %s theme from the toggle, %q from the system", name, toggled[name], theme, want)
			}
		}
	}
	b.checkPage(t)
}

// After a wrong password the form comes back with the email kept and the
// focus in the password field, described by the message, so that the
// next thing typed is the password.
func TestAWrongPasswordPutsTheFocusOnThePasswordField(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	srv.SetupAdmin()
	b := startBrowser(t)
	b.do(t, "open the sign-in page", chromedp.Navigate(srv.URL+"/login"), chromedp.WaitVisible(chromedp.CSS("#email")))
	if got := b.eval(t, `document.activeElement.id`); got != "email" {
		t.Fatalf("the sign-in page starts with the focus on %q, want the email", got)
	}
	b.do(t, "sign in with a wrong password",
		chromedp.SendKeys(chromedp.CSS("#email"), knottest.AdminEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	for js, want := range map[string]string{
		`document.activeElement.id`:                                  "password",
		`document.getElementById("email").value`:                     knottest.AdminEmail,
		`document.getElementById("password").value`:                  "",
		`document.activeElement.getAttribute("aria-describedby")`:    "login-error",
		`document.getElementById("email").hasAttribute("autofocus")`: "false",
	} {
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if fmt.Sprint(got) != want {
			t.Errorf("after a wrong password %s = %v, want %s", js, got, want)
		}
	}
	b.do(t, "type the right password",
		chromedp.SendKeys(chromedp.CSS("#password"), knottest.AdminPassword),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#template-search")),
	)
	b.checkPage(t)
}

// cardOffset is how far the centre of the page's card is from the centre
// of the window, in CSS pixels.
const cardOffset = `(() => {
	const r = document.querySelector("main .card").getBoundingClientRect();
	return Math.round(Math.abs((r.left + r.right) / 2 - document.documentElement.clientWidth / 2));
})()`

// The setup and sign-in cards, on pages without the menu, sit in the middle
// of a wide window rather than in the middle of the content column.
func TestTheSetupAndSignInCardsAreCentred(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	b := startBrowser(t)
	for _, page := range []struct{ what, path, ready string }{
		{"the setup card", "/initial-system-setup", "#setup_code"},
		{"the sign-in card", "/login", "#email"},
	} {
		if page.path == "/login" {
			srv.SetupAdmin()
		}
		for _, width := range []int64{1280, 1900, 800} {
			b.do(t, "open "+page.path,
				chromedp.EmulateViewport(width, 900),
				chromedp.Navigate(srv.URL+page.path),
				chromedp.WaitVisible(chromedp.CSS(page.ready)),
			)
			off, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](cardOffset))
			if err != nil {
				t.Fatal(err)
			}
			if off > 1 {
				t.Errorf("%s is %dpx off the middle of a %dpx window", page.what, off, width)
			}
		}
	}
}

// A copy the browser refuses says so in the error colour: green is for
// "Copied" alone.
func TestAFailedCopySaysSoInRed(t *testing.T) {
	srv, admin := startAdmin(t)
	id, _ := admin.CreateAPIToken("Leaf Test")
	b := startBrowser(t)
	b.signIn(t, srv)
	status := `document.querySelector("[data-copy-status]")`
	// colour says which of the stylesheet's colours the status is in.
	colour := `(() => {
		const el = ` + status + `;
		for (const name of ["--ok", "--danger"]) {
			const probe = document.createElement("span");
			probe.style.color = "var(" + name + ")";
			el.after(probe);
			const same = getComputedStyle(probe).color === getComputedStyle(el).color;
			probe.remove();
			if (same) return name;
		}
		return getComputedStyle(el).color;
	})()`
	b.do(t, "copy the token",
		chromedp.Navigate(srv.URL+path("/api-tokens/%d", id)),
		chromedp.WaitVisible(chromedp.CSS("#token-value")),
		chromedp.Evaluate[chromedp.Void](`navigator.clipboard.writeText = () => Promise.resolve(); undefined`),
		chromedp.Click(chromedp.CSS("button[data-copy]")),
		waitFor(status+`.textContent === "Copied the token"`),
	)
	if got := b.eval(t, colour); got != "--ok" {
		t.Errorf("Copied is in %s, want --ok", got)
	}
	b.do(t, "copy the token, refused",
		chromedp.Evaluate[chromedp.Void](`navigator.clipboard.writeText = () => Promise.reject(new Error("refused")); undefined`),
		chromedp.Click(chromedp.CSS("button[data-copy]")),
		waitFor(status+`.textContent.startsWith("Copy failed")`),
	)
	if got := b.eval(t, colour); got != "--danger" {
		t.Errorf("Copy failed is in %s, want --danger", got)
	}
	b.checkPage(t)
}
