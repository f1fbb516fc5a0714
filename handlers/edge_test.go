package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/knot-dev/knot/knottest"
)

func wantSecurityHeaders(t *testing.T, what string, res *knottest.Response) {
	t.Helper()
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if res.Header.Get(h) == "" {
			t.Errorf("%s (%d) lacks %s", what, res.StatusCode, h)
		}
	}
}

func TestEveryAnswerCarriesTheSecurityHeaders(t *testing.T) {
	_, c := startAdmin(t)
	crossSite := c.PostForm("/api-tokens", url.Values{"name": {"x"}}, "Sec-Fetch-Site: cross-site")
	if crossSite.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site post = %d, want 403", crossSite.StatusCode)
	}
	wantSecurityHeaders(t, "the cross-origin refusal", crossSite)
	wantSecurityHeaders(t, "a 404", c.Get("/no/such/page"))
	wantSecurityHeaders(t, "a static file", c.Get("/static/app.css"))
	wantSecurityHeaders(t, "a probe", c.Get("/healthz"))
	if hsts := c.Get("/templates").Header.Get("Strict-Transport-Security"); hsts != "" {
		t.Fatalf("a plain-HTTP server sent HSTS: %q", hsts)
	}
}

func TestHSTSUnderTLS(t *testing.T) {
	srv := startTLS(t)
	if hsts := srv.Client().Get("/login").Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Fatalf("HSTS under TLS = %q", hsts)
	}
}

// http.CrossOriginProtection compares hosts, not schemes: a page served
// over plain HTTP from this host must not post to the HTTPS server.
func TestAnHTTPOriginCannotPostToTheHTTPSServer(t *testing.T) {
	srv := startTLS(t)
	c := srv.SetupAdmin()
	host := strings.TrimPrefix(srv.URL, "https://")
	res := c.PostForm("/api-tokens", url.Values{"name": {"from http"}}, "Origin: http://"+host)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a post with an http:// Origin = %d, want 403", res.StatusCode)
	}
	wantSecurityHeaders(t, "the scheme refusal", res)
	if res := c.PostForm("/api-tokens", url.Values{"name": {"from https"}}, "Origin: https://"+host); res.StatusCode == http.StatusForbidden {
		t.Fatalf("a same-origin post was refused: %s", res.Body)
	}
}

func TestStaticListsNoDirectory(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	c := srv.Client()
	for _, p := range []string{"/static/", "/static", "/static/."} {
		if res := c.Get(p); res.StatusCode == http.StatusOK || strings.Contains(res.Body, "app.css") {
			t.Fatalf("GET %s = %d and lists files", p, res.StatusCode)
		}
	}
	if res := c.Get("/static/app.css"); res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("GET /static/app.css = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// startTLS is a server that serves HTTPS only.
func startTLS(t *testing.T) *knottest.Instance {
	t.Helper()
	cfg := knottest.Config(t)
	cfg.Server.TLS.UseTLS = true
	cfg.Server.URL = "https://127.0.0.1"
	return knottest.Start(t, cfg)
}
