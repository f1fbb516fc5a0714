package views

import (
	"testing"
	"time"
)

func TestAgoSaysHowLongBefore(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Minute, "just now"},
		{30 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{3*time.Minute + 59*time.Second, "3 minutes ago"},
		{time.Hour, "1 hour ago"},
		{23 * time.Hour, "23 hours ago"},
		{24 * time.Hour, "1 day ago"},
		{5*24*time.Hour + time.Hour, "5 days ago"},
		{60 * 24 * time.Hour, "2 months ago"},
		{400 * 24 * time.Hour, "on 2025-10-23"},
	} {
		if got := ago(now.Add(-c.d), now); got != c.want {
			t.Errorf("ago(now-%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
