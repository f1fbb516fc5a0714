package server_test

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

// The counters are read right after each response without polling: every
// engine request passes through the session manager, which holds the whole
// response back until the handler chain, the metrics middleware included,
// has returned.

func TestMetricsCountSignInsRefusedTokensAndRequestsByRoute(t *testing.T) {
	cfg := knottest.Config(t)
	cfg.Server.Metrics.Listen = "127.0.0.1:0"
	inst := knottest.Start(t, cfg)
	if inst.Server.MetricsAddr() == "" {
		t.Fatal("MetricsAddr is empty although server.metrics.listen is set")
	}
	inst.SetupAdmin()

	anon := inst.Client()
	if res := anon.PostForm("/login", url.Values{"email": {knottest.AdminEmail}, "password": {"not the password"}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("sign-in with a wrong password = %d", res.StatusCode)
	}
	admin := inst.Login(knottest.AdminEmail, knottest.AdminPassword)
	for range 2 {
		if res := admin.Get("/templates"); res.StatusCode != http.StatusOK {
			t.Fatalf("GET /templates = %d", res.StatusCode)
		}
	}
	if res := anon.Get("/api/users/whoami", bearer(unknownToken(t))); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("whoami with an unknown token = %d %s", res.StatusCode, res.Body)
	}
	if res := anon.Get("/api/users/whoami", bearer("not-a-token")); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("whoami with a malformed token = %d %s", res.StatusCode, res.Body)
	}
	if res := anon.Get("/no-such-page/4711"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET a made-up path = %d", res.StatusCode)
	}
	if res := anon.Do("BREW", "/no-such-page/4712", nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("BREW a made-up path = %d", res.StatusCode)
	}
	if res := anon.Get("/metrics"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the main listener = %d, want 404: metrics belong on their own listener only", res.StatusCode)
	}

	s := scrape(t, inst)
	s.want(t, 1, "knot_sign_ins_total", "via", "web", "outcome", "bad_credentials")
	s.want(t, 1, "knot_sign_ins_total", "via", "web", "outcome", "ok")
	s.want(t, 0, "knot_sign_ins_total", "via", "web", "outcome", "throttled")
	s.want(t, 1, "knot_api_token_refusals_total", "reason", "unknown")
	s.want(t, 1, "knot_api_token_refusals_total", "reason", "malformed")
	s.want(t, 0, "knot_api_token_refusals_total", "reason", "expired")
	s.want(t, 2, "knot_http_requests_total", "route", "/templates", "method", "GET", "code", "200")
	s.want(t, 2, "knot_http_request_duration_seconds_count", "route", "/templates", "method", "GET")
	s.want(t, 1, "knot_http_requests_total", "route", "/login", "method", "POST", "code", "401")
	s.want(t, 1, "knot_http_requests_total", "route", "/login", "method", "POST", "code", "303")
	s.want(t, 2, "knot_http_requests_total", "route", "/api/users/whoami", "method", "GET", "code", "401")
	// The made-up path and the main listener's /metrics.
	s.want(t, 2, "knot_http_requests_total", "route", "unmatched", "method", "GET", "code", "404")
	s.want(t, 1, "knot_http_requests_total", "route", "unmatched", "method", "other", "code", "404")
	for k := range s {
		if strings.Contains(k, "no-such-page") || strings.Contains(k, "BREW") {
			t.Errorf("a label carries what the client sent: %s", k)
		}
	}
	s.want(t, 0, "knot_leaf_nodes_online")
	s.want(t, 1, "knot_build_info", "version", server.Version)
	for _, name := range []string{"go_sql_max_open_connections", "go_sql_open_connections", "go_sql_wait_count_total"} {
		if !s.has(name, "db_name", "knot") {
			t.Errorf("no %s{db_name=\"knot\"}: the database pool is not reported", name)
		}
	}
	if !s.has("go_goroutines") {
		t.Error("no go_goroutines: the Go runtime is not reported")
	}
	if s.hasName("knot_leaf_link_state") {
		t.Error("an origin reports knot_leaf_link_state")
	}
}

func TestMetricsAreOffWithoutAListenAddress(t *testing.T) {
	inst := knottest.Start(t, knottest.Config(t))
	if addr := inst.Server.MetricsAddr(); addr != "" {
		t.Fatalf("MetricsAddr = %q with server.metrics.listen empty", addr)
	}
	if res := inst.Client().Get("/metrics"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the main listener = %d, want 404", res.StatusCode)
	}
}

func TestATakenMetricsPortStopsStartUpNamingTheKey(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := knottest.Config(t)
	cfg.Server.Metrics.Listen = taken.Addr().String()
	err = knottest.StartRefused(t, cfg, "the server started although its metrics port is taken")
	if !strings.Contains(err.Error(), "server.metrics.listen") {
		t.Fatalf("error does not name server.metrics.listen: %v", err)
	}
}

func TestALeafReportsItsLinkAndTheOriginItsLeavesAndTheirSignIns(t *testing.T) {
	originClock, leafClock := knottest.NewClock(), knottest.NewClock()
	ocfg := knottest.Config(t)
	ocfg.Server.Metrics.Listen = "127.0.0.1:0"
	origin := knottest.Start(t, ocfg, knottest.WithClock(originClock))
	admin := origin.SetupAdmin()
	_, token := admin.CreateAPIToken("Metrics Leaf")

	lcfg := knottest.Config(t)
	lcfg.Server.Metrics.Listen = "127.0.0.1:0"
	lcfg.Server.Origin.Server = config.URLList(origin.URL + "/")
	lcfg.Server.Origin.Token = token
	// The test moves the clocks itself; the heartbeat stays out of the way.
	lcfg.Server.Origin.HeartbeatInterval = config.Duration(time.Hour)
	if _, err := lcfg.Validate(); err != nil {
		t.Fatalf("leaf config: %v", err)
	}
	lf := knottest.Start(t, lcfg, knottest.WithClock(leafClock))
	knottest.AwaitLeaf(t, lf.Server.Leaf(), "the leaf's first sync", func() bool {
		return lf.Server.Leaf().Status().Healthy()
	})

	bad := lf.Client()
	if res := bad.PostForm("/login", url.Values{"email": {knottest.AdminEmail}, "password": {"not the password"}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("sign-in on the leaf with a wrong password = %d", res.StatusCode)
	}
	lf.Login(knottest.AdminEmail, knottest.AdminPassword)
	leafClock.Advance(90 * time.Second)

	fromLeaf := scrape(t, lf)
	fromLeaf.want(t, 1, "knot_leaf_link_state", "state", "connected")
	fromLeaf.want(t, 0, "knot_leaf_link_state", "state", "unreachable")
	fromLeaf.want(t, 0, "knot_leaf_link_state", "state", "token_rejected")
	// 90 s unless the leaf synced again since (its live feed may make it):
	// the exact figure is the metrics package's test.
	if lag, ok := fromLeaf["knot_leaf_sync_lag_seconds"]; !ok || lag < 0 || lag > 90 {
		t.Errorf("knot_leaf_sync_lag_seconds = %v (present: %v), want 0 to 90", lag, ok)
	}
	fromLeaf.want(t, 1, "knot_sign_ins_total", "via", "web", "outcome", "ok")
	fromLeaf.want(t, 1, "knot_sign_ins_total", "via", "web", "outcome", "bad_credentials")
	if fromLeaf.hasName("knot_leaf_nodes_online") {
		t.Error("a leaf reports knot_leaf_nodes_online")
	}

	fromOrigin := scrape(t, origin)
	fromOrigin.want(t, 1, "knot_leaf_nodes_online")
	fromOrigin.want(t, 1, "knot_sign_ins_total", "via", "leaf", "outcome", "ok")
	fromOrigin.want(t, 1, "knot_sign_ins_total", "via", "leaf", "outcome", "bad_credentials")
	// At least the first sync's hello; how many more the leaf sends is its
	// own business.
	if k := sampleKey("knot_http_requests_total", []string{"route", "/api/leaf/v1/hello", "method", "GET", "code", "200"}); fromOrigin[k] < 1 {
		t.Errorf("%s = %v, want at least 1", k, fromOrigin[k])
	}

	// A leaf silent for longer than the Leaf Nodes page's online window is
	// offline in the metrics too. Stopped first, so that no hello of its
	// own can land after the clock moves.
	lf.Stop()
	originClock.Advance(models.LeafOnlineWindow + time.Second)
	scrape(t, origin).want(t, 0, "knot_leaf_nodes_online")
}

// samples are one scrape's values by name and sorted labels; a histogram
// gives its _count and _sum.
type samples map[string]float64

func scrape(t *testing.T, inst *knottest.Instance) samples {
	t.Helper()
	addr := inst.Server.MetricsAddr()
	if addr == "" {
		t.Fatal("the server serves no metrics")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("scrape = %d", res.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	out := samples{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName(), l.GetValue())
			}
			switch {
			case m.GetCounter() != nil:
				out[sampleKey(name, labels)] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[sampleKey(name, labels)] = m.GetGauge().GetValue()
			case m.GetUntyped() != nil:
				out[sampleKey(name, labels)] = m.GetUntyped().GetValue()
			case m.GetHistogram() != nil:
				out[sampleKey(name+"_count", labels)] = float64(m.GetHistogram().GetSampleCount())
				out[sampleKey(name+"_sum", labels)] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func (s samples) want(t *testing.T, want float64, name string, labels ...string) {
	t.Helper()
	k := sampleKey(name, labels)
	got, ok := s[k]
	switch {
	case !ok:
		t.Errorf("no sample %s", k)
	case got != want:
		t.Errorf("%s = %v, want %v", k, got, want)
	}
}

func (s samples) has(name string, labels ...string) bool {
	_, ok := s[sampleKey(name, labels)]
	return ok
}

func (s samples) hasName(name string) bool {
	for k := range s {
		if k == name || strings.HasPrefix(k, name+"{") {
			return true
		}
	}
	return false
}

// sampleKey is name{k="v",...} with the labels sorted, from name/value pairs.
func sampleKey(name string, pairs []string) string {
	if len(pairs) == 0 {
		return name
	}
	var kv []string
	for i := 0; i+1 < len(pairs); i += 2 {
		kv = append(kv, pairs[i]+"="+`"`+pairs[i+1]+`"`)
	}
	slices.Sort(kv)
	return name + "{" + strings.Join(kv, ",") + "}"
}

// unknownToken looks like a token knot issues, so that it reaches the
// database lookup and is refused as unknown rather than malformed.
func unknownToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, models.TokenBytes)
	rand.Read(b)
	tok := base64.URLEncoding.EncodeToString(b)
	if !models.WellFormedToken(tok) {
		t.Fatalf("made-up token %q is not well formed", tok)
	}
	return tok
}
