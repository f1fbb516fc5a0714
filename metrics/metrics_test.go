package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/metrics"
)

func TestANilMetricsDoesNothingAndServesNotFound(t *testing.T) {
	var m *metrics.Metrics
	m.SignIn(metrics.ViaWeb, metrics.OutcomeOK)
	m.BearerRefused(metrics.RefusedUnknown)

	r := router(m)
	r.GET("/x", func(c *gin.Context) { c.String(http.StatusTeapot, "tea") })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("the nil middleware got in the way: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("nil Handler = %d, want 404", rec.Code)
	}
}

func TestRequestsAreLabelledByRoutePatternNeverByWhatTheClientSent(t *testing.T) {
	m := metrics.New(metrics.Options{})
	r := router(m)
	r.GET("/users/:id", func(c *gin.Context) { c.Status(http.StatusOK) })
	r.GET("/boom", func(c *gin.Context) { c.AbortWithStatus(http.StatusInternalServerError) })
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/users/41", nil),
		httptest.NewRequest(http.MethodGet, "/users/42", nil),
		httptest.NewRequest(http.MethodGet, "/boom", nil),
		httptest.NewRequest(http.MethodGet, "/wp-admin/secret", nil),
		httptest.NewRequest("PROPFIND", "/users/43", nil),
	} {
		r.ServeHTTP(httptest.NewRecorder(), req)
	}
	checkScrape(t, scrape(t, m), []string{
		`knot_http_requests_total{code="200",method="GET",route="/users/:id"} 2`,
		`knot_http_requests_total{code="500",method="GET",route="/boom"} 1`,
		`knot_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`knot_http_requests_total{code="404",method="other",route="unmatched"} 1`,
		`knot_http_request_duration_seconds_count{method="GET",route="/users/:id"} 2`,
	}, []string{"/users/41", "wp-admin", "PROPFIND"})
}

func TestLabelValuesOutsideTheirListsAreCountedAsOther(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.SignIn(metrics.ViaWeb, metrics.OutcomeThrottled)
	m.SignIn("carrier pigeon", "pq: connection refused to 10.0.0.7")
	m.BearerRefused("token abc123 was revoked")
	checkScrape(t, scrape(t, m), []string{
		`knot_sign_ins_total{outcome="throttled",via="web"} 1`,
		`knot_sign_ins_total{outcome="other",via="other"} 1`,
		`knot_api_token_refusals_total{reason="other"} 1`,
		// Known values start at zero, so the first failure is a change.
		`knot_sign_ins_total{outcome="bad_credentials",via="leaf"} 0`,
		`knot_api_token_refusals_total{reason="owner_disabled"} 0`,
	}, []string{"10.0.0.7", "abc123", "pigeon"})
}

func TestALeafReportsEveryLinkStateAndItsSyncLag(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	st := leaf.Status{State: leaf.StateTokenRejected, LastSync: now.Add(-5 * time.Minute)}
	m := metrics.New(metrics.Options{
		LeafStatus: func() leaf.Status { return st },
		Now:        func() time.Time { return now },
	})
	// knot_leaf_nodes_online is the origin's count of its leaves.
	checkScrape(t, scrape(t, m), []string{
		`knot_leaf_link_state{state="token_rejected"} 1`,
		`knot_leaf_link_state{state="connected"} 0`,
		`knot_leaf_link_state{state="version_mismatch"} 0`,
		`knot_leaf_sync_lag_seconds 300`,
	}, []string{"knot_leaf_nodes_online"})

	st = leaf.Status{State: "some_future_state"}
	body := scrape(t, m)
	if !strings.Contains(body, `knot_leaf_link_state{state="some_future_state"} 1`+"\n") {
		t.Error("a state the metrics do not know is not reported")
	}
	if strings.Contains(body, "knot_leaf_sync_lag_seconds") {
		t.Error("a leaf that never synced reports a sync lag")
	}
}

func TestAFailedLeafCountStillServesEveryOtherMetric(t *testing.T) {
	var logs bytes.Buffer
	m := metrics.New(metrics.Options{
		LeavesOnline: func(context.Context) (int64, error) { return 0, errors.New("the database is away") },
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
	})
	m.SignIn(metrics.ViaLeaf, metrics.OutcomeOK)
	body := scrape(t, m)
	if !strings.Contains(body, `knot_sign_ins_total{outcome="ok",via="leaf"} 1`+"\n") {
		t.Error("the other metrics went missing with the leaf count")
	}
	if strings.Contains(body, "knot_leaf_nodes_online ") {
		t.Error("a leaf count was reported although it failed")
	}
	if !strings.Contains(logs.String(), "the database is away") {
		t.Errorf("the failure was not logged: %s", logs.String())
	}
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape = %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// checkScrape fails the test for every series in want (name, labels and
// value: a whole line) that body lacks, and for every text in never that
// it carries.
func checkScrape(t *testing.T, body string, want, never []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w+"\n") {
			t.Errorf("scrape lacks %s", w)
		}
	}
	for _, n := range never {
		if strings.Contains(body, n) {
			t.Errorf("scrape carries %q", n)
		}
	}
}

// router is a gin engine that counts its requests in m.
func router(m *metrics.Metrics) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(m.Middleware())
	return r
}
