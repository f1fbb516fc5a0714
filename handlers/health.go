package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/knot-dev/knot/models"
)

// Health endpoints for load balancers and orchestrators. They sit outside
// the session manager and the Gin engine: a probe must not touch the
// session store (which is the database) nor depend on sign-in. Their
// bodies say only "ok" or "unavailable"; the reason goes to the log.

// healthz answers 200 while the process serves requests at all.
func (h *Handlers) healthz(w http.ResponseWriter, r *http.Request) {
	writeProbe(w, http.StatusOK, "ok")
}

// readyz answers 200 when the database answers and carries every
// migration this server knows; otherwise 503, so that a load balancer
// sends requests elsewhere until it recovers.
func (h *Handlers) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.ready(ctx); err != nil {
		h.log.Warn("not ready", "err", err)
		writeProbe(w, http.StatusServiceUnavailable, "unavailable")
		return
	}
	writeProbe(w, http.StatusOK, "ok")
}

func (h *Handlers) ready(ctx context.Context) error {
	if err := models.Ping(ctx, h.db); err != nil {
		return err
	}
	m, err := h.migrator()
	if err != nil {
		return err
	}
	pending, err := m.Pending(ctx)
	if err != nil {
		return err
	}
	if pending {
		return errPendingMigrations
	}
	return nil
}

var errPendingMigrations = errors.New("the database lacks migrations this server needs")

func writeProbe(w http.ResponseWriter, status int, word string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write([]byte(`{"status":"` + word + `"}` + "\n")) //nolint:errcheck // the prober went away
}
