package handlers

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gin-gonic/gin"
)

// statusClientClosedRequest is what a request whose client hung up is
// recorded with (nginx's 499): no answer reaches anybody, and the metrics
// should count it neither as served nor as a server error.
const statusClientClosedRequest = 499

// clientGone reports whether err only says that the request's client hung
// up (its context was cancelled, which the database driver reports as
// context.Canceled). Then it notes that at debug level — an operator has
// nothing to act on — and abandons the request without an answer. Model
// writes are single statements or transactions, so the work was done or
// not, never half done.
func (h *Handlers) clientGone(c *gin.Context, what string, err error) bool {
	if !errors.Is(err, context.Canceled) || c.Request.Context().Err() == nil {
		return false
	}
	h.log.Debug("client went away", "during", what, "path", c.Request.URL.Path, "err", err)
	c.AbortWithStatus(statusClientClosedRequest)
	return true
}

// abortsAtDebug demotes an error record whose "err" is context.Canceled to
// a debug "client went away" record. Handlers log with request contexts,
// which are cancelled when the client hangs up (background jobs check their
// own context before logging), so such an error is a client abort, not a
// fault; this covers the handlers that log a failure themselves before
// answering it.
type abortsAtDebug struct{ slog.Handler }

func (a abortsAtDebug) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError || !carriesCanceled(r) {
		return a.Handler.Handle(ctx, r)
	}
	if !a.Handler.Enabled(ctx, slog.LevelDebug) {
		return nil
	}
	d := slog.NewRecord(r.Time, slog.LevelDebug, "client went away", r.PC)
	d.AddAttrs(slog.String("during", r.Message))
	r.Attrs(func(at slog.Attr) bool {
		d.AddAttrs(at)
		return true
	})
	return a.Handler.Handle(ctx, d)
}

func (a abortsAtDebug) WithAttrs(attrs []slog.Attr) slog.Handler {
	return abortsAtDebug{a.Handler.WithAttrs(attrs)}
}

func (a abortsAtDebug) WithGroup(name string) slog.Handler {
	return abortsAtDebug{a.Handler.WithGroup(name)}
}

// carriesCanceled reports whether r has an "err" attribute that is, or
// wraps, context.Canceled.
func carriesCanceled(r slog.Record) bool {
	found := false
	r.Attrs(func(at slog.Attr) bool {
		if at.Key == "err" {
			if err, ok := at.Value.Any().(error); ok && errors.Is(err, context.Canceled) {
				found = true
				return false
			}
		}
		return true
	})
	return found
}
