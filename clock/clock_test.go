package clock_test

import (
	"testing"
	"time"

	"github.com/knot-dev/knot/clock"
)

var start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func fired(c <-chan time.Time) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestAFakeTimerFiresOnlyOnceTheClockReachesIt(t *testing.T) {
	f := clock.NewFake(start)
	timer := f.NewTimer(time.Minute)
	f.Advance(time.Minute - time.Second)
	if fired(timer.C()) {
		t.Fatal("the timer fired a second early")
	}
	f.Advance(time.Second)
	if !fired(timer.C()) {
		t.Fatal("the timer did not fire at its time")
	}
	if f.Pending() != 0 {
		t.Fatalf("a fired timer is still pending (%d)", f.Pending())
	}
}

func TestAStoppedOrResetFakeTimerLeavesNoStaleValue(t *testing.T) {
	f := clock.NewFake(start)
	timer := f.NewTimer(time.Second)
	f.Advance(time.Second)
	timer.Reset(time.Minute)
	if fired(timer.C()) {
		t.Fatal("Reset left the old firing in the channel")
	}
	f.Advance(time.Minute)
	if !fired(timer.C()) {
		t.Fatal("the reset timer did not fire")
	}
	timer.Reset(time.Second)
	if !timer.Stop() || f.Pending() != 0 {
		t.Fatal("Stop did not disarm an armed timer")
	}
	f.Advance(time.Hour)
	if fired(timer.C()) {
		t.Fatal("a stopped timer fired")
	}
}

func TestAFakeTickerFiresOncePerAdvanceAndStaysArmed(t *testing.T) {
	f := clock.NewFake(start)
	tick := f.NewTicker(time.Second)
	f.Advance(10 * time.Second)
	if !fired(tick.C()) || fired(tick.C()) {
		t.Fatal("ten periods at once should give one tick, as for a receiver that was away")
	}
	f.Advance(time.Second)
	if !fired(tick.C()) {
		t.Fatal("the ticker stopped ticking")
	}
	tick.Stop()
	f.Advance(time.Hour)
	if fired(tick.C()) || f.Pending() != 0 {
		t.Fatal("a stopped ticker ticked")
	}
}

func TestWaitForTimersReturnsOnceTheWorkIsWaiting(t *testing.T) {
	f := clock.NewFake(start)
	armed := make(chan clock.Timer)
	go func() { armed <- f.NewTimer(time.Hour) }()
	if err := f.WaitForTimers(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	timer := <-armed
	f.Advance(time.Hour)
	if !fired(timer.C()) {
		t.Fatal("the timer that was waited for did not fire")
	}
	if got := f.Now(); !got.Equal(start.Add(time.Hour)) {
		t.Fatalf("Now = %v, want %v", got, start.Add(time.Hour))
	}
}
