package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/metrics"
	"github.com/knot-dev/knot/models"
)

// metricsListener is the server's side of server.metrics.listen.
type metricsListener struct {
	m *metrics.Metrics
	// ln is nil when server.metrics.listen is empty.
	ln net.Listener
}

// setupMetrics builds the server's metrics (always: they are cheap, and the
// handlers count either way) and binds server.metrics.listen when it is
// set. Binding here rather than in Serve makes a taken port stop start-up
// before anything is served, and lets a test on port 0 learn the port
// before it serves.
func (s *Server) setupMetrics(sqlDB *sql.DB, leafSvc *leaf.Service, now func() time.Time) (*metrics.Metrics, error) {
	o := metrics.Options{Version: Version, DB: sqlDB, Now: now, Logger: s.log}
	if leafSvc != nil {
		o.LeafStatus = leafSvc.Status
	} else {
		db := s.db
		o.LeavesOnline = func(ctx context.Context) (int64, error) {
			return models.CountLeavesOnline(ctx, db, now())
		}
	}
	s.metrics.m = metrics.New(o)
	if addr := s.cfg.Server.Metrics.Listen; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on server.metrics.listen %s: %w", addr, err)
		}
		s.metrics.ln = ln
	}
	return s.metrics.m, nil
}

// MetricsAddr is the host:port metrics are served on, or "" when
// server.metrics.listen is empty.
func (s *Server) MetricsAddr() string {
	if s.metrics.ln == nil {
		return ""
	}
	return s.metrics.ln.Addr().String()
}

// serveMetrics serves /metrics, and nothing else, on the metrics listener
// until the returned stop is called. It is plain HTTP: the listener is
// meant for a private address that only Prometheus reaches. A failure here
// is logged, not returned, since the server itself can go on without it.
func (s *Server) serveMetrics() (stop func()) {
	if s.metrics.ln == nil {
		return func() {}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.m.Handler())
	// A scrape is a GET with a few headers.
	srv := s.httpServer(mux, 16<<10)
	addr := s.MetricsAddr()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(s.metrics.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve metrics", "listen", addr, "err", err)
		}
	}()
	s.log.Info("metrics listening", "listen", addr, "path", "/metrics")
	return func() {
		// A scrape is short; a stuck one must not hold up shutdown.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close() //nolint:errcheck // shutting down anyway
		}
		<-done
	}
}

// closeMetricsListener frees the metrics port of a server that was built
// but never served; after Serve it is already closed.
func (s *Server) closeMetricsListener() {
	if s.metrics.ln != nil {
		s.metrics.ln.Close() //nolint:errcheck // closed already after Serve
	}
}
