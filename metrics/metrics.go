// Package metrics holds knot's Prometheus metrics: HTTP requests, sign-ins,
// refused API tokens, the database pool, and the leaf link on either side.
//
// Every server builds its own registry instead of using the global one, so
// that several servers in one process (the tests) never clash. A nil
// *Metrics is valid and does nothing, so code that does not care about
// metrics needs nothing. Label values come from short fixed lists: a value
// outside its list is counted as "other", so no caller can grow the number
// of series with request data.
package metrics

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/knot-dev/knot/leaf"
)

const namespace = "knot"

// Where a sign-in was checked: this server's sign-in page, or the origin
// side of a sign-in made on a leaf.
const (
	ViaWeb  = "web"
	ViaLeaf = "leaf"
)

// Sign-in outcomes.
const (
	OutcomeOK             = "ok"
	OutcomeBadCredentials = "bad_credentials"
	OutcomeDisabled       = "disabled"
	// OutcomeNotAllowed: the password was right but server.cluster.leaf_login
	// = "owner" keeps everyone but the token's owner off the leaf.
	OutcomeNotAllowed = "not_allowed"
	// OutcomeRefused is a leaf's answer when the origin or the leaf refused
	// an account (disabled, or not allowed through this leaf): the leaf
	// cannot tell which.
	OutcomeRefused   = "refused"
	OutcomeThrottled = "throttled"
	// OutcomeUnavailable is a leaf's answer when the origin cannot be
	// reached and the person cannot sign in offline, or the origin will not
	// serve this leaf.
	OutcomeUnavailable = "unavailable"
	OutcomeError       = "error"
)

// Why an API token was refused.
const (
	RefusedMalformed     = "malformed"
	RefusedUnknown       = "unknown"
	RefusedExpired       = "expired"
	RefusedOwnerMissing  = "owner_missing"
	RefusedOwnerDisabled = "owner_disabled"
	RefusedNoPermission  = "no_permission"
)

// other stands in for a label value outside its list.
const other = "other"

// RouteUnmatched is the route label of requests no route matched: the raw
// path would give every scanner's guess a series of its own.
const RouteUnmatched = "unmatched"

var (
	vias     = set(ViaWeb, ViaLeaf)
	outcomes = set(OutcomeOK, OutcomeBadCredentials, OutcomeDisabled, OutcomeNotAllowed, OutcomeRefused,
		OutcomeThrottled, OutcomeUnavailable, OutcomeError)
	refusals = set(RefusedMalformed, RefusedUnknown, RefusedExpired, RefusedOwnerMissing,
		RefusedOwnerDisabled, RefusedNoPermission)
	// methods are the ones a client may send and get a series for; any other
	// method is "other", as a client can make up methods as freely as paths.
	methods = set(http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions)
)

// leafStates are the link states reported as 0 or 1, so that a dashboard
// sees every state, not only the current one.
var leafStates = []leaf.State{
	leaf.StateConnected, leaf.StateUnreachable, leaf.StateTokenRejected,
	leaf.StateLeafNodesDisabled, leaf.StateUntrustedCertificate, leaf.StateVersionMismatch,
}

// Options are the server's facts the metrics read.
type Options struct {
	// Version is reported in knot_build_info.
	Version string
	// DB is the connection pool to report on; nil for none.
	DB *sql.DB
	// LeavesOnline counts the leaves seen lately, at scrape time; nil
	// unless this server is an origin.
	LeavesOnline func(context.Context) (int64, error)
	// LeafStatus is the leaf's link to its origin, read at scrape time; nil
	// unless this server is a leaf.
	LeafStatus func() leaf.Status
	// Now is the clock the sync lag is measured on: the leaf's, so that it
	// agrees with LeafStatus's times. Nil means time.Now.
	Now func() time.Time
	// Logger receives scrape errors; nil means slog.Default().
	Logger *slog.Logger
}

// Metrics is one server's metrics.
type Metrics struct {
	reg      *prometheus.Registry
	handler  http.Handler
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	signIns  *prometheus.CounterVec
	refused  *prometheus.CounterVec

	// series holds the request series seen so far, see seriesFor;
	// seriesMu serialises adding to it.
	series   atomic.Pointer[map[seriesKey]series]
	seriesMu sync.Mutex
}

// New builds the metrics and their registry.
func New(o Options) *Metrics {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route pattern (\"unmatched\" when no route matched), method and status code.",
		}, []string{"route", "method", "code"}),
		// No code label: the counter has it, and each label multiplies the
		// buckets.
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sign_ins_total",
			Help: "Sign-in attempts by where they were checked (web: the sign-in page; leaf: a leaf asking this origin) and outcome.",
		}, []string{"via", "outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "api_token_refusals_total",
			Help: "API bearer tokens refused, by reason.",
		}, []string{"reason"}),
	}
	// Zero series from the start, so that rate() and alerts see the first
	// failure instead of a series appearing out of nowhere. Only the
	// outcomes every server can have: the leaf-only ones appear when they
	// happen.
	for via := range vias {
		for _, outcome := range []string{OutcomeOK, OutcomeBadCredentials, OutcomeDisabled, OutcomeThrottled, OutcomeError} {
			m.signIns.WithLabelValues(via, outcome)
		}
	}
	m.signIns.WithLabelValues(ViaLeaf, OutcomeNotAllowed)
	for reason := range refusals {
		m.refused.WithLabelValues(reason)
	}
	m.series.Store(&map[seriesKey]series{})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info", Help: "Always 1; the version label says which knot is running.",
		ConstLabels: prometheus.Labels{"version": o.Version},
	})
	build.Set(1)
	m.reg.MustRegister(m.requests, m.duration, m.signIns, m.refused, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newStateCollector(o),
	)
	if o.DB != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(o.DB, namespace))
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: errorLog{o.Logger},
		// A failed scrape-time query (the database is away) must not hide
		// every other metric, least of all the pool's.
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            m.reg,
		MaxRequestsInFlight: 4,
	})
	return m
}

// Handler serves the metrics in the Prometheus formats; with nil Metrics,
// 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return m.handler
}

// Middleware counts and times every request the Gin engine answers. It
// belongs first in the chain so that it sees the final status, also of
// requests that a later middleware refuses or a panic ends.
func (m *Metrics) Middleware() gin.HandlerFunc {
	if m == nil {
		return func(c *gin.Context) { c.Next() }
	}
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = RouteUnmatched
		}
		s := m.seriesFor(seriesKey{route, oneOf(methods, c.Request.Method), c.Writer.Status()})
		s.requests.Inc()
		s.duration.Observe(time.Since(start).Seconds())
	}
}

// seriesKey names the series of one kind of answer.
type seriesKey struct {
	route, method string
	code          int
}

// series is the counter and the histogram an answer of one kind goes to.
type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// seriesFor returns the series of k. Looking them up by label values
// hashes the values and takes the vector's lock on every request; the
// kinds of answer are few (route patterns × methods × codes) and soon all
// seen, so they are kept in a map that requests only read, copied when a
// new kind appears.
func (m *Metrics) seriesFor(k seriesKey) series {
	if s, ok := (*m.series.Load())[k]; ok {
		return s
	}
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	known := *m.series.Load()
	if s, ok := known[k]; ok {
		return s
	}
	s := series{
		requests: m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.code)),
		duration: m.duration.WithLabelValues(k.route, k.method),
	}
	next := make(map[seriesKey]series, len(known)+1)
	maps.Copy(next, known)
	next[k] = s
	m.series.Store(&next)
	return s
}

// SignIn counts one sign-in attempt: via is ViaWeb or ViaLeaf, outcome one
// of the Outcome constants.
func (m *Metrics) SignIn(via, outcome string) {
	if m == nil {
		return
	}
	m.signIns.WithLabelValues(oneOf(vias, via), oneOf(outcomes, outcome)).Inc()
}

// BearerRefused counts one refused API token; reason is one of the Refused
// constants.
func (m *Metrics) BearerRefused(reason string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(oneOf(refusals, reason)).Inc()
}

// stateCollector reads what is cheaper to ask for at scrape time than to
// keep up to date: the leaves online, and a leaf's link to its origin.
type stateCollector struct {
	o            Options
	leavesOnline *prometheus.Desc
	linkState    *prometheus.Desc
	syncLag      *prometheus.Desc
}

func newStateCollector(o Options) *stateCollector {
	return &stateCollector{
		o: o,
		leavesOnline: prometheus.NewDesc(namespace+"_leaf_nodes_online",
			"Leaf nodes whose last heartbeat reached this origin within the online window (as on the Leaf Nodes page).", nil, nil),
		linkState: prometheus.NewDesc(namespace+"_leaf_link_state",
			"This leaf's link to its origin: 1 for the current state, 0 for the others.", []string{"state"}, nil),
		syncLag: prometheus.NewDesc(namespace+"_leaf_sync_lag_seconds",
			"Seconds since this leaf last synced with its origin; absent until the first sync.", nil, nil),
	}
}

func (sc *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	if sc.o.LeavesOnline != nil {
		ch <- sc.leavesOnline
	}
	if sc.o.LeafStatus != nil {
		ch <- sc.linkState
		ch <- sc.syncLag
	}
}

func (sc *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if sc.o.LeavesOnline != nil {
		// A scrape must not hang on a database that does not answer.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := sc.o.LeavesOnline(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(sc.leavesOnline, err)
		} else {
			ch <- prometheus.MustNewConstMetric(sc.leavesOnline, prometheus.GaugeValue, float64(n))
		}
	}
	if sc.o.LeafStatus != nil {
		st := sc.o.LeafStatus()
		known := false
		for _, s := range leafStates {
			v := 0.0
			if s == st.State {
				v, known = 1, true
			}
			ch <- prometheus.MustNewConstMetric(sc.linkState, prometheus.GaugeValue, v, string(s))
		}
		if !known && st.State != "" {
			// A state added to the leaf package but not to leafStates
			// still shows up rather than leaving every state at 0.
			ch <- prometheus.MustNewConstMetric(sc.linkState, prometheus.GaugeValue, 1, string(st.State))
		}
		if !st.LastSync.IsZero() {
			lag := max(sc.o.Now().Sub(st.LastSync).Seconds(), 0)
			ch <- prometheus.MustNewConstMetric(sc.syncLag, prometheus.GaugeValue, lag)
		}
	}
}

// errorLog hands promhttp's scrape errors to slog.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) {
	l.log.Error("serve metrics", "err", fmt.Sprint(v...))
}

func oneOf(allowed map[string]struct{}, v string) string {
	if _, ok := allowed[v]; ok {
		return v
	}
	return other
}

func set(vs ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(vs))
	for _, v := range vs {
		m[v] = struct{}{}
	}
	return m
}
