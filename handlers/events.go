package handlers

import (
	"context"
	"fmt"
	"sync"
)

// What background work has done, as counts a caller can wait on: a test
// moves the clock or stops a leaf and then waits for the work that
// follows, instead of polling for its effect.

// AwaitSweeps waits until n sweeps of expired tokens in all have ended
// (successful or not), or ctx ends.
func (h *Handlers) AwaitSweeps(ctx context.Context, n int) error {
	if err := h.sweeps.until(ctx, func(done int) bool { return done >= n }); err != nil {
		return fmt.Errorf("waiting for %d token sweeps, %d done: %w", n, h.Sweeps(), err)
	}
	return nil
}

// Sweeps is how many sweeps of expired tokens have ended so far.
func (h *Handlers) Sweeps() int {
	n, _ := h.sweeps.read()
	return n
}

// AwaitLeafRecords waits until cond holds, asking it now and again each
// time this origin has written a leaf's record (a hello, a feed opened or
// closed, a refusal), or until ctx ends.
func (h *Handlers) AwaitLeafRecords(ctx context.Context, cond func() bool) error {
	return h.leafRecords.until(ctx, func(int) bool { return cond() })
}

// counter is a count one can wait on: next is closed and replaced each
// time it grows.
type counter struct {
	mu   sync.Mutex
	n    int
	next chan struct{}
}

// read returns the count and a channel closed when it next grows.
func (c *counter) read() (int, chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next == nil {
		c.next = make(chan struct{})
	}
	return c.n, c.next
}

func (c *counter) add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.next != nil {
		close(c.next)
		c.next = nil
	}
}

// until waits until cond holds of the count, asking it now and after
// each growth, or until ctx ends.
func (c *counter) until(ctx context.Context, cond func(n int) bool) error {
	for {
		n, next := c.read()
		if cond(n) {
			return nil
		}
		select {
		case <-next:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
