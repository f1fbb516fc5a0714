package handlers_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/knot-dev/knot/api"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

// TestVariableJourneyInABrowser walks the Variables page as an admin in
// headless Chromium: a variable made in the form shows in the list, an edit
// changes its value there, Delete asks in the <dialog> (Escape keeps the
// row and gives focus back) and then removes the row without a page load,
// and a protected value stays out of the page until Reveal.
func TestVariableJourneyInABrowser(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	admin := srv.SetupAdmin()
	b := startBrowser(t)
	b.signIn(t, srv)

	row := createVariableInTheForm(t, b, srv, admin)
	editVariableInTheForm(t, b, row)
	deleteVariableThroughTheDialog(t, b, admin, row)
	revealProtectedVariable(t, b, srv, admin)

	b.mu.Lock()
	dialogs := slices.Clone(b.dialogs)
	b.mu.Unlock()
	if len(dialogs) != 0 {
		t.Errorf("the browser's own dialogs opened: %q", dialogs)
	}
	b.checkPage(t)
}

// journeyVariable is the variable the journey makes, edits and deletes.
type journeyVariable struct {
	id  uint
	row string // the CSS selector of its row in the list
}

// htmxProcessed waits until htmx has taken the page over: a click before then
// would be a plain navigation or a plain form post.
var htmxProcessed = waitFor(`document.readyState === "complete" && !!window.htmx`)

// wantNotice checks the one-time notice of the page a form led to. The
// form's htmx answer (HX-Redirect) loads that page, so the caller first
// waits for the notice to be visible, which outlasts the navigation where a
// script polling the old page would not.
func wantNotice(t *testing.T, b *uiBrowser, msg string) {
	t.Helper()
	if got := b.text(t, "main .notice"); got != msg {
		t.Fatalf("the notice reads %q, want %q", got, msg)
	}
}

// variableNamed finds a variable through the API, failing if it is not there.
func variableNamed(t *testing.T, admin *knottest.Client, name string) api.Variable {
	t.Helper()
	var list []api.Variable
	res := admin.Get("/api/templatevars")
	wantStatus(t, res, http.StatusOK)
	res.JSON(t, &list)
	for _, v := range list {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no variable %q among %+v", name, list)
	return api.Variable{}
}

func createVariableInTheForm(t *testing.T, b *uiBrowser, srv *knottest.Instance, admin *knottest.Client) journeyVariable {
	t.Helper()
	b.do(t, "open Variables and New variable",
		chromedp.Navigate(srv.URL+"/variables"),
		chromedp.WaitVisible(chromedp.CSS("main p.empty")),
		chromedp.Click(chromedp.CSS(`main a.button.primary[href="/variables/new"]`)),
		chromedp.WaitVisible(chromedp.ID("name")),
		htmxProcessed,
	)
	b.do(t, "fill in and create",
		chromedp.SendKeys(chromedp.ID("name"), "REGION"),
		chromedp.SendKeys(chromedp.ID("value"), "eu-west-1"),
		chromedp.SendKeys(chromedp.ID("zones"), "test-zone"),
		chromedp.Click(chromedp.CSS("main form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("main .notice")),
	)
	wantNotice(t, b, "Variable “REGION” created.")
	if got := b.eval(t, `location.pathname`); got != "/variables" {
		t.Fatalf("after Create the browser is at %s, want the list", got)
	}
	v := variableNamed(t, admin, "REGION")
	if v.Value == nil || *v.Value != "eu-west-1" || !slices.Equal(v.Zones, []string{"test-zone"}) {
		t.Fatalf("the form made %+v", v)
	}
	row := journeyVariable{id: v.ID, row: path("#local-variable-%d", v.ID)}
	if got := b.text(t, row.row+` td[data-label="Name"]`); got != "REGION" {
		t.Errorf("the new row's name reads %q", got)
	}
	if got := b.text(t, row.row+` td[data-label="Value"]`); got != "eu-west-1" {
		t.Errorf("the new row's value reads %q", got)
	}
	return row
}

func editVariableInTheForm(t *testing.T, b *uiBrowser, v journeyVariable) {
	t.Helper()
	b.do(t, "Edit",
		chromedp.Click(chromedp.CSS(v.row+path(` a[href="/variables/%d/edit"]`, v.id))),
		chromedp.WaitVisible(chromedp.ID("value")),
		htmxProcessed,
	)
	if got := b.eval(t, `document.getElementById("name").value + "=" + document.getElementById("value").value`); got != "REGION=eu-west-1" {
		t.Fatalf("the edit form holds %q", got)
	}
	b.do(t, "change the value and save",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("value").value = ""`),
		chromedp.SendKeys(chromedp.ID("value"), "eu-central-1"),
		chromedp.Click(chromedp.CSS("main form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("main .notice")),
	)
	wantNotice(t, b, "Variable “REGION” saved.")
	if got := b.text(t, v.row+` td[data-label="Value"]`); got != "eu-central-1" {
		t.Errorf("after the edit the row's value reads %q, want eu-central-1", got)
	}
}

func deleteVariableThroughTheDialog(t *testing.T, b *uiBrowser, admin *knottest.Client, v journeyVariable) {
	t.Helper()
	del := v.row + " button.danger"
	b.do(t, "Delete asks",
		htmxProcessed,
		chromedp.Evaluate[chromedp.Void](markPage),
		chromedp.Click(chromedp.CSS(del)),
		chromedp.WaitVisible(chromedp.CSS("dialog#confirm-dialog[open]")),
	)
	if got := b.eval(t, `document.getElementById("confirm-dialog-title").textContent`); got != "Delete the variable “REGION”?" {
		t.Errorf("the dialog's title is %q", got)
	}
	if got := b.eval(t, `String(document.getElementById("confirm-dialog").matches(":modal") && document.getElementById("confirm-dialog").contains(document.activeElement))`); got != "true" {
		t.Fatal("the dialog is not modal or focus did not move into it")
	}
	b.do(t, "Escape closes the dialog and focus returns to Delete",
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotPresent(chromedp.CSS("dialog#confirm-dialog[open]")),
		waitFor(`document.activeElement === document.querySelector(`+strconv.Quote(del)+`)`),
	)
	if got := b.eval(t, `String(!!document.querySelector(`+strconv.Quote(v.row)+`))`); got != "true" {
		t.Fatal("Escape removed the row")
	}
	wantStatus(t, admin.Get(path("/api/templatevars/%d", v.id)), http.StatusOK)

	b.do(t, "Delete for real",
		chromedp.Click(chromedp.CSS(del)),
		chromedp.WaitVisible(chromedp.CSS("dialog#confirm-dialog[open]")),
		chromedp.Click(chromedp.CSS("#confirm-dialog [data-dialog-confirm]")),
		chromedp.WaitNotPresent(chromedp.CSS(v.row)),
	)
	if m := b.eval(t, `window.knotMarker`); m != "same page" {
		t.Fatal("deleting reloaded the page")
	}
	wantStatus(t, admin.Get(path("/api/templatevars/%d", v.id)), http.StatusNotFound)
}

func revealProtectedVariable(t *testing.T, b *uiBrowser, srv *knottest.Instance, admin *knottest.Client) {
	t.Helper()
	const secret = "hunter2-secret"
	b.do(t, "create a protected, restricted variable",
		chromedp.Navigate(srv.URL+"/variables/new"),
		chromedp.WaitVisible(chromedp.ID("name")),
		htmxProcessed,
		chromedp.SendKeys(chromedp.ID("name"), "DB_PASSWORD"),
		chromedp.SendKeys(chromedp.ID("value"), secret),
		chromedp.Click(chromedp.CSS(`input[name="protected"]`)),
		chromedp.Click(chromedp.CSS(`input[name="restricted"]`)),
		chromedp.Click(chromedp.CSS("main form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("main .notice")),
	)
	wantNotice(t, b, "Variable “DB_PASSWORD” created.")
	v := variableNamed(t, admin, "DB_PASSWORD")
	if !v.Protected || !v.Restricted {
		t.Fatalf("the form made %+v, want it protected and restricted", v)
	}
	row := path("#local-variable-%d", v.ID)
	if got := b.eval(t, `String(document.documentElement.outerHTML.includes(`+strconv.Quote(secret)+`))`); got != "false" {
		t.Fatal("the list carries the protected value before Reveal")
	}
	if got := b.text(t, row+` td[data-label="Value"] code`); got != models.MaskedValue {
		t.Errorf("the protected value shows as %q, want it masked", got)
	}
	if got := b.text(t, row+` td[data-label="Flags"]`); !strings.Contains(got, "protected") || !strings.Contains(got, "restricted") {
		t.Errorf("the row's flags read %q", got)
	}
	b.do(t, "Reveal",
		chromedp.Evaluate[chromedp.Void](markPage),
		chromedp.Click(chromedp.CSS(row+" .var-value a.button")),
		chromedp.WaitVisible(chromedp.CSS(row+" .var-value code.revealed")),
	)
	if got := b.text(t, row+" .var-value code.revealed"); got != secret {
		t.Errorf("Reveal shows %q, want the value", got)
	}
	if m := b.eval(t, `window.knotMarker`); m != "same page" {
		t.Fatal("Reveal reloaded the page")
	}
}

// A long user-chosen name in a list is cut to one line, whole in its title,
// and whole again on keyboard focus (the name takes the focus), on every
// list that shows one, and each list still passes axe in both themes.
func TestLongNamesInListsAreCutWithTheWholeNameOnHoverAndFocus(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	admin := srv.SetupAdmin()
	long := strings.Repeat("long-name-", 6) + "end" // 63 characters, under every cap of 64
	upper := strings.ToUpper(strings.ReplaceAll(long, "-", "_"))
	email := strings.ReplaceAll(long, "-", ".") + "@example.com"
	createTemplate(t, admin, map[string]any{"name": long, "active": true})
	createVariable(t, admin, map[string]any{"name": upper, "value": "x"})
	srv.CreateUser(strings.ReplaceAll(long, "-", "_"), email, devPassword)
	createRole(t, admin, long, models.PermManageTemplates)
	admin.CreateAPIToken(long)
	b := startBrowser(t)
	// A headless page never has the window's focus, and without it :focus
	// matches nothing.
	if _, err := chromedp.Call(b.ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("emulate a focused page: %v", err)
	}
	b.signIn(t, srv)
	userAgent := b.eval(t, `navigator.userAgent`)

	for _, list := range []struct{ path, name string }{
		{"/templates", long}, {"/variables", upper}, {"/users", strings.ReplaceAll(long, "-", "_")},
		{"/users", email}, {"/roles", long}, {"/api-tokens", long}, {"/profile", userAgent},
	} {
		sel := `main td .truncate[title=` + strconv.Quote(list.name) + `]`
		el := `document.querySelector(` + strconv.Quote(sel) + `)`
		b.do(t, "open "+list.path, chromedp.Navigate(srv.URL+list.path), chromedp.WaitVisible(chromedp.CSS(sel)))
		if got := b.eval(t, `String(`+el+`.scrollWidth > `+el+`.clientWidth)`); got != "true" {
			t.Errorf("%s: %q is not cut to one line", list.path, list.name)
		}
		if got := b.eval(t, el+`.textContent`); got != list.name {
			t.Errorf("%s: the cell holds %q, want the whole name for screen readers", list.path, got)
		}
		b.do(t, "focus the name on "+list.path, chromedp.Evaluate[chromedp.Void](el+`.focus()`))
		if got := b.eval(t, `String(`+el+`.tabIndex === 0 && document.activeElement === `+el+` && `+el+`.scrollWidth <= `+el+`.clientWidth)`); got != "true" {
			t.Errorf("%s: %q does not take the keyboard focus or stays cut when focused", list.path, list.name)
		}
		knottest.CheckA11y(t, b.ctx, "the long names on "+list.path)
	}
	b.checkPage(t)
}
