package leaf_test

// Benchmarks of a leaf's sync against a real origin: two knottest servers
// on 127.0.0.1, the origin on TLS with its self-signed certificate, as in
// startPair. They run only with -bench.
//
//	go test ./leaf -run '^$' -bench . -benchmem

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

// startBenchPair starts an origin holding n templates (all shown on
// leaves) and a leaf connected to it by an API token, and syncs once.
func startBenchPair(b *testing.B, n int) *knottest.Instance {
	b.Helper()
	clock := knottest.NewClock()
	ocfg := knottest.Config(b)
	ocfg.Server.TLS.UseTLS = true
	ocfg.Server.URL = "https://127.0.0.1"
	origin := knottest.Start(b, ocfg, knottest.WithClock(clock))
	admin := origin.SetupAdmin()
	body := strings.Repeat("image: ubuntu:24.04\nvolumes: [/home/dev]\n", 8)
	for i := range n {
		in := models.TemplateInput{Name: fmt.Sprintf("tpl-%04d", i), Description: "bench", Active: true, Body: body}
		if _, err := models.CreateTemplate(context.Background(), origin.Server.DB(), in, clock.Now()); err != nil {
			b.Fatal(err)
		}
	}
	_, token := admin.CreateAPIToken("Leaf Bench")

	lcfg := knottest.Config(b)
	lcfg.Server.Origin.Server = config.URLList(origin.URL)
	lcfg.Server.Origin.Token = token
	lcfg.Server.Origin.CAFile = server.SelfSignedCertPath(&origin.Cfg)
	// The benchmark drives the syncs; the loop's heartbeat stays away.
	lcfg.Server.Origin.HeartbeatInterval = config.Duration(time.Hour)
	if _, err := lcfg.Validate(); err != nil {
		b.Fatal(err)
	}
	leafSrv := knottest.Start(b, lcfg, knottest.WithClock(clock))
	if err := leafSrv.Server.Leaf().Sync(context.Background()); err != nil {
		b.Fatalf("first sync: %v", err)
	}
	if got, _ := models.ClusterTemplates(context.Background(), leafSrv.Server.DB()); len(got) != n {
		b.Fatalf("leaf cached %d templates, want %d", len(got), n)
	}
	return leafSrv
}

// BenchmarkSync is one Sync (hello + template fetch) with 100 templates
// on the origin. "304" is the steady state: the cached ETag revalidates
// and no body crosses. "200" forgets the ETag before each sync, so the
// origin sends the whole list and the leaf replaces its cache.
func BenchmarkSync(b *testing.B) {
	const n = 100
	ctx := context.Background()
	b.Run("304", func(b *testing.B) {
		l := startBenchPair(b, n)
		for b.Loop() {
			if err := l.Server.Leaf().Sync(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("200", func(b *testing.B) {
		l := startBenchPair(b, n)
		db := l.Server.DB()
		for b.Loop() {
			b.StopTimer()
			if err := db.Exec(`UPDATE leaf_state SET value = '' WHERE key = 'templates_etag'`).Error; err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := l.Server.Leaf().Sync(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOriginTemplates is the origin's half alone: GET
// /api/leaf/v1/templates with a bearer token, answered 304 or 200.
func BenchmarkOriginTemplates(b *testing.B) {
	clock := knottest.NewClock()
	origin := knottest.Start(b, knottest.Config(b), knottest.WithClock(clock))
	admin := origin.SetupAdmin()
	body := strings.Repeat("image: ubuntu:24.04\nvolumes: [/home/dev]\n", 8)
	for i := range 100 {
		in := models.TemplateInput{Name: fmt.Sprintf("tpl-%04d", i), Description: "bench", Active: true, Body: body}
		if _, err := models.CreateTemplate(context.Background(), origin.Server.DB(), in, clock.Now()); err != nil {
			b.Fatal(err)
		}
	}
	_, token := admin.CreateAPIToken("Leaf Bench")
	c := origin.Client()
	auth := "Authorization: Bearer " + token
	etag := c.Get("/api/leaf/v1/templates", auth).Header.Get("ETag")
	if etag == "" {
		b.Fatal("origin sent no ETag")
	}
	for _, tc := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"304", []string{auth, "If-None-Match: " + etag}, http.StatusNotModified},
		{"200", []string{auth}, http.StatusOK},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if res := c.Get("/api/leaf/v1/templates", tc.headers...); res.StatusCode != tc.want {
					b.Fatalf("status %d, want %d", res.StatusCode, tc.want)
				}
			}
		})
	}
}
