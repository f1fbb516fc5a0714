package models_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/models"
)

func TestTakeAttemptDrawsOnEveryBucketOrNone(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	ip := models.Limit{Key: "ip:192.0.2.1", Burst: 3, Every: time.Minute}
	email := models.Limit{Key: "email:a@example.com", Burst: 2, Every: time.Minute}
	for i := range 2 {
		if ok, _, err := models.TakeAttempt(ctx, db, t0, ip, email); err != nil || !ok {
			t.Fatalf("attempt %d: %v %v", i+1, ok, err)
		}
	}
	ok, wait, err := models.TakeAttempt(ctx, db, t0, ip, email)
	if err != nil || ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("third attempt with the email bucket empty: %v %v %v", ok, wait, err)
	}
	// The refused attempt took nothing from the IP's bucket: one is left.
	if ok, _, _ := models.TakeAttempt(ctx, db, t0, ip); !ok {
		t.Fatal("a refused attempt still drew on the other bucket")
	}
	if ok, _, _ := models.TakeAttempt(ctx, db, t0.Add(time.Minute), ip, email); !ok {
		t.Fatal("a minute later the buckets have not refilled")
	}
}

// A successful sign-in forgets its email's bucket while other attempts for
// that email are in flight: none of them fails for it.
func TestForgettingABucketMidAttemptIsNoError(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	l := models.Limit{Key: "email:race@example.com", Burst: 1000, Every: time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 25 {
		wg.Go(func() {
			if _, _, err := models.TakeAttempt(ctx, db, t0, l); err != nil {
				errs <- err
			}
		})
		wg.Go(func() {
			if err := models.ForgetThrottle(ctx, db, l.Key); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestABucketRefillsOneAttemptEveryIntervalAndSaysHowLongToWait(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	l := models.Limit{Key: "ip:198.51.100.7", Burst: 2, Every: time.Minute}
	take := func(at time.Time) (bool, time.Duration) {
		t.Helper()
		ok, wait, err := models.TakeAttempt(ctx, db, at, l)
		if err != nil {
			t.Fatal(err)
		}
		return ok, wait
	}
	for range 2 {
		if ok, _ := take(t0); !ok {
			t.Fatal("a full bucket refused")
		}
	}
	if ok, wait := take(t0.Add(20 * time.Second)); ok || wait != 40*time.Second {
		t.Fatalf("20 s after emptying: %v, wait %v; want refused for 40 s", ok, wait)
	}
	// A server whose clock is behind sees the bucket as it was stored,
	// not emptier.
	if ok, wait := take(t0.Add(-time.Hour)); ok || wait != 40*time.Second {
		t.Fatalf("from a clock an hour behind: %v, wait %v; want refused for 40 s", ok, wait)
	}
	if n, err := models.SweepThrottle(ctx, db, t0.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("sweeping a bucket last touched before the cutoff deleted %d (%v), want 1", n, err)
	}
	if ok, _ := take(t0); !ok {
		t.Fatal("a swept bucket is not full again")
	}
}
