package models_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/knot-dev/knot/knottest/kit"
	"github.com/knot-dev/knot/models"
)

// BenchmarkListTokenPage is the API Tokens page's query for a user with
// 1,000 tokens: a count and one page of 50, with and without a name
// search. It should cost about the same on page 1 and page 20, and far
// less than reading (and decrypting) all 1,000.
//
//	go test ./models -run '^$' -bench ListTokenPage -benchmem
func BenchmarkListTokenPage(b *testing.B) {
	db := openBenchDB(b)
	v := kit.Vault(b)
	owner := addUser(b, db, "owner")
	ctx := context.Background()
	for i := range 1000 {
		if _, _, err := models.CreateToken(ctx, db, v, owner, fmt.Sprintf("token %04d", i), t0.Add(time.Duration(i)*time.Second), 0); err != nil {
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
				if list, total, err := models.ListTokenPage(ctx, db, owner, c.q, c.page, 50); err != nil || len(list) == 0 || total == 0 {
					b.Fatalf("ListTokenPage = %d of %d, %v", len(list), total, err)
				}
			}
		})
	}
}
