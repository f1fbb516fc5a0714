// Package clock is the time that knot's background work runs on: the
// system clock in production, and in tests a fake one whose timers fire
// only when the test moves it, so that a test waits on what the work does
// instead of sleeping until it has probably happened.
//
// Network deadlines (HTTP timeouts, keepalives written to a socket) stay on
// real time: the other end of the socket does not read a fake clock.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and makes timers that follow it.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
	NewTicker(d time.Duration) Ticker
}

// Timer fires once on C, like time.Timer. Stop and Reset leave no stale
// value in C (the time package's behaviour since Go 1.23).
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// Ticker fires on C every period, dropping ticks for a slow receiver, like
// time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// System is the machine's clock.
func System() Clock { return WithNow(time.Now) }

// WithNow is a clock that reads the time from now and runs its timers on
// real time: for tests that move the date (token lifetimes, session
// windows) while background work keeps its own pace.
func WithNow(now func() time.Time) Clock { return realClock{now: now} }

type realClock struct{ now func() time.Time }

func (r realClock) Now() time.Time { return r.now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time        { return t.t.C }
func (t realTimer) Stop() bool                 { return t.t.Stop() }
func (t realTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }

// Every calls f every d of c until ctx ends; f's own time does not delay
// the next call beyond the tick it missed.
func Every(ctx context.Context, c Clock, d time.Duration, f func()) {
	tick := c.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
			f()
		}
	}
}

// Fake is a clock that moves only when told to. Its timers and tickers
// fire during Advance, once their time has come.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	pending map[*fakeTimer]struct{}
	// changed is closed (and replaced) whenever a timer is armed or
	// disarmed, waking WaitForTimers.
	changed chan struct{}
}

// NewFake is a fake clock that reads start until it is advanced.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, pending: map[*fakeTimer]struct{}{}, changed: make(chan struct{})}
}

// Now is the fake's current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d and fires every timer and ticker
// whose time has come. A ticker fires once however many periods d spans,
// as a real ticker does for a receiver that was away.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for t := range f.pending {
		if t.at.After(f.now) {
			continue
		}
		select {
		case t.c <- f.now:
		default:
		}
		if t.period > 0 {
			for !t.at.After(f.now) {
				t.at = t.at.Add(t.period)
			}
			continue
		}
		delete(f.pending, t)
	}
	f.notify()
}

// Pending is how many timers and tickers are armed.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// WaitForTimers returns once at least n timers and tickers are armed, or
// with ctx's error. A test calls it before Advance, so that the work it
// means to trigger is already waiting on the clock.
func (f *Fake) WaitForTimers(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		armed, changed := len(f.pending), f.changed
		f.mu.Unlock()
		if armed >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// NewTimer arms a timer that fires once the clock has advanced by d.
func (f *Fake) NewTimer(d time.Duration) Timer { return f.arm(d, 0) }

// NewTicker arms a ticker that fires each time the clock passes another
// period d.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	return fakeTicker{f.arm(d, d)}
}

func (f *Fake) arm(d, period time.Duration) *fakeTimer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1), period: period}
	f.mu.Lock()
	defer f.mu.Unlock()
	t.start(d)
	return t
}

// notify wakes WaitForTimers; f.mu is held.
func (f *Fake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

type fakeTimer struct {
	f      *Fake
	c      chan time.Time
	at     time.Time
	period time.Duration
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

// start arms t to fire d from now; t.f.mu is held.
func (t *fakeTimer) start(d time.Duration) {
	t.at = t.f.now.Add(d)
	if d <= 0 && t.period == 0 {
		t.c <- t.f.now
		t.f.notify()
		return
	}
	t.f.pending[t] = struct{}{}
	t.f.notify()
}

// stop disarms t and drains a value it fired but nobody read; t.f.mu is held.
func (t *fakeTimer) stop() bool {
	_, armed := t.f.pending[t]
	delete(t.f.pending, t)
	select {
	case <-t.c:
	default:
	}
	if armed {
		t.f.notify()
	}
	return armed
}

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.stop()
}

type fakeTicker struct{ t *fakeTimer }

func (t fakeTicker) C() <-chan time.Time { return t.t.c }
func (t fakeTicker) Stop()               { t.t.Stop() }

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	armed := t.stop()
	t.start(d)
	return armed
}
