package leaf

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/knot-dev/knot/clock"
	"github.com/knot-dev/knot/knottest/kit"
	"github.com/knot-dev/knot/models"
)

// TestVariableFetchFailureMarksTheStatus: when hello and templates succeed
// but the variables fetch fails, the status says so exactly as for a
// template failure, and the cached variables stay.
func TestVariableFetchFailureMarksTheStatus(t *testing.T) {
	var failVars atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc(PathHello, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"name":"o","version":"1","protocol":1,"user":{"id":3,"username":"u","email":"u@x"}}`))
	})
	mux.HandleFunc(PathTemplates, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"t1"`)
		w.Write([]byte(`[]`))
	})
	mux.HandleFunc(PathTemplateVars, func(w http.ResponseWriter, r *http.Request) {
		if failVars.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write([]byte(`[{"id":7,"name":"SECRET","value":"s3cret-value","zones":[],"protected":true,"updated_at":"2026-11-02T09:00:00Z"}]`))
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	cfg := leafOf(t, srv)

	db, v := kit.SQLite(t, "leaf.db"), kit.Vault(t)
	s, err := NewService(&cfg, db, v, slog.New(slog.NewTextHandler(io.Discard, nil)), "test", clock.System())
	if err != nil {
		t.Fatal(err)
	}

	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.State != StateConnected {
		t.Fatalf("status = %+v", st)
	}
	got, err := models.ClusterVariableByID(context.Background(), db, v, 7, true)
	if err != nil || got.Value != "s3cret-value" || !got.Protected {
		t.Fatalf("cached variable = %+v, %v", got, err)
	}

	failVars.Store(true)
	if err := s.Sync(context.Background()); err == nil {
		t.Fatal("sync succeeded while the variables fetch failed")
	}
	st := s.Status()
	if st.State != StateUnreachable || st.NextRetry.IsZero() {
		t.Fatalf("status after a failed variables fetch = %+v", st)
	}
	if got, err := models.ClusterVariableByID(context.Background(), db, v, 7, true); err != nil || got.Value != "s3cret-value" {
		t.Fatalf("cached variable after a failed fetch = %+v, %v", got, err)
	}
}
