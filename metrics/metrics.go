// Package metrics holds knot's Prometheus metrics: HTTP requests, sign-ins,
// refused API tokens, the database pool, and the leaf link on either side.
//
// They are kept with github.com/VictoriaMetrics/metrics, which writes the
// Prometheus text format without the reference client's protobuf stack:
// the exposition is the contract, and the smaller library takes about
// 1.2 MiB off an idle server's resident memory (bench/README.md). Every
// server keeps its metrics in a set of its own instead of the global one,
// so that several servers in one process (the tests) never clash. A nil
// *Metrics is valid and does nothing, so code that does not care about
// metrics needs nothing. Label values come from short fixed lists: a value
// outside its list is counted as "other", so no caller can grow the number
// of series with request data.
package metrics

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/gin-gonic/gin"

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
	set *vm.Set
	o   Options
	// inFlight bounds the scrapes served at once.
	inFlight chan struct{}
	// scrapeErrors counts the values a scrape could not read, so that an
	// alert sees what the log says.
	scrapeErrors *vm.Counter

	// series holds the request series seen so far, see seriesFor;
	// seriesMu serialises adding to it.
	series   atomic.Pointer[map[seriesKey]series]
	seriesMu sync.Mutex
}

// The families knot writes itself.
const (
	requestsTotal   = namespace + "_http_requests_total"
	requestDuration = namespace + "_http_request_duration_seconds"
	signInsTotal    = namespace + "_sign_ins_total"
	refusalsTotal   = namespace + "_api_token_refusals_total"
	buildInfo       = namespace + "_build_info"
	leavesOnline    = namespace + "_leaf_nodes_online"
	linkState       = namespace + "_leaf_link_state"
	syncLag         = namespace + "_leaf_sync_lag_seconds"
	scrapeErrors    = namespace + "_metrics_scrape_errors_total"
)

// # HELP and # TYPE lines, once per family: the types tell Prometheus a
// counter from a gauge. The switch is the library's, for the whole process.
func init() { vm.ExposeMetadata(true) }

// durationBuckets are the reference client's default buckets, from 5 ms
// to 10 s, so that dashboards made for them keep working.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New builds the metrics and their set.
func New(o Options) *Metrics {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m := &Metrics{set: vm.NewSet(), o: o, inFlight: make(chan struct{}, 4)}
	// Zero series from the start, so that rate() and alerts see the first
	// failure instead of a series appearing out of nowhere. Only the
	// outcomes every server can have: the leaf-only ones appear when they
	// happen.
	for via := range vias {
		for _, outcome := range []string{OutcomeOK, OutcomeBadCredentials, OutcomeDisabled, OutcomeThrottled, OutcomeError} {
			m.signIns(via, outcome)
		}
	}
	m.signIns(ViaLeaf, OutcomeNotAllowed)
	for reason := range refusals {
		m.refusals(reason)
	}
	m.series.Store(&map[seriesKey]series{})
	m.scrapeErrors = m.set.NewCounter(scrapeErrors)
	m.set.NewGauge(name(buildInfo, "version", o.Version), func() float64 { return 1 })
	m.set.RegisterMetricsWriter(m.writeAtScrape)
	return m
}

// Handler serves the metrics in the Prometheus text format; with nil
// Metrics, 404. At most four scrapes are served at once: more get 503.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case m.inFlight <- struct{}{}:
			defer func() { <-m.inFlight }()
		default:
			http.Error(w, "too many scrapes at once; try again", http.StatusServiceUnavailable)
			return
		}
		var b bytes.Buffer
		m.set.WritePrometheus(&b)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		w.Write(b.Bytes()) //nolint:errcheck // the scraper went away
	})
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
		s.duration.Update(time.Since(start).Seconds())
	}
}

// seriesKey names the series of one kind of answer.
type seriesKey struct {
	route, method string
	code          int
}

// series is the counter and the histogram an answer of one kind goes to.
type series struct {
	requests *vm.Counter
	duration *vm.PrometheusHistogram
}

// seriesFor returns the series of k. Looking them up by name builds the
// name and takes the set's lock on every request; the kinds of answer are
// few (route patterns × methods × codes) and soon all seen, so they are
// kept in a map that requests only read, copied when a new kind appears.
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
		requests: m.set.GetOrCreateCounter(name(requestsTotal, "code", strconv.Itoa(k.code), "method", k.method, "route", k.route)),
		duration: m.set.GetOrCreatePrometheusHistogramExt(name(requestDuration, "method", k.method, "route", k.route), durationBuckets),
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
	m.signIns(oneOf(vias, via), oneOf(outcomes, outcome)).Inc()
}

func (m *Metrics) signIns(via, outcome string) *vm.Counter {
	return m.set.GetOrCreateCounter(name(signInsTotal, "outcome", outcome, "via", via))
}

// BearerRefused counts one refused API token; reason is one of the Refused
// constants.
func (m *Metrics) BearerRefused(reason string) {
	if m == nil {
		return
	}
	m.refusals(oneOf(refusals, reason)).Inc()
}

func (m *Metrics) refusals(reason string) *vm.Counter {
	return m.set.GetOrCreateCounter(name(refusalsTotal, "reason", reason))
}

// writeAtScrape writes what is cheaper to read at scrape time than to keep
// up to date: the Go runtime and the process (the library's own families,
// named as it names them), the database pool, the leaves online, and a
// leaf's link to its origin. A value that cannot be read is left out,
// logged and counted in knot_metrics_scrape_errors_total; the others are
// still served.
func (m *Metrics) writeAtScrape(w io.Writer) {
	vm.WriteProcessMetrics(w)
	vm.WriteFDMetrics(w)
	if m.o.DB != nil {
		writeDBStats(w, m.o.DB.Stats())
	}
	if m.o.LeavesOnline != nil {
		// A scrape must not hang on a database that does not answer.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := m.o.LeavesOnline(ctx)
		cancel()
		if err != nil {
			m.scrapeErrors.Inc()
			m.o.Logger.Error("serve metrics", "metric", leavesOnline, "err", err)
		} else {
			vm.WriteGaugeUint64(w, leavesOnline, uint64(max(n, 0)))
		}
	}
	if m.o.LeafStatus != nil {
		writeLeafLink(w, m.o.LeafStatus(), m.o.Now())
	}
}

// writeLeafLink writes a leaf's link state, 1 for the current state and 0
// for the others, so that a dashboard sees every state; and the seconds
// since the last sync, absent until the first.
func writeLeafLink(w io.Writer, st leaf.Status, now time.Time) {
	vm.WriteMetadataIfNeeded(w, linkState, "gauge")
	known := false
	for _, s := range leafStates {
		v := 0
		if s == st.State {
			v, known = 1, true
		}
		fmt.Fprintf(w, "%s %d\n", name(linkState, "state", string(s)), v)
	}
	if !known && st.State != "" {
		// A state added to the leaf package but not to leafStates still
		// shows up rather than leaving every state at 0.
		fmt.Fprintf(w, "%s 1\n", name(linkState, "state", string(st.State)))
	}
	if !st.LastSync.IsZero() {
		vm.WriteGaugeFloat64(w, syncLag, max(now.Sub(st.LastSync).Seconds(), 0))
	}
}

// writeDBStats writes the connection pool's figures under the names the
// reference client's collector gives them.
func writeDBStats(w io.Writer, s sql.DBStats) {
	db := func(n string) string { return name("go_sql_"+n, "db_name", namespace) }
	vm.WriteGaugeUint64(w, db("max_open_connections"), uint64(max(s.MaxOpenConnections, 0)))
	vm.WriteGaugeUint64(w, db("open_connections"), uint64(max(s.OpenConnections, 0)))
	vm.WriteGaugeUint64(w, db("in_use_connections"), uint64(max(s.InUse, 0)))
	vm.WriteGaugeUint64(w, db("idle_connections"), uint64(max(s.Idle, 0)))
	vm.WriteCounterUint64(w, db("wait_count_total"), uint64(max(s.WaitCount, 0)))
	vm.WriteCounterFloat64(w, db("wait_duration_seconds_total"), s.WaitDuration.Seconds())
	vm.WriteCounterUint64(w, db("max_idle_closed_total"), uint64(max(s.MaxIdleClosed, 0)))
	vm.WriteCounterUint64(w, db("max_idle_time_closed_total"), uint64(max(s.MaxIdleTimeClosed, 0)))
	vm.WriteCounterUint64(w, db("max_lifetime_closed_total"), uint64(max(s.MaxLifetimeClosed, 0)))
}

// name is a series name: the family, then the label pairs in kv (name,
// value, …) as given, which callers keep in alphabetical order as the
// Prometheus format writes them. Values are escaped as the format wants.
func name(family string, kv ...string) string {
	if len(kv) == 0 {
		return family
	}
	var b strings.Builder
	b.WriteString(family)
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		labelValue.WriteString(&b, kv[i+1]) //nolint:errcheck // a strings.Builder does not fail
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// labelValue escapes a label value for the text format.
var labelValue = strings.NewReplacer("\\", `\\`, `"`, `\"`, "\n", `\n`)

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
