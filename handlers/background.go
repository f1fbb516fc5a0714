package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/knot-dev/knot/clock"
	"github.com/knot-dev/knot/models"
)

// SweepLoop sweeps expired API tokens once at start (a server that was
// down for weeks cleans up at once) and then every
// server.token_sweep_interval of clk, until ctx is cancelled.
func (h *Handlers) SweepLoop(ctx context.Context, clk clock.Clock) {
	h.SweepTokens(ctx) //nolint:errcheck // logged inside; the next tick retries
	every := h.cfg.Server.TokenSweepInterval.D()
	if every <= 0 {
		every = time.Hour // config.Validate refuses this; a zero Deps in a test should not panic
	}
	clock.Every(ctx, clk, every, func() {
		h.SweepTokens(ctx) //nolint:errcheck // logged inside; the next tick retries
	})
}

// SweepTokens deletes the API tokens expired at h.now() and logs how many.
// Expired tokens are already refused at sign-in, so the sweep only tidies
// the database; a failed sweep is logged and retried on the next tick.
func (h *Handlers) SweepTokens(ctx context.Context) (int64, error) {
	defer h.sweeps.add()
	n, err := models.SweepExpiredTokens(ctx, h.db, h.now())
	if err != nil {
		if ctx.Err() == nil {
			h.log.Error("sweep expired API tokens", "err", err)
		}
		return 0, err
	}
	if _, err := models.PruneChanges(ctx, h.db, ChangeRetention); err != nil && ctx.Err() == nil {
		h.log.Warn("prune the change feed", "err", err)
	}
	if _, err := h.logins.sweep(ctx); err != nil && ctx.Err() == nil {
		h.log.Warn("sweep idle sign-in rate limits", "err", err)
	}
	if _, err := models.SweepUserSessions(ctx, h.db, h.sessionWindow()); err != nil && ctx.Err() == nil {
		h.log.Warn("sweep the records of ended sessions", "err", err)
	}
	level := slog.LevelDebug
	if n > 0 {
		level = slog.LevelInfo
	}
	h.log.Log(ctx, level, "swept expired API tokens", "deleted", n)
	return n, nil
}

// AwaitSweeps waits until n sweeps in all have ended (successful or not),
// or ctx ends: a test moves the clock past a sweep's time and then waits
// for the sweep, instead of polling for its effect.
func (h *Handlers) AwaitSweeps(ctx context.Context, n int) error {
	return h.sweeps.await(ctx, n)
}

// Sweeps is how many sweeps have ended so far.
func (h *Handlers) Sweeps() int {
	n, _ := h.sweeps.read()
	return n
}

// counter is a count one can wait on: next is closed and replaced each
// time it grows.
type counter struct {
	mu   sync.Mutex
	n    int
	next chan struct{}
}

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

func (c *counter) await(ctx context.Context, n int) error {
	for {
		got, next := c.read()
		if got >= n {
			return nil
		}
		select {
		case <-next:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d sweeps, %d done: %w", n, got, ctx.Err())
		}
	}
}
