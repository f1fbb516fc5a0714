// Command bench is knot's load harness. It starts real knot servers in this
// process, listening on 127.0.0.1 only, with temp-file SQLite databases,
// drives each scenario with N concurrent clients for a bounded time and a
// bounded number of requests, and prints throughput, latency percentiles
// and each scenario's ratio to GET /api/ping measured in the same run.
//
//	go run ./bench                       # every scenario, 5s each
//	go run ./bench -duration 2s -concurrency 4 -scenarios ping,whoami-bearer
//
// Absolute numbers depend on the machine and include the clients' own CPU
// (they share the cores with the server); compare the ratios.
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/knot-dev/knot/bench/internal/cli"
	"github.com/knot-dev/knot/client"
	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

// rounds is how many slices each scenario and its baseline are cut into.
const rounds = 4

// Bounds on the flags, so that a typo cannot start an hour-long run or a
// thousand-client storm.
const (
	maxDuration    = 60 * time.Second
	maxConcurrency = 256
	maxRequests    = 1_000_000
)

const (
	adminEmail  = "admin@example.com"
	devEmail    = "dev@example.com"
	devPassword = "dev password 1"
	benchZone   = "bench-zone"
)

// scenarioNames lists every scenario in the order they run.
var scenarioNames = []string{
	"ping", "whoami-session", "whoami-bearer",
	"templates-10", "templates-100", "templates-page-100", "templates-1000",
	"leaf-sync-304", "leaf-sync-200", "origin-templates-304", "origin-templates-200",
	"login",
}

// templateBody is a few hundred bytes, like a small environment definition.
var templateBody = strings.Repeat("image: ubuntu:24.04\nvolumes: [/home/dev]\n", 8)

type options struct {
	duration     time.Duration
	concurrency  int
	requests     int
	scenarios    map[string]bool
	maxOpenConns int
	maxIdleConns int
}

func main() {
	var o options
	var only, cpuProfile string
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "how long each scenario runs (at most 60s)")
	flag.IntVar(&o.concurrency, "concurrency", 8, "concurrent clients per scenario (leaf syncs always run one at a time)")
	flag.IntVar(&o.requests, "requests", 100_000, "at most this many requests per scenario")
	flag.StringVar(&only, "scenarios", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames, ","))
	flag.IntVar(&o.maxOpenConns, "max-open-conns", 0, "SetMaxOpenConns on the servers' SQLite pools (0 leaves database/sql's default: unlimited)")
	flag.IntVar(&o.maxIdleConns, "max-idle-conns", 0, "SetMaxIdleConns on the servers' SQLite pools (0 leaves database/sql's default: 2)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	prog := cli.Prog("bench")
	prog.FailIf(o.duration <= 0 || o.duration > maxDuration, "-duration %s: want more than 0 and at most %s", o.duration, maxDuration)
	cli.InRange(prog, "-concurrency", o.concurrency, 1, maxConcurrency)
	cli.InRange(prog, "-requests", o.requests, 1, maxRequests)
	prog.FailIf(o.maxOpenConns < 0, "-max-open-conns %d: want 0 (unlimited) or more", o.maxOpenConns)
	prog.FailIf(o.maxIdleConns < 0, "-max-idle-conns %d: want 0 (the default) or more", o.maxIdleConns)
	o.scenarios = prog.Scenarios("-scenarios", only, scenarioNames)
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			prog.Fail("create %s: %v", cpuProfile, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			prog.Fail("start CPU profile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(o); err != nil {
		pprof.StopCPUProfile()
		prog.Fail("%v", err)
	}
}

// scenario is one measured workload. do runs one operation for worker w.
type scenario struct {
	name string
	conc int
	note string
	do   func(w int) error
}

// sample is what one or more runs of a scenario produced.
type sample struct {
	lat      []time.Duration
	elapsed  time.Duration // wall time
	cpu      time.Duration // the whole process's CPU time: clients, servers, GC
	errs     int
	firstErr error
}

func (a *sample) add(b sample) {
	a.lat = append(a.lat, b.lat...)
	a.elapsed += b.elapsed
	a.cpu += b.cpu
	a.errs += b.errs
	if a.firstErr == nil {
		a.firstErr = b.firstErr
	}
}

// stats summarises a sample.
type stats struct {
	n        int
	elapsed  time.Duration
	cpu      time.Duration
	p50, p99 time.Duration
}

func summarize(s sample) stats {
	slices.Sort(s.lat)
	return stats{n: len(s.lat), elapsed: s.elapsed, cpu: s.cpu, p50: percentile(s.lat, 0.50), p99: percentile(s.lat, 0.99)}
}

func (s stats) rps() float64 {
	if s.n == 0 {
		return 0
	}
	return float64(s.n) / s.elapsed.Seconds()
}

func (s stats) cpuPerReq() time.Duration { return s.cpu / time.Duration(max(s.n, 1)) }

type result struct {
	scenario
	stats
	base stats // GET /api/ping, interleaved with the scenario
	// connChurn counts the main server's SQLite connections closed for
	// want of an idle slot during the scenario (each is later opened anew).
	connChurn int64
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "knot-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Printf("knot bench  %s  %s %s/%s  NumCPU=%d GOMAXPROCS=%d\n", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Printf("command: %s\n", strings.Join(os.Args, " "))
	open, idle := "unlimited", "2"
	if o.maxOpenConns > 0 {
		open = fmt.Sprint(o.maxOpenConns)
	}
	if o.maxIdleConns > 0 {
		idle = fmt.Sprint(o.maxIdleConns)
	}
	fmt.Printf("per scenario: %s or %d requests, concurrency %d; SQLite pool: max open %s, max idle %s\n\n", o.duration, o.requests, o.concurrency, open, idle)

	srv, err := start(filepath.Join(dir, "main"), o, nil)
	if err != nil {
		return err
	}
	defer srv.stop()
	fx, err := setUp(srv, o.concurrency)
	if err != nil {
		return fmt.Errorf("set up the server: %w", err)
	}

	var results []result
	ping := scenario{name: "ping", do: func(int) error {
		return expect(fx.plain, http.MethodGet, srv.url+"/api/ping", nil, http.StatusOK)
	}}
	measure := func(s scenario) error {
		if o.scenarios != nil && !o.scenarios[s.name] {
			return nil
		}
		if s.conc == 0 {
			s.conc = o.concurrency
		}
		// The baseline is interleaved with the scenario in short rounds
		// with the same number of clients, so that both see the same
		// weather on a shared machine and a ratio compares like with like.
		base := ping
		base.conc = s.conc
		var bs, ss sample
		before := srv.dbStats()
		for range rounds {
			bs.add(drive(base, o.duration/(4*rounds), o.requests-len(bs.lat)))
			ss.add(drive(s, o.duration/rounds, o.requests-len(ss.lat)))
		}
		r := result{scenario: s, stats: summarize(ss), base: summarize(bs), connChurn: srv.dbStats().MaxIdleClosed - before.MaxIdleClosed}
		if r.n == 0 || r.base.n == 0 {
			return fmt.Errorf("%s: no requests completed; raise -requests or -duration", s.name)
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "  %-22s %8.0f req/s  p50 %-9s p99 %-9s CPU/req %-9s (ping %6.0f req/s, CPU/req %s)\n",
			r.name, r.rps(), round(r.p50), round(r.p99), round(r.cpuPerReq()), r.base.rps(), round(r.base.cpuPerReq()))
		for _, x := range []sample{bs, ss} {
			if x.errs > 0 {
				return fmt.Errorf("%s: %d of %d requests failed, first: %v", s.name, x.errs, len(x.lat), x.firstErr)
			}
		}
		return nil
	}
	get := func(path string, client func(w int) *http.Client, headers ...string) func(int) error {
		return func(w int) error {
			return expect(client(w), http.MethodGet, srv.url+path, nil, http.StatusOK, headers...)
		}
	}
	plain := func(int) *http.Client { return fx.plain }
	session := func(w int) *http.Client { return fx.sessions[w] }
	bearer := "Authorization: Bearer " + fx.token

	steps := []func() error{
		func() error {
			return measure(scenario{name: "ping", do: ping.do, note: "GET /api/ping against its own baseline: the noise floor"})
		},
		func() error {
			return measure(scenario{name: "whoami-session", do: get("/api/users/whoami", session), note: "session load + identity + session re-save"})
		},
		func() error {
			return measure(scenario{name: "whoami-bearer", do: get("/api/users/whoami", plain, bearer), note: "token look-up + identity; last-used write ≤ 1/min"})
		},
	}
	seeded := 0
	for _, n := range []int{10, 100, 1000} {
		steps = append(steps, func() error {
			if err := seedTemplates(srv, seeded, n); err != nil {
				return err
			}
			seeded = n
			return measure(scenario{name: fmt.Sprintf("templates-%d", n), do: get("/api/templates", plain, bearer),
				note: fmt.Sprintf("JSON list, bearer; %d visible", visible(n))})
		})
		if n == 100 {
			steps = append(steps, func() error {
				return measure(scenario{name: "templates-page-100", do: get("/templates", session), note: "HTML page (templ), session"})
			})
		}
	}
	steps = append(steps,
		func() error { return leafScenarios(dir, o, measure) },
		func() error {
			form := url.Values{"email": {devEmail}, "password": {devPassword}}.Encode()
			return measure(scenario{name: "login", note: "POST /login, bcrypt cost 10, new session each", do: func(int) error {
				return expect(fx.plain, http.MethodPost, srv.url+"/login", strings.NewReader(form), http.StatusSeeOther, "Content-Type: application/x-www-form-urlencoded")
			}})
		},
	)
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	report(results)
	return nil
}

// visible is how many of n seeded templates a developer sees in benchZone.
func visible(n int) int {
	v := 0
	for i := range n {
		if i%10 != 0 && i%4 != 2 {
			v++
		}
	}
	return v
}

// drive runs s with its workers until d passes or limit requests have
// been sent, and collects every latency.
func drive(s scenario, d time.Duration, limit int) sample {
	var issued atomic.Int64
	var mu sync.Mutex
	var out sample
	cpu0 := processCPU()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range s.conc {
		wg.Go(func() {
			mine := make([]time.Duration, 0, 1024)
			var errs int
			var first error
			for time.Now().Before(deadline) && issued.Add(1) <= int64(limit) {
				t := time.Now()
				err := s.do(w)
				mine = append(mine, time.Since(t))
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
				}
			}
			mu.Lock()
			out.add(sample{lat: mine, errs: errs, firstErr: first})
			mu.Unlock()
		})
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	out.cpu = processCPU() - cpu0
	return out
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func report(results []result) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tconc\trequests\treq/s\tp50\tp99\tCPU/req\tping req/s\tcost × ping\tp50 × ping\tCPU × ping\tconn churn\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t\n", r.name, r.conc, r.n, r.rps(),
			round(r.p50), round(r.p99), round(r.cpuPerReq()), r.base.rps(),
			r.base.rps()/r.rps(), float64(r.p50)/float64(r.base.p50), float64(r.cpuPerReq())/float64(r.base.cpuPerReq()), r.connChurn)
	}
	tw.Flush()
	fmt.Println("\nping: GET /api/ping with the same clients, interleaved with the scenario in", rounds, "rounds.")
	fmt.Println("cost × ping = ping's req/s ÷ the scenario's req/s (how many pings one request costs);")
	fmt.Println("p50 × ping and CPU × ping likewise for the median latency and the process CPU time per request.")
	fmt.Println("conn churn: SQLite connections of the main server closed for want of an idle slot (database/sql MaxIdleClosed).")
	for _, r := range results {
		fmt.Printf("  %-21s %s\n", r.name, r.note)
	}
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

// ---- servers ----

type instance struct {
	srv *server.Server
	cfg config.Config
	url string
	run *server.Running
}

// start starts a server with its own data directory, listening on
// 127.0.0.1 (and nowhere else). edit, when set, changes the configuration
// first.
func start(dataDir string, o options, edit func(*config.Config)) (*instance, error) {
	cfg := config.Local(dataDir)
	cfg.Server.Zone = benchZone
	if edit != nil {
		edit(&cfg)
	}
	if _, err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(context.Background(), cfg, log, server.Options{})
	if err != nil {
		return nil, err
	}
	sqlDB, err := srv.DB().DB()
	if err != nil {
		srv.Close()
		return nil, err
	}
	if o.maxOpenConns > 0 {
		sqlDB.SetMaxOpenConns(o.maxOpenConns)
	}
	if o.maxIdleConns > 0 {
		sqlDB.SetMaxIdleConns(o.maxIdleConns)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, err
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		ln.Close()
		srv.Close()
		return nil, fmt.Errorf("listener on %s is not loopback", ln.Addr())
	}
	in := &instance{srv: srv, cfg: srv.Config()}
	scheme := "http"
	if cfg.Server.TLS.UseTLS {
		scheme = "https"
	}
	in.url = scheme + "://" + ln.Addr().String()
	in.run = srv.Run(context.Background(), ln)
	return in, nil
}

func (in *instance) dbStats() sql.DBStats {
	sqlDB, err := in.srv.DB().DB()
	if err != nil {
		return sql.DBStats{}
	}
	return sqlDB.Stats()
}

func (in *instance) stop() {
	if err := in.run.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: stop: %v\n", err)
	}
}

// ---- fixtures ----

type fixture struct {
	plain    *http.Client   // no cookies
	sessions []*http.Client // one signed-in developer session per worker
	token    string         // the developer's API token
}

func newTransport(conc int, roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		// Keep one idle connection per client, or most requests would pay
		// for a new TCP connection (the default keeps only 2 per host).
		MaxIdleConnsPerHost: conc + 2,
		DisableCompression:  true,
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// setupAdmin completes the initial setup on in, with the server's setup
// code, and returns the first admin's client, signed in.
func setupAdmin(ctx context.Context, in *instance, tr http.RoundTripper) (*client.Client, error) {
	code, err := in.srv.SetupCode(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the initial setup code: %w", err)
	}
	c := client.New(in.url, nil)
	c.HTTP.Transport = tr
	return c, c.Setup(ctx, code, client.Account{Username: "admin", Email: adminEmail, Password: "admin password 1"})
}

// setUp creates the first admin and a developer, signs the developer
// in once per worker, and creates the developer's API token.
func setUp(in *instance, conc int) (*fixture, error) {
	ctx := context.Background()
	tr := newTransport(conc, nil)
	fx := &fixture{plain: &http.Client{Transport: tr, Timeout: 30 * time.Second, CheckRedirect: noRedirect}}
	if _, err := setupAdmin(ctx, in, tr); err != nil {
		return nil, err
	}
	if err := createUser(in, "dev", devEmail, devPassword, models.DeveloperRoleID); err != nil {
		return nil, err
	}
	var first *client.Client
	for range conc {
		c := client.New(in.url, nil)
		c.HTTP.Transport = tr
		if err := c.SignIn(ctx, devEmail, devPassword); err != nil {
			return nil, err
		}
		first = cmp.Or(first, c)
		fx.sessions = append(fx.sessions, c.HTTP)
	}
	tok, err := first.CreateToken(ctx, "bench")
	if err != nil {
		return nil, err
	}
	fx.token = tok
	return fx, nil
}

// createUser adds an active user with roles straight into the database,
// as knottest.CreateUser does: there is no sign-up route.
func createUser(in *instance, username, email, password string, roles ...uint) error {
	hash, err := models.HashPassword(password)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	u := models.User{Username: username, Email: email, PasswordHash: hash, Active: true, CreatedAt: now, UpdatedAt: now}
	db := in.srv.DB()
	if err := db.Create(&u).Error; err != nil {
		return fmt.Errorf("create user %s: %w", username, err)
	}
	for _, r := range roles {
		if err := db.Exec(`INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)`, u.ID, r).Error; err != nil {
			return fmt.Errorf("give %s role %d: %w", username, r, err)
		}
	}
	return nil
}

// seedTemplates adds templates number from..to-1 through the model: a
// quarter shown only in this zone, a quarter hidden from it (!zone), a
// tenth inactive, bodies of a few hundred bytes.
func seedTemplates(in *instance, from, to int) error {
	ctx := context.Background()
	for i := from; i < to; i++ {
		var zones []string
		switch i % 4 {
		case 1:
			zones = []string{benchZone}
		case 2:
			zones = []string{"!" + benchZone}
		}
		tpl := models.TemplateInput{Name: fmt.Sprintf("tpl-%04d", i), Description: fmt.Sprintf("benchmark template number %d", i),
			Zones: zones, Active: i%10 != 0, Body: templateBody}
		if _, err := models.CreateTemplate(ctx, in.srv.DB(), tpl, time.Now().UTC()); err != nil {
			return fmt.Errorf("seed template %d: %w", i, err)
		}
	}
	return nil
}

// expect sends one request, reads the whole answer and checks its status.
func expect(c *http.Client, method, url string, body io.Reader, want int, headers ...string) error {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s = %d, want %d", method, req.URL.Path, res.StatusCode, want)
	}
	return nil
}

// ---- leaf ----

// leafTemplates is how many templates the origin offers the leaf.
const leafTemplates = 100

// leafScenarios starts an origin on TLS (as a real one is) with 100
// templates and a leaf connected to it, then measures the leaf's Sync
// (hello + templates) one at a time — Sync is serialised inside the leaf —
// and the origin's template endpoint under concurrency.
func leafScenarios(dir string, o options, measure func(scenario) error) error {
	want := func(names ...string) bool {
		for _, n := range names {
			if o.scenarios == nil || o.scenarios[n] {
				return true
			}
		}
		return false
	}
	if !want("leaf-sync-304", "leaf-sync-200", "origin-templates-304", "origin-templates-200") {
		return nil
	}
	origin, err := start(filepath.Join(dir, "origin"), o, func(c *config.Config) {
		c.Server.TLS.UseTLS = true
		c.Server.URL = "https://127.0.0.1"
	})
	if err != nil {
		return fmt.Errorf("start origin: %w", err)
	}
	defer origin.stop()
	pem, err := os.ReadFile(server.SelfSignedCertPath(&origin.cfg))
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tr := newTransport(o.concurrency, roots)
	ctx := context.Background()
	admin, err := setupAdmin(ctx, origin, tr)
	if err != nil {
		return err
	}
	for i := range leafTemplates {
		tpl := models.TemplateInput{Name: fmt.Sprintf("tpl-%04d", i), Description: "offered to leaves", Active: true, Body: templateBody}
		if _, err := models.CreateTemplate(ctx, origin.srv.DB(), tpl, time.Now().UTC()); err != nil {
			return err
		}
	}
	token, err := admin.CreateToken(ctx, "bench")
	if err != nil {
		return err
	}

	leafSrv, err := start(filepath.Join(dir, "leaf"), o, func(c *config.Config) {
		c.Server.Origin.Server = config.URLList(origin.url)
		c.Server.Origin.Token = token
		c.Server.Origin.CAFile = server.SelfSignedCertPath(&origin.cfg)
		// The harness drives the syncs; the loop's heartbeat stays away.
		c.Server.Origin.HeartbeatInterval = config.Duration(time.Hour)
	})
	if err != nil {
		return fmt.Errorf("start leaf: %w", err)
	}
	defer leafSrv.stop()
	svc := leafSrv.srv.Leaf()
	if err := svc.Sync(ctx); err != nil {
		return fmt.Errorf("first leaf sync: %w", err)
	}
	if got, err := models.ClusterTemplates(ctx, leafSrv.srv.DB()); err != nil || len(got) != leafTemplates {
		return fmt.Errorf("leaf cached %d templates (%v), want %d", len(got), err, leafTemplates)
	}
	if want("leaf-sync-304") {
		if err := measure(scenario{name: "leaf-sync-304", conc: 1, note: "leaf Sync: hello + templates revalidated by ETag (TLS origin, 100 templates)",
			do: func(int) error { return svc.Sync(ctx) }}); err != nil {
			return err
		}
	}
	if want("leaf-sync-200") {
		db := leafSrv.srv.DB()
		if err := measure(scenario{name: "leaf-sync-200", conc: 1, note: "leaf Sync after forgetting the ETag: full list fetched and cache replaced",
			do: func(int) error {
				// The bench reaches into the leaf's state to force a full
				// fetch; the product has no reason to offer this.
				if err := db.Exec(`UPDATE leaf_state SET value = '' WHERE key = 'templates_etag'`).Error; err != nil {
					return err
				}
				return svc.Sync(ctx)
			}}); err != nil {
			return err
		}
	}

	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	auth := "Authorization: Bearer " + token
	res, err := originGet(c, origin.url, auth)
	if err != nil {
		return err
	}
	etag := res.Header.Get("ETag")
	if etag == "" {
		return errors.New("the origin sent no ETag")
	}
	if want("origin-templates-304") {
		if err := measure(scenario{name: "origin-templates-304", note: "origin GET /api/leaf/v1/templates with If-None-Match (TLS)",
			do: func(int) error {
				return expect(c, http.MethodGet, origin.url+"/api/leaf/v1/templates", nil, http.StatusNotModified, auth, "If-None-Match: "+etag)
			}}); err != nil {
			return err
		}
	}
	if want("origin-templates-200") {
		if err := measure(scenario{name: "origin-templates-200", note: "origin GET /api/leaf/v1/templates, full body (TLS)",
			do: func(int) error {
				return expect(c, http.MethodGet, origin.url+"/api/leaf/v1/templates", nil, http.StatusOK, auth)
			}}); err != nil {
			return err
		}
	}
	return nil
}

// originGet fetches the origin's leaf template list once, for its ETag.
func originGet(c *http.Client, base, auth string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/api/leaf/v1/templates", nil)
	if err != nil {
		return nil, err
	}
	k, v, _ := strings.Cut(auth, ":")
	req.Header.Set(k, strings.TrimSpace(v))
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body) //nolint:errcheck // only the header matters
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("origin templates = %d", res.StatusCode)
	}
	return res, nil
}
