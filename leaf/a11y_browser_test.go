package leaf_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/leaf"
)

// axeTab is a browser tab on a pair whose pages are each checked with
// axe-core in both themes.
type axeTab struct {
	t   *testing.T
	ctx context.Context
	p   *pair
}

// check runs steps, then axe-core on the page they end on.
func (a axeTab) check(what string, steps ...chromedp.Action[chromedp.Void]) {
	a.t.Helper()
	if err := chromedp.Do(a.ctx, steps...); err != nil {
		a.t.Fatalf("%s: %v", what, err)
	}
	knottest.CheckA11y(a.t, a.ctx, what)
}

func (a axeTab) visit(what, url, ready string) {
	a.t.Helper()
	a.check(what, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(ready)))
}

// signInHere signs in as the origin's admin on the sign-in page open,
// ending where ready shows.
func signInHere(ready string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(chromedp.CSS("#email"), knottest.AdminEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), knottest.AdminPassword),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS(ready)),
	}
}

// badge is the class of the element sel finds, and whether its colour is
// the stylesheet's colour for that class: green --ok, amber --warn, red
// --danger.
func (a axeTab) badge(sel string) string {
	a.t.Helper()
	got, err := chromedp.Run(a.ctx, chromedp.Evaluate[string](`(() => {
		const el = document.querySelector(`+"`"+sel+"`"+`);
		const want = {ok: "--ok", warn: "--warn", error: "--danger"}[el.classList[1]];
		const probe = document.createElement("span");
		probe.style.color = "var(" + want + ")";
		el.after(probe);
		const same = getComputedStyle(probe).color === getComputedStyle(el).color;
		probe.remove();
		return el.classList[1] + (same ? "" : " in another colour");
	})()`))
	if err != nil {
		a.t.Fatalf("read the badge %s: %v", sel, err)
	}
	return got
}

// brokenLink waits for the leaf to find its link in state (how, in words),
// then checks its templates with the banner and its status page with the
// badge, both of class (want) in colour.
func (a axeTab) brokenLink(state leaf.State, noticing, how, class, colour string) {
	a.t.Helper()
	knottest.Eventually(a.t, noticing, func() bool {
		a.p.sync() //nolint:errcheck // the state tells
		return a.p.status().State == state
	})
	a.visit("the leaf's templates with the "+colour+" banner", a.p.leaf.URL+"/templates", "#leaf-banner.banner-"+class)
	a.visit("the leaf's status, "+how, a.p.leaf.URL+"/leaf", "#leaf-status")
	if got := a.badge("#leaf-status dd .badge"); got != class {
		a.t.Errorf("the state badge of a leaf with its %s is %q, want %s (%s)", how, got, class, colour)
	}
}

// The pages only a cluster has pass axe-core in the light and the dark
// theme: the origin's Leaf Nodes page with a leaf online, and on the leaf
// its sign-in page, its status page and the banner, with the link healthy,
// broken for good (red) and broken for a while (amber). Each state shows
// in its one colour.
func TestLeafPagesPassAxeInBothThemes(t *testing.T) {
	p := startPair(t, pairOpts{})
	mkVar(t, p.admin, map[string]any{"name": "REGION", "value": "eu-west-1"})
	p.mustSync()
	p.origin.AwaitLeafRecord(t, "the leaf online", func() bool { return strings.Contains(leafNodesRow(t, p), ">online<") })

	a := axeTab{t: t, ctx: knottest.BrowserFor(t, 60*time.Second), p: p}
	// The origin serves knot's self-signed certificate.
	if _, err := chromedp.Call(a.ctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true}); err != nil {
		t.Fatalf("trust the origin's certificate: %v", err)
	}

	a.visit("the origin's sign-in page", p.origin.URL+"/login", "#email")
	a.check("the origin's Leaf Nodes page with a leaf online", append(signInHere("#template-list"),
		chromedp.Navigate(p.origin.URL+"/leaf-nodes"),
		chromedp.WaitVisible(chromedp.CSS("main tbody .badge")),
	)...)
	if got := a.badge("main tbody .badge"); got != "ok" {
		t.Errorf("an online leaf's badge is %q, want ok (green)", got)
	}

	a.visit("the leaf's sign-in page", p.leaf.URL+"/login", "#email")
	a.check("the leaf's templates", signInHere("#template-list .badge.cluster")...)
	a.visit("the leaf's variables", p.leaf.URL+"/variables", "#variable-list .badge.cluster")
	a.visit("the leaf's status, connected", p.leaf.URL+"/leaf", "#leaf-status")
	if got := a.badge("#leaf-status dd .badge"); got != "ok" {
		t.Errorf("a connected leaf's state badge is %q, want ok (green)", got)
	}

	// The token deleted on the origin: someone has to act, in red.
	if res := p.admin.Do(http.MethodDelete, "/api/tokens/"+ftoa(p.tokID), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("delete the leaf's token: %d", res.StatusCode)
	}
	a.brokenLink(leaf.StateTokenRejected, "the leaf noticing its token is gone", "token rejected", "error", "red")

	// The origin gone: the leaf waits for it, in amber.
	p.origin.Stop()
	a.brokenLink(leaf.StateUnreachable, "the leaf finding the origin unreachable", "origin unreachable", "warn", "amber")
	a.check("the leaf's sign-in page with the short banner",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.WaitVisible(chromedp.CSS("#leaf-banner.banner-warn")),
	)
}
