package handlers_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/knot-dev/knot/knottest"
)

// cspWatcher runs in every page before the page's own scripts (through the
// DevTools protocol, which the CSP does not govern) and records every
// Content-Security-Policy refusal, so that a feature broken by the strict
// CSP (an inline script, an eval in htmx) fails the test.
const cspWatcher = `window.knotCSP = [];
document.addEventListener("securitypolicyviolation", function (e) {
	window.knotCSP.push(e.violatedDirective + " " + e.blockedURI);
});`

// uiBrowser is headless Chromium for one test, watching for CSP refusals,
// exceptions and dialogs.
type uiBrowser struct {
	ctx context.Context
	mu  sync.Mutex
	// problems are the uncaught exceptions the pages threw.
	problems []string
	// dialogs are the messages of the dialogs the pages opened.
	dialogs []string
	// confirm answers the next window.confirm dialog (hx-confirm).
	confirm chan bool
}

func startBrowser(t *testing.T) *uiBrowser {
	t.Helper()
	browserCtx := knottest.Browser(t)
	ctx, cancel := context.WithTimeout(browserCtx, 90*time.Second)
	t.Cleanup(cancel)

	b := &uiBrowser{ctx: ctx, confirm: make(chan bool, 1)}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatcher}); err != nil {
		t.Fatalf("install the CSP watcher: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			b.mu.Lock()
			b.problems = append(b.problems, exceptionText(e.ExceptionDetails))
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("listen to the page: %v", err)
	}
	// A dialog blocks the page and the action that opened it until it is
	// answered, so the answer comes from another goroutine.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			b.mu.Unlock()
			var accept bool
			select {
			case accept = <-b.confirm:
			case <-ctx.Done():
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept}) //nolint:errcheck // the test sees the outcome on the page
		}
	}()
	return b
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Text + " " + d.Exception.Description
	}
	return d.Text
}

// checkPage fails the test if a page threw or the CSP refused anything.
func (b *uiBrowser) checkPage(t *testing.T) {
	t.Helper()
	violations, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.knotCSP`))
	if err != nil {
		t.Fatalf("read CSP violations: %v", err)
	}
	for _, v := range violations {
		t.Errorf("the Content-Security-Policy refused: %s", v)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("the page threw: %s", p)
	}
}

func (b *uiBrowser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (b *uiBrowser) text(t *testing.T, sel string) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func (b *uiBrowser) eval(t *testing.T, js string) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

// signIn signs the browser in as the first admin.
func (b *uiBrowser) signIn(t *testing.T, srv *knottest.Instance) {
	t.Helper()
	b.do(t, "sign in",
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), knottest.AdminEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), knottest.AdminPassword),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#template-search")),
	)
}

// waitFor waits until the JavaScript condition is true.
func waitFor(cond string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](cond)
}

// markPage sets a value only this document has; a full page load loses it.
const markPage = `window.knotMarker = "same page"`

// The search box filters as the user types: htmx fetches the list fragment
// and swaps it in, under the strict CSP, and the address bar follows.
func TestBrowserSearchFiltersAsYouType(t *testing.T) {
	cs := startCast(t)
	createTemplate(t, cs.admin, map[string]any{"name": "Go toolchain", "description": "Compilers"})
	createTemplate(t, cs.admin, map[string]any{"name": "Python", "description": "Jupyter notebooks"})
	b := startBrowser(t)
	b.signIn(t, cs.srv)

	b.do(t, "type a search",
		chromedp.Evaluate[chromedp.Void](markPage),
		chromedp.SendKeys(chromedp.CSS("#template-search"), "jupy"),
		waitFor(`!document.querySelector("#template-list").textContent.includes("Go toolchain")`),
	)
	if list := b.text(t, "#template-list"); !strings.Contains(list, "Python") {
		t.Fatalf("after typing, the list is %q", list)
	}
	if m := b.eval(t, `window.knotMarker`); m != "same page" {
		t.Fatal("searching reloaded the page")
	}
	if loc := b.eval(t, `location.pathname + location.search`); loc != "/templates?q=jupy" {
		t.Fatalf("address bar = %q, want the search in it", loc)
	}
	b.do(t, "change the search",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#template-search").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#template-search"), "o"),
		waitFor(`document.querySelector("#template-list").textContent.includes("Go toolchain")`),
	)
	if list := b.text(t, "#template-list"); !strings.Contains(list, "Python") {
		t.Fatalf("after changing the search, the list is %q", list)
	}
	b.checkPage(t)

	// The watcher is not blind: an inline script is refused and recorded.
	b.do(t, "add an inline script", chromedp.Evaluate[chromedp.Void](`document.head.appendChild(Object.assign(document.createElement("script"), {textContent: "1"}))`))
	if n := b.eval(t, `String(window.knotCSP.length)`); n != "1" {
		t.Fatalf("CSP violations recorded for an inline script: %s, want 1", n)
	}
}

// Delete asks first in a <dialog> (hx-confirm, opened by static/app.js,
// never the browser's confirm()): it names the template and takes focus;
// Escape and Cancel keep the row and give focus back to Delete; confirming
// removes the row without a page load.
func TestBrowserDeleteAsksInADialogThenRemovesTheRow(t *testing.T) {
	cs := startCast(t)
	doomed := createTemplate(t, cs.admin, map[string]any{"name": "Doomed"})
	b := startBrowser(t)
	b.signIn(t, cs.srv)
	row := path("#local-template-%d", doomed.ID)
	del := row + " button.danger"
	want := "Delete the template “Doomed”? This cannot be undone."
	openDialog := func(what string) {
		t.Helper()
		b.do(t, what,
			chromedp.Poll[chromedp.Void](`document.readyState === "complete" && !!window.htmx`),
			chromedp.Click(chromedp.CSS(del)),
			chromedp.WaitVisible(chromedp.CSS("dialog#confirm-dialog[open]")),
		)
		if got := b.eval(t, `document.getElementById("confirm-dialog-title").textContent + " " + document.getElementById("confirm-dialog-text").textContent`); got != want {
			t.Fatalf("the dialog says %q, want %q", got, want)
		}
		if got := b.eval(t, `document.getElementById("confirm-dialog-title").textContent`); got != "Delete the template “Doomed”?" {
			t.Fatalf("the dialog's title is %q", got)
		}
		if got := b.eval(t, `String(document.getElementById("confirm-dialog").matches(":modal") && document.getElementById("confirm-dialog").contains(document.activeElement))`); got != "true" {
			t.Fatal("the dialog is not modal or focus did not move into it")
		}
	}
	focusBack := func(what string) {
		t.Helper()
		b.do(t, what,
			chromedp.WaitNotPresent(chromedp.CSS("dialog#confirm-dialog[open]")),
			chromedp.Poll[chromedp.Void](`document.activeElement === document.querySelector(`+strconv.Quote(del)+`)`, chromedp.WithPollingTimeout(5*time.Second)),
			chromedp.Sleep(200*time.Millisecond),
			chromedp.WaitVisible(chromedp.CSS(row)),
		)
		wantStatus(t, cs.admin.Get(path("/api/templates/%d", doomed.ID)), http.StatusOK)
	}

	b.do(t, "mark the page", chromedp.Evaluate[chromedp.Void](markPage))
	openDialog("open the dialog")
	b.do(t, "Escape", chromedp.KeyEvent(kb.Escape))
	focusBack("Escape closes the dialog and focus returns to Delete")

	openDialog("open the dialog again")
	b.do(t, "Cancel", chromedp.Click(chromedp.CSS("#confirm-dialog [data-dialog-cancel]")))
	focusBack("Cancel closes the dialog and focus returns to Delete")

	openDialog("open the dialog a third time")
	b.do(t, "confirm the delete",
		chromedp.Click(chromedp.CSS("#confirm-dialog [data-dialog-confirm]")),
		chromedp.WaitNotPresent(chromedp.CSS(row)),
	)
	if m := b.eval(t, `window.knotMarker`); m != "same page" {
		t.Fatal("deleting reloaded the page")
	}
	wantStatus(t, cs.admin.Get(path("/api/templates/%d", doomed.ID)), http.StatusNotFound)
	if dialogs := b.openedDialogs(); len(dialogs) != 0 {
		t.Fatalf("the browser's own dialogs opened: %q", dialogs)
	}
	b.checkPage(t)
}

// A refused form comes back in place with the message beside the field and
// what was typed kept; a good one leads to the list.
func TestBrowserFormErrorsSwapInPlace(t *testing.T) {
	cs := startCast(t)
	b := startBrowser(t)
	b.signIn(t, cs.srv)

	b.do(t, "submit a bad template",
		chromedp.Navigate(cs.srv.URL+"/templates/new"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.Evaluate[chromedp.Void](markPage),
		chromedp.SendKeys(chromedp.CSS("#name"), "My template"),
		chromedp.SendKeys(chromedp.CSS("#zones"), "eu,,us"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#zones-error")),
	)
	if msg := b.text(t, "#zones-error"); !strings.Contains(msg, "A zone name cannot be empty") {
		t.Fatalf("zones message = %q", msg)
	}
	if name := b.eval(t, `document.querySelector("#name").value`); name != "My template" {
		t.Fatalf("typed name not kept: %q", name)
	}
	if m := b.eval(t, `window.knotMarker`); m != "same page" {
		t.Fatal("the refused form reloaded the page")
	}
	b.do(t, "fix and submit",
		chromedp.SetValue(chromedp.CSS("#zones"), "eu, us"),
		chromedp.SendKeys(chromedp.CSS("#body"), "image: debian"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if notice := b.text(t, ".notice"); notice != "Template “My template” created." {
		t.Fatalf("notice = %q", notice)
	}
	b.checkPage(t)
}
