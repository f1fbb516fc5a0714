package handlers_test

// Benchmarks of whole requests through the real stack: a knottest server on
// 127.0.0.1 with a temp-file SQLite, a real HTTP client over loopback. They
// run only with -bench; compare them with each other (ratios against
// BenchmarkPing), not against a fixed number.
//
//	go test ./handlers -run '^$' -bench . -benchmem

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

// benchServer is a server with an admin, a developer signed in by session,
// and a bearer token of the developer's.
type benchServer struct {
	srv    *knottest.Instance
	dev    *knottest.Client
	bearer string // "Authorization: Bearer …" header line
}

func startBenchServer(b *testing.B) *benchServer {
	b.Helper()
	srv, _ := startWithDev(b)
	dev := srv.Login("dev@example.com", devPassword)
	_, tok := dev.CreateAPIToken("bench")
	return &benchServer{srv: srv, dev: dev, bearer: "Authorization: Bearer " + tok}
}

// seedBenchTemplates adds n templates straight through the model: a mix a
// real list might hold — a quarter hidden from this zone, a tenth
// inactive, bodies of a few hundred bytes.
func seedBenchTemplates(b *testing.B, srv *knottest.Instance, n int) {
	b.Helper()
	body := strings.Repeat("image: ubuntu:24.04\nvolumes: [/home/dev]\n", 8)
	for i := range n {
		var zones []string
		switch i % 4 {
		case 1:
			zones = []string{srv.Cfg.Server.Zone}
		case 2:
			zones = []string{"!" + srv.Cfg.Server.Zone}
		}
		in := models.TemplateInput{
			Name:        fmt.Sprintf("tpl-%04d", i),
			Description: fmt.Sprintf("benchmark template number %d", i),
			Zones:       zones,
			Active:      i%10 != 0,
			Body:        body,
		}
		if _, err := models.CreateTemplate(context.Background(), srv.Server.DB(), in, srv.Clock.Now()); err != nil {
			b.Fatalf("seed template %d: %v", i, err)
		}
	}
}

// get fails the benchmark unless path answers want.
func get(b *testing.B, c *knottest.Client, path string, want int, headers ...string) {
	res := c.Get(path, headers...)
	if res.StatusCode != want {
		b.Fatalf("GET %s = %d, want %d: %.300s", path, res.StatusCode, want, res.Body)
	}
}

// BenchmarkPing is the baseline: routing, middleware and JSON with no
// database work (no cookie, so no session load).
func BenchmarkPing(b *testing.B) {
	s := startBenchServer(b)
	c := s.srv.Client()
	for b.Loop() {
		get(b, c, "/api/ping", http.StatusOK)
	}
}

// BenchmarkWhoami compares the two ways an API call authenticates. Both
// load the identity (user + roles) from the database on every request. A
// session also loads and re-saves its row on every request (scs with an
// idle timeout commits each time to push the expiry on); a bearer token is
// one indexed look-up whose last-used write happens at most once a minute.
func BenchmarkWhoami(b *testing.B) {
	s := startBenchServer(b)
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			get(b, s.dev, "/api/users/whoami", http.StatusOK)
		}
	})
	b.Run("bearer", func(b *testing.B) {
		c := s.srv.Client() // no cookie: the token alone
		for b.Loop() {
			get(b, c, "/api/users/whoami", http.StatusOK, s.bearer)
		}
	})
}

// BenchmarkTemplatesAPI lists templates (JSON, bearer) at several sizes.
// The zone and search filters run in Go after one query, so the cost
// should grow with the table, not faster.
func BenchmarkTemplatesAPI(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := startBenchServer(b)
			seedBenchTemplates(b, s.srv, n)
			c := s.srv.Client()
			for b.Loop() {
				get(b, c, "/api/templates", http.StatusOK, s.bearer)
			}
		})
	}
}

// BenchmarkTemplatesPage renders the HTML list (templ, session) at 100
// templates, for comparison with the JSON answer of the same size.
func BenchmarkTemplatesPage(b *testing.B) {
	s := startBenchServer(b)
	seedBenchTemplates(b, s.srv, 100)
	for b.Loop() {
		get(b, s.dev, "/templates", http.StatusOK)
	}
}

// BenchmarkLogin is a full sign-in: bcrypt at the default cost dominates.
// Rate limiting is off in knottest's config.
func BenchmarkLogin(b *testing.B) {
	s := startBenchServer(b)
	form := url.Values{"email": {"dev@example.com"}, "password": {devPassword}}
	for b.Loop() {
		c := s.srv.Client() // a fresh jar: a new session each time
		res := c.PostForm("/login", form)
		if res.StatusCode != http.StatusSeeOther {
			b.Fatalf("POST /login = %d: %.300s", res.StatusCode, res.Body)
		}
		c.HTTP.CloseIdleConnections()
	}
}
