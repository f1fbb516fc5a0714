package models_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

// BenchmarkListTokenPage is the API Tokens page's query for a user with
// 1,000 tokens: a count and one page of 50, with and without a name
// search. It should cost about the same on page 1 and page 20, and far
// less than reading (and decrypting) all 1,000.
//
//	go test ./models -run '^$' -bench ListTokenPage -benchmem
func BenchmarkListTokenPage(b *testing.B) {
	db := openBenchDB(b)
	key := make([]byte, vault.KeySize)
	rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		b.Fatal(err)
	}
	u := models.User{Username: "owner", Email: "owner@example.com", Active: true, CreatedAt: t0, UpdatedAt: t0}
	if err := db.Create(&u).Error; err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 1000 {
		if _, _, err := models.CreateToken(ctx, db, v, u.ID, fmt.Sprintf("token %04d", i), t0.Add(time.Duration(i)*time.Second), 0); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		q    string
		page int
	}{{"page=1", "", 1}, {"page=20", "", 20}, {"search", "TOKEN 05", 1}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if list, total, err := models.ListTokenPage(ctx, db, u.ID, c.q, c.page, 50); err != nil || len(list) == 0 || total == 0 {
					b.Fatalf("ListTokenPage = %d of %d, %v", len(list), total, err)
				}
			}
		})
	}
}
