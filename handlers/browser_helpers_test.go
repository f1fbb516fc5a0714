package handlers_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/knottest"
)

// tokenTab is headless Chromium for the API Tokens browser tests: every
// step is bounded by one deadline, and a failed step shows where the page
// was.
type tokenTab struct {
	t   *testing.T
	srv *knottest.Instance
	tab context.Context // the browser's own, outliving the steps' deadline
	ctx context.Context // the steps'

	// What the page logged as an error, once watchConsole has run.
	problems    []string
	stopConsole func()
	consoleDone chan struct{}
}

// openTokenTab opens a browser on srv whose steps all end within timeout.
func openTokenTab(t *testing.T, srv *knottest.Instance, timeout time.Duration) *tokenTab {
	t.Helper()
	tab := knottest.Browser(t)
	ctx, cancel := context.WithTimeout(tab, timeout)
	t.Cleanup(cancel)
	return &tokenTab{t: t, srv: srv, tab: tab, ctx: ctx}
}

// devTokenTab starts a server with startWithDev's developer and opens a
// browser on it (not signed in yet) whose steps all end within timeout.
func devTokenTab(t *testing.T, timeout time.Duration) *tokenTab {
	t.Helper()
	srv, _ := startWithDev(t)
	return openTokenTab(t, srv, timeout)
}

// grantClipboard lets the page use the async clipboard API: http://127.0.0.1
// is a secure context, so the permissions are all it lacks.
func (b *tokenTab) grantClipboard() {
	b.t.Helper()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(b.ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
			Setting:    browser.PermissionSettingGranted,
			Origin:     b.srv.URL,
		})
		if err != nil {
			b.t.Fatalf("grant %s: %v", name, err)
		}
	}
}

// watchConsole collects what the page logs from now on: a CSP violation or
// a script error is a bug, which checkConsole reports.
func (b *tokenTab) watchConsole() {
	consoleCtx, stop := context.WithCancel(b.ctx)
	b.stopConsole, b.consoleDone = stop, make(chan struct{})
	messages := chromedp.Console(consoleCtx) // subscribed from here on
	go func() {
		defer close(b.consoleDone)
		for msg, err := range messages {
			if err != nil {
				return
			}
			if msg.Type == chromedp.ConsoleException || msg.Type == chromedp.ConsoleError {
				b.problems = append(b.problems, msg.String())
			}
		}
	}()
}

// checkConsole fails the test for everything the page logged as an error.
func (b *tokenTab) checkConsole() {
	b.t.Helper()
	b.stopConsole()
	<-b.consoleDone
	for _, p := range b.problems {
		b.t.Errorf("the page logged %s", p)
	}
}

func (b *tokenTab) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		// Show where the page was, read with a fresh deadline since the
		// step's may be spent.
		dctx, dcancel := context.WithTimeout(b.tab, 5*time.Second)
		defer dcancel()
		where, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.outerHTML`))
		b.t.Fatalf("%s: %v\npage: %.3000s", what, err, where)
	}
}

func (b *tokenTab) eval(what, js string, opts ...chromedp.EvaluateOption) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js, opts...))
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// signInAsDev signs the browser in as startWithDev's developer.
func (b *tokenTab) signInAsDev() {
	b.t.Helper()
	b.step("sign in",
		chromedp.Navigate(b.srv.URL+"/login"),
		chromedp.SendKeys(chromedp.ID("email"), "dev@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), devPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.sidebar a[href="/api-tokens"]`)),
	)
}

// htmxReady waits until htmx has processed the page: a link is visible
// before that, and a click then would be a plain navigation (seen on a
// loaded CI machine).
var htmxReady = waitFor(`document.readyState === "complete" && !!window.htmx`)

// markTab sets a marker on window, which survives htmx swaps but not a
// page load; sameTab fails the test if what happened since lost it.
func (b *tokenTab) markTab() {
	b.t.Helper()
	b.eval("mark the page", `window.knotNoReload = "same page"`)
}

func (b *tokenTab) sameTab(what string) {
	b.t.Helper()
	if got := b.eval("read the marker", `String(window.knotNoReload)`); got != "same page" {
		b.t.Fatalf("%s reloaded the page", what)
	}
}

// clipboard is what the page can read from the clipboard.
func (b *tokenTab) clipboard() string {
	b.t.Helper()
	return b.eval("read the clipboard", `navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)
}

// openedDialogs are the browser's own dialogs (alert, confirm) the pages
// opened so far.
func (b *uiBrowser) openedDialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.dialogs)
}
