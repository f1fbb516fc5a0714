package leaf_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/knottest"
)

// signInOnTheLeaf opens the leaf's front page and signs in there with the
// origin's admin, ending on the cluster's templates.
func signInOnTheLeaf(p *pair) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(p.leaf.URL + "/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), knottest.AdminEmail),
		chromedp.SendKeys(chromedp.ID("password"), knottest.AdminPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#template-list`)),
	}
}

// The leaf node promise, in a real browser: sign in on the leaf with the
// email and password from the cluster, and see the cluster's templates.
func TestLeafSignInInABrowser(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.mustSync()
	ctx := knottest.BrowserFor(t, 30*time.Second)

	if err := chromedp.Do(ctx, signInOnTheLeaf(p)...); err != nil {
		t.Fatalf("sign in on the leaf: %v", err)
	}
	list, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#template-list").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"leaf-only", "everywhere", "cluster"} {
		if !strings.Contains(list, want) {
			t.Errorf("leaf templates page lacks %q:\n%s", want, list)
		}
	}
	for _, never := range []string{"never-on-leaf", "origin-zone-only"} {
		if strings.Contains(list, never) {
			t.Errorf("leaf templates page shows %q", never)
		}
	}
	who, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".topbar").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(who, knottest.AdminUsername) || !strings.Contains(who, "leaf node") {
		t.Errorf("top bar = %q, want the origin user's name and the leaf badge", who)
	}
}
