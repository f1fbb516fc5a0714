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

// The pages only a cluster has pass axe-core in the light and the dark
// theme: the origin's Leaf Nodes page with a leaf online, and on the leaf
// its sign-in page, its status page and the banner, with the link healthy,
// broken for good (red) and broken for a while (amber). Each state shows
// in its one colour.
func TestLeafPagesPassAxeInBothThemes(t *testing.T) {
	p := startPair(t, pairOpts{})
	mkVar(t, p.admin, map[string]any{"name": "REGION", "value": "eu-west-1"})
	p.mustSync()
	knottest.Eventually(t, "the leaf online", func() bool { return strings.Contains(leafNodesRow(t, p), ">online<") })

	tab := knottest.Browser(t)
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	defer cancel()
	// The origin serves knot's self-signed certificate.
	if _, err := chromedp.Call(ctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true}); err != nil {
		t.Fatalf("trust the origin's certificate: %v", err)
	}
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	check := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		step(what, steps...)
		knottest.CheckA11y(t, ctx, what)
	}
	visit := func(what, url, ready string) {
		t.Helper()
		check(what, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(ready)))
	}
	// badge is the class of the element sel finds, and whether its colour
	// is the stylesheet's colour for that class: green --ok, amber --warn,
	// red --danger.
	badge := func(sel string) string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
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
			t.Fatalf("read the badge %s: %v", sel, err)
		}
		return got
	}

	visit("the origin's sign-in page", p.origin.URL+"/login", "#email")
	check("the origin's Leaf Nodes page with a leaf online",
		chromedp.SendKeys(chromedp.CSS("#email"), knottest.AdminEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), knottest.AdminPassword),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#template-list")),
		chromedp.Navigate(p.origin.URL+"/leaf-nodes"),
		chromedp.WaitVisible(chromedp.CSS("main tbody .badge")),
	)
	if got := badge("main tbody .badge"); got != "ok" {
		t.Errorf("an online leaf's badge is %q, want ok (green)", got)
	}

	visit("the leaf's sign-in page", p.leaf.URL+"/login", "#email")
	check("the leaf's templates",
		chromedp.SendKeys(chromedp.CSS("#email"), knottest.AdminEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), knottest.AdminPassword),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#template-list .badge.cluster")),
	)
	visit("the leaf's variables", p.leaf.URL+"/variables", "#variable-list .badge.cluster")
	visit("the leaf's status, connected", p.leaf.URL+"/leaf", "#leaf-status")
	if got := badge("#leaf-status dd .badge"); got != "ok" {
		t.Errorf("a connected leaf's state badge is %q, want ok (green)", got)
	}

	// The token deleted on the origin: someone has to act, in red.
	if res := p.admin.Do(http.MethodDelete, "/api/tokens/"+ftoa(p.tokID), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("delete the leaf's token: %d", res.StatusCode)
	}
	knottest.Eventually(t, "the leaf noticing its token is gone", func() bool {
		p.sync() //nolint:errcheck // the state tells
		return p.status().State == leaf.StateTokenRejected
	})
	visit("the leaf's templates with the red banner", p.leaf.URL+"/templates", "#leaf-banner.banner-error")
	visit("the leaf's status, token rejected", p.leaf.URL+"/leaf", "#leaf-status")
	if got := badge("#leaf-status dd .badge"); got != "error" {
		t.Errorf("a rejected leaf's state badge is %q, want error (red)", got)
	}

	// The origin gone: the leaf waits for it, in amber.
	p.origin.Stop()
	knottest.Eventually(t, "the leaf finding the origin unreachable", func() bool {
		p.sync() //nolint:errcheck // the state tells
		return p.status().State == leaf.StateUnreachable
	})
	visit("the leaf's templates with the amber banner", p.leaf.URL+"/templates", "#leaf-banner.banner-warn")
	visit("the leaf's status, origin unreachable", p.leaf.URL+"/leaf", "#leaf-status")
	if got := badge("#leaf-status dd .badge"); got != "warn" {
		t.Errorf("an unreachable leaf's state badge is %q, want warn (amber)", got)
	}
	check("the leaf's sign-in page with the short banner",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.WaitVisible(chromedp.CSS("#leaf-banner.banner-warn")),
	)
}
