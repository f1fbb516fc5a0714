package handlers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/knot-dev/knot/knottest/kit"
)

// Each address gets five tries at an email, but one email has a ceiling
// across all addresses (and, the buckets being rows in the database, all
// servers): many addresses together cannot guess one password without end.
func TestOneEmailHasACeilingAcrossEveryAddress(t *testing.T) {
	ctx := context.Background()
	db := kit.SQLite(t, "knot.db")
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	l := newLoginLimiter(true, db, func() time.Time { return now })

	const email = "ada@example.com"
	addresses := emailCeilingBurst / emailIPBurst
	for a := range addresses {
		ip := fmt.Sprintf("192.0.2.%d", a+1)
		for i := range emailIPBurst {
			if ok, _, err := l.allow(ctx, ip, email); err != nil || !ok {
				t.Fatalf("attempt %d from %s = %v, %v; want allowed", i+1, ip, ok, err)
			}
		}
		if ok, _, _ := l.allow(ctx, ip, email); ok {
			t.Fatalf("attempt %d from %s was allowed; want each address limited to %d", emailIPBurst+1, ip, emailIPBurst)
		}
	}
	ok, wait, err := l.allow(ctx, "198.51.100.7", email)
	if err != nil || ok || wait <= 0 || wait > emailCeilingInterval+time.Second {
		t.Fatalf("a fresh address after %d attempts at the email = %v, wait %v, %v; want refused for at most %v",
			emailCeilingBurst, ok, wait, err, emailCeilingInterval)
	}
	if ok, _, err := l.allow(ctx, "198.51.100.7", "bob@example.com"); err != nil || !ok {
		t.Fatalf("another email from that address = %v, %v; want allowed", ok, err)
	}
}
