package leaf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"gorm.io/gorm"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
)

// The link's status as people see it: the banner on every page (detailed
// for people signed in, short for visitors), the /leaf status page and
// Retry now.

// bannerPoll is what the banner's htmx poll sends (see views.LeafBanner).
var bannerPoll = []string{"HX-Request: true", views.BackgroundHeader + ": poll"}

var seenKey = regexp.MustCompile(`hx-get="/leaf/banner\?seen=([0-9a-f]+)"`)

// bannerKey is the key of the banner a page shows, which its poll sends.
func bannerKey(t *testing.T, body string) string {
	t.Helper()
	m := seenKey.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page has no banner poll:\n%.2000s", body)
	}
	return m[1]
}

func wantIn(t *testing.T, what string, res *knottest.Response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(res.Body, p) {
			t.Fatalf("%s lacks %q:\n%.3000s", what, p, res.Body)
		}
	}
}

func wantNotIn(t *testing.T, what string, res *knottest.Response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(res.Body, p) {
			t.Fatalf("%s shows %q:\n%.3000s", what, p, res.Body)
		}
	}
}

func wantCode(t *testing.T, what string, res *knottest.Response, code int) {
	t.Helper()
	if res.StatusCode != code {
		t.Fatalf("%s = %d, want %d: %.600s", what, res.StatusCode, code, res.Body)
	}
}

func TestSignedOutVisitorsSeeAShortBannerWithoutTheOriginsAddress(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.await("the leaf's link", func() bool { return p.status().Healthy() })
	member := p.leaf.Login(knottest.AdminEmail, knottest.AdminPassword)
	p.origin.Stop()
	p.await("the leaf noticing", func() bool { return p.status().State == leaf.StateUnreachable && !p.status().NextRetry.IsZero() })

	anon := p.leaf.Client()
	for _, path := range []string{"/login", "/leaf/banner"} {
		res := anon.Get(path)
		wantCode(t, "signed out "+path, res, http.StatusOK)
		wantIn(t, "signed out "+path, res, "This leaf cannot reach its cluster; people who signed in here before can still sign in.")
		wantNotIn(t, "signed out "+path, res, p.origin.Addr(), "server.origin", "Since ", "as of", `href="/leaf"`)
	}
	wantIn(t, "the sign-in page", anon.Get("/login"), `role="status"`)

	for _, path := range []string{"/templates", "/leaf/banner"} {
		res := member.Get(path)
		wantCode(t, "signed in "+path, res, http.StatusOK)
		wantIn(t, "signed in "+path, res, p.origin.URL, "is unreachable", "Retrying automatically.", `href="/leaf"`)
		wantNotIn(t, "signed in "+path, res, "This leaf cannot reach its cluster", "Next retry in")
	}
}

func TestEveryBrokenLinkHasAShortBannerForVisitors(t *testing.T) {
	fix := "This leaf is not connected to its cluster: its administrator needs to fix its settings."
	for _, tc := range []struct {
		name      string
		opts      pairOpts
		breakLink func(*pair)
		state     leaf.State
		short     string
	}{
		{"leaf nodes disabled", pairOpts{origin: func(c *config.Config) { c.Server.Cluster.AllowLeafNodes = false }}, nil,
			leaf.StateLeafNodesDisabled, "Leaf nodes are disabled on the cluster: ask its administrator."},
		{"token rejected", pairOpts{}, func(p *pair) {
			if res := p.admin.Do(http.MethodDelete, "/api/tokens/"+ftoa(p.tokID), nil); res.StatusCode != http.StatusOK {
				t.Fatalf("delete token: %d", res.StatusCode)
			}
		}, leaf.StateTokenRejected, fix},
		{"untrusted certificate", pairOpts{leaf: func(c *config.Config) { c.Server.Origin.CAFile = "" }}, nil,
			leaf.StateUntrustedCertificate, fix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPair(t, tc.opts)
			if tc.breakLink != nil {
				tc.breakLink(p)
			}
			p.await("the leaf in state "+string(tc.state), func() bool { return p.status().State == tc.state })
			res := p.leaf.Client().Get("/login")
			wantIn(t, "the sign-in page", res, tc.short)
			wantNotIn(t, "the sign-in page", res, p.origin.Addr(), "server.origin", "server.cluster", "ca_file")
			if detail := p.status().Message; strings.Contains(res.Body, detail) {
				t.Fatalf("visitors see the detailed message %q", detail)
			}
		})
	}
}

// The banner is on every page even while the link is healthy (empty,
// polling), answers 204 while what it shows is still current, and the
// same poll brings the banner once the link breaks.
func TestTheBannerPollAnswersOnlyWhatChanged(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.await("the leaf's link", func() bool { return p.status().Healthy() })
	c := p.leaf.Login(knottest.AdminEmail, knottest.AdminPassword)

	res := c.Get("/templates")
	wantIn(t, "a healthy leaf's page", res, `id="leaf-link"`, `hx-trigger="every 3s"`, views.BackgroundHeader, `role="status"`, `href="/leaf"`)
	wantNotIn(t, "a healthy leaf's page", res, `id="leaf-banner"`)
	key := bannerKey(t, res.Body)

	res = c.Get("/leaf/banner?seen="+key, bannerPoll...)
	wantCode(t, "a poll with the current key", res, http.StatusNoContent)
	if res.Body != "" {
		t.Fatalf("a 204 poll has a body: %q", res.Body)
	}
	res = c.Get("/leaf/banner?seen=0000", bannerPoll...)
	wantCode(t, "a poll with another key", res, http.StatusOK)
	wantIn(t, "the healthy banner", res, `id="leaf-link"`)
	wantNotIn(t, "the healthy banner", res, `id="leaf-banner"`, "<html")
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("the banner may be cached: Cache-Control %q", cc)
	}

	p.origin.Stop()
	p.await("the banner in the poll", func() bool {
		res = c.Get("/leaf/banner?seen="+key, bannerPoll...)
		return res.StatusCode == http.StatusOK && strings.Contains(res.Body, `id="leaf-banner"`)
	})
	wantIn(t, "the banner", res, "is unreachable", "banner-warn")
}

// The banner polls from every open tab; if polls counted as activity, a
// forgotten tab would keep its session signed in for ever.
func TestTheBannersPollDoesNotKeepAnIdleSessionSignedIn(t *testing.T) {
	p := startPair(t, pairOpts{leaf: func(c *config.Config) { c.Server.SessionIdleTimeout = config.Duration(30 * time.Minute) }})
	idle := p.leaf.Login(knottest.AdminEmail, knottest.AdminPassword)
	active := p.leaf.Login(knottest.AdminEmail, knottest.AdminPassword)

	p.clock.Advance(20 * time.Minute)
	wantCode(t, "the idle tab's poll", idle.Get("/leaf/banner", bannerPoll...), http.StatusOK)
	wantCode(t, "the active tab's page", active.Get("/templates"), http.StatusOK)

	p.clock.Advance(20 * time.Minute)
	wantCode(t, "the idle session after 40 minutes of polls", idle.Get("/api/users/whoami"), http.StatusUnauthorized)
	wantCode(t, "the session used 20 minutes ago", active.Get("/api/users/whoami"), http.StatusOK)
}

func TestTheLeafStatusPageShowsTheLinkAndWhatIsCached(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	spare := "https://" + ln.Addr().String()
	ln.Close()
	p := startPair(t, pairOpts{leaf: func(c *config.Config) {
		c.Server.Origin.Server = config.URLList(string(c.Server.Origin.Server) + "," + spare)
	}})
	res := p.admin.JSONRequest(http.MethodPost, "/api/templatevars", map[string]any{"name": "CACHED_VAR", "value": "v"})
	wantCode(t, "create a variable on the origin", res, http.StatusCreated)
	var templates, variables int64
	p.await("the variable cached on the leaf", func() bool {
		templates, variables, err = models.ClusterCacheCounts(context.Background(), p.leaf.Server.DB())
		return err == nil && variables == 1 && p.status().Healthy()
	})
	c := p.leaf.Login(knottest.AdminEmail, knottest.AdminPassword)

	// The sign-in itself may move the feed on (a change to the user on the
	// origin): read the page once the cursor it shows is the leaf's.
	var cursor int64
	p.await("the page showing the leaf's cursor", func() bool {
		cursor = p.leaf.Server.Leaf().Cursor()
		res = c.Get("/leaf")
		return strings.Contains(res.Body, ">"+strconv.FormatInt(cursor, 10)+"<")
	})
	wantCode(t, "GET /leaf", res, http.StatusOK)
	wantIn(t, "the leaf status page", res,
		"<h1>Leaf Status</h1>", `<a href="/leaf" aria-current="page"><span class="icon icon-activity" aria-hidden="true"></span>Leaf Status</a>`,
		"Connected", "<code>connected</code>", "Connected to the origin "+p.origin.URL,
		p.origin.URL, spare, "in use", "origin-zone",
		"Feed cursor", ">"+strconv.FormatInt(cursor, 10)+"<",
		fmt.Sprintf("%d cluster templates", templates), "1 cluster variable",
		`<form method="post" action="/leaf/retry"`, `<button type="submit" class="primary">Retry now</button>`,
	)
	wantNotIn(t, "the leaf status page", res, "Next attempt")

	frag := c.Get("/leaf", bannerPoll...)
	wantCode(t, "the status section's poll", frag, http.StatusOK)
	wantIn(t, "the status section", frag, `id="leaf-status"`, p.origin.URL)
	wantNotIn(t, "the status section", frag, "<html", "Retry now")

	var st struct {
		State   string   `json:"state"`
		Origin  string   `json:"origin"`
		Origins []string `json:"origins"`
		Cursor  *int64   `json:"cursor"`
	}
	api := c.Get("/api/leaf/status")
	if err := json.Unmarshal([]byte(api.Body), &st); err != nil {
		t.Fatalf("/api/leaf/status: %v: %s", err, api.Body)
	}
	if st.State != "connected" || st.Origin != p.origin.URL || !slices.Equal(st.Origins, []string{p.origin.URL, spare}) || st.Cursor == nil || *st.Cursor != cursor {
		t.Fatalf("/api/leaf/status = %s, want origins [%s %s] and cursor %d", api.Body, p.origin.URL, spare, cursor)
	}

	// Signing in is needed: the page names the origin and its settings.
	anon := p.leaf.Client()
	if res := anon.Get("/leaf"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("GET /leaf signed out = %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := anon.PostForm("/leaf/retry", nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("POST /leaf/retry signed out = %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// editUnannounced changes a template on the origin the way nothing but a
// full fetch can notice: the change feed's row goes in the same
// transaction, so the leaf's feed never carries it.
func editUnannounced(t *testing.T, p *pair, name, body string) {
	t.Helper()
	err := p.origin.Server.DB().Transaction(func(tx *gorm.DB) error {
		var latest int64
		if err := tx.Raw(`SELECT COALESCE(MAX(id), 0) FROM changes`).Scan(&latest).Error; err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE templates SET body = ? WHERE name = ?`, body, name).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM changes WHERE id > ?`, latest).Error
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Retry now makes the link fetch everything again at once; with the
// heartbeat an hour away, nothing else would in this test.
func TestRetryNowFetchesEverythingAgain(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.await("the leaf's link", func() bool { return p.status().Healthy() && p.leaf.Server.Leaf().Cursor() > 0 })
	c := p.leaf.Login(knottest.AdminEmail, knottest.AdminPassword)

	editUnannounced(t, p, "everywhere", "image: unannounced")
	res := c.PostForm("/leaf/retry", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/leaf" {
		t.Fatalf("Retry now without JavaScript = %d %q, want 303 to /leaf", res.StatusCode, res.Header.Get("Location"))
	}
	p.await("the unannounced edit on the leaf", func() bool {
		ct, ok := clusterTemplate(t, p, "everywhere")
		return ok && ct.Body == "image: unannounced"
	})
	if !strings.Contains(p.leaf.Logs.String(), "leaf link retry requested") {
		t.Fatal("the retry is not in the log")
	}

	// With htmx: the status section again, and a note for the page's
	// live region.
	editUnannounced(t, p, "everywhere", "image: unannounced again")
	res = c.PostForm("/leaf/retry", nil, "HX-Request: true")
	wantCode(t, "Retry now with htmx", res, http.StatusOK)
	wantIn(t, "the htmx answer", res, `id="leaf-status"`, `id="retry-note" hx-swap-oob="innerHTML"`, "Retry requested at 09:00:00 UTC.")
	wantNotIn(t, "the htmx answer", res, "<html")
	p.await("the second edit on the leaf", func() bool {
		ct, ok := clusterTemplate(t, p, "everywhere")
		return ok && ct.Body == "image: unannounced again"
	})
}

// cspRefusals records the page's Content-Security-Policy refusals, so that
// a poll broken by the strict CSP fails the test.
const cspRefusals = `window.knotCSP = [];
document.addEventListener("securitypolicyviolation", function (e) { window.knotCSP.push(e.violatedDirective + " " + e.blockedURI); });`

// The promise of the banner, in a real browser: an open page shows the
// link breaking and coming back, without a reload.
func TestTheBannerFollowsTheLinkWithoutAReload(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.await("the leaf's link", func() bool { return p.status().Healthy() })
	ctx := knottest.BrowserFor(t, 60*time.Second)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRefusals}); err != nil {
		t.Fatalf("install the CSP watcher: %v", err)
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return s
	}
	err := chromedp.Do(ctx, append(signInOnTheLeaf(p),
		// Something only this document has: a reload would lose it.
		chromedp.Evaluate[chromedp.Void](`window.knotMarker = "same page"`),
	)...)
	if err != nil {
		t.Fatalf("sign in on the leaf: %v", err)
	}
	if n := eval(`String(document.querySelectorAll("#leaf-link").length) + "/" + String(document.querySelectorAll("#leaf-banner").length)`); n != "1/0" {
		t.Fatalf("healthy leaf: poller/banner count = %s, want 1/0", n)
	}

	addr := p.origin.Addr()
	p.origin.Stop()
	err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`!!document.querySelector("#leaf-banner") && document.querySelector("#leaf-banner").textContent.includes("is unreachable")`))
	if err != nil {
		t.Fatalf("the banner did not appear on the open page: %v", err)
	}
	banner := eval(`document.querySelector("#leaf-banner").textContent`)
	if !strings.Contains(banner, "Retrying automatically.") || strings.Contains(banner, "Next retry in") {
		t.Fatalf("banner = %q", banner)
	}
	if live := eval(`document.querySelector("#leaf-banner").closest('[role="status"]') ? "live" : "silent"`); live != "live" {
		t.Fatal("the banner is not inside a live region")
	}
	if m := eval(`String(window.knotMarker)`); m != "same page" {
		t.Fatal("the banner came with a reload")
	}

	p.origin = knottest.Start(t, p.origin.Cfg, knottest.WithClock(p.clock), knottest.WithAddr(addr))
	err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`!!document.querySelector("#leaf-link") && !document.querySelector("#leaf-banner")`))
	if err != nil {
		t.Fatalf("the banner did not clear on the open page: %v", err)
	}
	if m := eval(`String(window.knotMarker)`); m != "same page" {
		t.Fatal("the banner cleared with a reload")
	}
	if v := eval(`window.knotCSP.join("; ")`); v != "" {
		t.Fatalf("the Content-Security-Policy refused: %s", v)
	}
}
