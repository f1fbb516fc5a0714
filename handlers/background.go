package handlers

import (
	"context"
	"log/slog"
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
