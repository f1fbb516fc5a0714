package metrics_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	_ "github.com/mattn/go-sqlite3" // the pool whose figures are scraped
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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
	db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "pool.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := metrics.New(metrics.Options{
		DB:           db,
		LeafStatus:   func() leaf.Status { return leaf.Status{State: leaf.StateConnected} },
		LeavesOnline: func(context.Context) (int64, error) { return 0, errors.New("the database is away") },
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
	})
	m.SignIn(metrics.ViaLeaf, metrics.OutcomeOK)
	body := scrape(t, m)
	// Before the leaf count, from the set, and after it, read at scrape time.
	for _, want := range []string{`knot_sign_ins_total{outcome="ok",via="leaf"} 1`, `go_sql_open_connections{db_name="knot"} 0`, `knot_leaf_link_state{state="connected"} 1`} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("%s went missing with the leaf count", want)
		}
	}
	if strings.Contains(body, "knot_leaf_nodes_online ") {
		t.Error("a leaf count was reported although it failed")
	}
	if !strings.Contains(logs.String(), "the database is away") {
		t.Errorf("the failure was not logged: %s", logs.String())
	}
	// The count is in the set, so the next scrape carries it.
	if body := scrape(t, m); !strings.Contains(body, "knot_metrics_scrape_errors_total 1\n") {
		t.Error("the failure was not counted in knot_metrics_scrape_errors_total")
	}
}

func TestTheScrapeIsTheTextFormatWithEveryFamilyTyped(t *testing.T) {
	version := "1.0 \"beta\" C:\\knot\nsecond line"
	m := metrics.New(metrics.Options{
		Version:      version,
		LeafStatus:   func() leaf.Status { return leaf.Status{State: leaf.StateConnected, LastSync: time.Now()} },
		LeavesOnline: func(context.Context) (int64, error) { return 3, nil },
	})
	r := router(m)
	r.GET("/x", func(c *gin.Context) { c.Status(http.StatusOK) })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))

	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(scrape(t, m)))
	if err != nil {
		t.Fatalf("the scrape does not parse as the Prometheus text format: %v", err)
	}
	for name, f := range fams {
		if f.GetType() == dto.MetricType_UNTYPED {
			t.Errorf("%s has no # TYPE", name)
		}
	}
	for name, want := range map[string]dto.MetricType{
		"knot_http_requests_total":           dto.MetricType_COUNTER,
		"knot_http_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"knot_sign_ins_total":                dto.MetricType_COUNTER,
		"knot_build_info":                    dto.MetricType_GAUGE,
		"knot_leaf_link_state":               dto.MetricType_GAUGE,
		"knot_leaf_sync_lag_seconds":         dto.MetricType_GAUGE,
		"knot_leaf_nodes_online":             dto.MetricType_GAUGE,
		"go_goroutines":                      dto.MetricType_GAUGE,
		"process_cpu_seconds_total":          dto.MetricType_COUNTER,
		"process_open_fds":                   dto.MetricType_GAUGE,
	} {
		f, ok := fams[name]
		if !ok {
			t.Errorf("no %s", name)
			continue
		}
		if f.GetType() != want {
			t.Errorf("%s is a %v, want a %v", name, f.GetType(), want)
		}
	}
	if f := fams["knot_build_info"]; f != nil {
		if got := f.GetMetric()[0].GetLabel()[0].GetValue(); got != version {
			t.Errorf("knot_build_info's version = %q, want %q: label values are not escaped", got, version)
		}
	}
}

func TestAtMostFourScrapesAreServedAtOnce(t *testing.T) {
	inside, release := make(chan struct{}), make(chan struct{})
	m := metrics.New(metrics.Options{LeavesOnline: func(context.Context) (int64, error) {
		inside <- struct{}{}
		<-release
		return 1, nil
	}})
	codes := make(chan int, 4)
	for range 4 {
		go func() {
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			codes <- rec.Code
		}()
		<-inside
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a fifth scrape at once = %d, want 503", rec.Code)
	}
	close(release)
	for range 4 {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("a scrape within the limit = %d, want 200", code)
		}
	}
	go func() {
		for range inside {
		}
	}()
	rec = httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("a scrape after the others ended = %d, want 200: a slot was not freed", rec.Code)
	}
	close(inside)
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
