package models_test

// Benchmarks of the queries every request makes, on a temp-file SQLite
// migrated with the real migrations. They run only with -bench.
//
//	go test ./models -run '^$' -bench . -benchmem

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/knottest/kit"
	"github.com/knot-dev/knot/models"
)

func openBenchDB(b *testing.B) *gorm.DB {
	b.Helper()
	return kit.SQLite(b, "knot.db")
}

// benchTokens creates n tokens spread over ten users and returns the
// plaintext of the last one, so look-ups search a table of realistic size.
func benchTokens(b *testing.B, db *gorm.DB, n int) (string, uint) {
	b.Helper()
	v := kit.Vault(b)
	var users []uint
	for i := range 10 {
		users = append(users, addUserWithRoles(b, db, fmt.Sprintf("user%d", i), models.DeveloperRoleID))
	}
	var plain string
	var uid uint
	var err error
	for i := range n {
		uid = users[i%len(users)]
		if _, plain, err = models.CreateToken(context.Background(), db, v, uid, fmt.Sprintf("token %d", i), t0, 0); err != nil {
			b.Fatal(err)
		}
	}
	return plain, uid
}

// BenchmarkTokenByPlaintext is the bearer look-up: SHA-256, then one query
// on the unique hash index. It should not care how many tokens exist.
func BenchmarkTokenByPlaintext(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			db := openBenchDB(b)
			plain, _ := benchTokens(b, db, n)
			ctx := context.Background()
			for b.Loop() {
				if _, err := models.TokenByPlaintext(ctx, db, plain); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTouchToken shows what the once-a-minute throttle saves:
// "throttled" is the path of every bearer request but one a minute (no
// query at all); "write" moves the clock past the interval each time so
// every call updates the row.
func BenchmarkTouchToken(b *testing.B) {
	db := openBenchDB(b)
	plain, _ := benchTokens(b, db, 10)
	ctx := context.Background()
	tok, err := models.TokenByPlaintext(ctx, db, plain)
	if err != nil {
		b.Fatal(err)
	}
	now := t0.Add(time.Hour)
	if _, err := models.TouchToken(ctx, db, tok, now); err != nil {
		b.Fatal(err)
	}
	b.Run("throttled", func(b *testing.B) {
		for b.Loop() {
			if wrote, err := models.TouchToken(ctx, db, tok, now); err != nil || wrote {
				b.Fatalf("touch = %v, %v; want no write", wrote, err)
			}
		}
	})
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			now = now.Add(models.TokenTouchInterval + time.Second)
			if wrote, err := models.TouchToken(ctx, db, tok, now); err != nil || !wrote {
				b.Fatalf("touch = %v, %v; want a write", wrote, err)
			}
		}
	})
}

// BenchmarkLoadIdentity is the per-request user + roles load that both
// sessions and bearer tokens go through.
func BenchmarkLoadIdentity(b *testing.B) {
	db := openBenchDB(b)
	_, uid := benchTokens(b, db, 10)
	ctx := context.Background()
	for b.Loop() {
		if _, err := models.LoadIdentity(ctx, db, uid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListTemplates is the model half of GET /api/templates: one
// query, then the zone rule and search in Go.
func BenchmarkListTemplates(b *testing.B) {
	body := strings.Repeat("image: ubuntu:24.04\nvolumes: [/home/dev]\n", 8)
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			db := openBenchDB(b)
			for i := range n {
				var zones []string
				switch i % 4 {
				case 1:
					zones = []string{"eu"}
				case 2:
					zones = []string{"!eu"}
				}
				in := models.TemplateInput{Name: fmt.Sprintf("tpl-%04d", i), Description: "bench", Zones: zones, Active: i%10 != 0, Body: body}
				if _, err := models.CreateTemplate(context.Background(), db, in, t0); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			f := models.TemplateFilter{Zone: "eu"}
			for b.Loop() {
				if _, err := models.ListTemplates(ctx, db, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBearerResolve compares the bearer path's look-up without the
// token cache (token, then owner with roles: three queries) and with it
// (the change feed's bounds, asked again only after a commit on SQLite),
// over 1,000 tokens.
func BenchmarkBearerResolve(b *testing.B) {
	ctx := context.Background()
	db := openBenchDB(b)
	plain, _ := benchTokens(b, db, 1000)
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tok, err := models.TokenByPlaintext(ctx, db, plain)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := models.LoadIdentity(ctx, db, tok.UserID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		cache := models.NewTokenCache(100)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := cache.Resolve(ctx, db, plain, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
