package handlers

import (
	"context"
	"sync"
)

// RunBackground runs the periodic jobs until ctx is cancelled and returns
// once every one of them has stopped (so the database can close after it).
func (h *Handlers) RunBackground(ctx context.Context) {
	var wg sync.WaitGroup
	if h.leaf != nil {
		wg.Go(func() { h.leaf.Run(ctx) })
	}
	wg.Wait()
}
