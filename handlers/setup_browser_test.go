package handlers_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/knottest"
)

func TestTheFirstAdminIsCreatedInABrowserWithTheSetupCode(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	b := startBrowser(t)
	b.do(t, "open the server",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#setup_code")),
	)
	if got := b.eval(t, `document.activeElement.id`); got != "setup_code" {
		t.Fatalf("the focused field is %q, want the setup code", got)
	}

	b.do(t, "submit a wrong code",
		chromedp.SendKeys(chromedp.CSS("#setup_code"), "AAAA-AAAA-AAAA-AAAA"),
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#email"), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "first admin secret"),
		chromedp.SendKeys(chromedp.CSS("#confirm"), "first admin secret"),
		chromedp.Submit(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#setup_code-error")),
	)
	for js, want := range map[string]string{
		`document.getElementById("username").value`:   "alice",
		`document.getElementById("email").value`:      "alice@example.com",
		`document.getElementById("password").value`:   "",
		`document.getElementById("setup_code").value`: "",
	} {
		if got := b.eval(t, js); got != want {
			t.Errorf("%s = %q after a wrong code, want %q", js, got, want)
		}
	}

	b.do(t, "submit the right code",
		chromedp.SendKeys(chromedp.CSS("#setup_code"), srv.SetupCode()),
		chromedp.SendKeys(chromedp.CSS("#password"), "first admin secret"),
		chromedp.SendKeys(chromedp.CSS("#confirm"), "first admin secret"),
		chromedp.Submit(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#template-search")),
	)
	b.checkPage(t)
}
