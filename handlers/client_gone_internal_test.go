package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest/kit"
)

// requestGone returns handlers logging into a buffer and a Gin context for
// path whose client has gone away (its request context is cancelled).
func requestGone(t *testing.T, path string) (*Handlers, *kit.LogBuffer, *gin.Context, *httptest.ResponseRecorder) {
	t.Helper()
	logs := &kit.LogBuffer{}
	cfg := config.Default()
	h := New(Deps{Config: &cfg, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest(http.MethodPost, path, nil).WithContext(ctx)
	return h, logs, c, rec
}

// A client that hangs up mid-request is no server error: it is noted at
// debug level as a client abort, and nothing is written for nobody to read.
func TestAClientThatGoesAwayMidRequestIsLoggedAsAnAbortNotAnError(t *testing.T) {
	canceled := fmt.Errorf("save token: %w", context.Canceled)
	for name, fail := range map[string]func(h *Handlers, c *gin.Context){
		"serverError": func(h *Handlers, c *gin.Context) { h.serverError(c, "create API token", canceled) },
		"failErr":     func(h *Handlers, c *gin.Context) { h.failErr(c, canceled, "The token could not be saved.") },
		// Handlers that log the error themselves before failing.
		"a handler's own log line": func(h *Handlers, c *gin.Context) {
			h.log.Error("create API token", "user_id", 1, "err", canceled)
			h.failErr(c, canceled, "The token could not be saved.")
		},
	} {
		t.Run(name, func(t *testing.T) {
			h, logs, c, rec := requestGone(t, "/api/tokens")
			fail(h, c)
			out := logs.String()
			if strings.Contains(out, "level=ERROR") || !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "client went away") {
				t.Fatalf("log = %q, want a debug line saying the client went away and no error", out)
			}
			if !c.IsAborted() || c.Writer.Status() != statusClientClosedRequest || rec.Body.Len() != 0 {
				t.Fatalf("answer = aborted %v, status %d, body %q; want an aborted request with status %d and no body",
					c.IsAborted(), c.Writer.Status(), rec.Body.String(), statusClientClosedRequest)
			}
		})
	}
}

// A real failure stays an error even when the client has gone too: only
// the hang-up itself is demoted.
func TestAFailureOtherThanTheHangUpIsStillAnError(t *testing.T) {
	h, logs, c, _ := requestGone(t, "/api/tokens")
	h.serverError(c, "create API token", errors.New("database is locked"))
	if !strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "client went away") {
		t.Fatalf("log = %q, want the error logged as an error", logs.String())
	}
}
