// Command livelink measures the live link between a knot leaf and its
// origin against the targets of leaf mode's live feed:
//
//   - changes: a template created or edited through the origin's HTTP API
//     is in the leaf's cached template list (models.ClusterTemplates on the
//     leaf's database) within 1 s, p99 over 100 changes. Each change is
//     timed from the moment the API call returned 201/200 to the moment a
//     poll of the leaf's database (every 2 ms) shows it. Changes are made
//     one at a time, a random 0–250 ms apart, so that they land at every
//     phase of the origin's polling.
//   - cluster: the same across two servers of a cluster on one PostgreSQL
//     database: the change made on server A, the leaf connected to server
//     B (the change crosses by LISTEN/NOTIFY). Needs a PostgreSQL server
//     (see below); a throwaway database is created and dropped.
//   - stop: the origin shut down gracefully (its Serve context cancelled,
//     as on SIGTERM): the leaf's status leaves "connected" within 3 s.
//     Then the origin is started again on the same port and data
//     directory after an outage of 10–20 s: the leaf is "connected" within
//     5 s of the origin answering (the first successful GET /api/ping,
//     polled every 5 ms from the harness).
//   - kill: the same with the origin killed (its listener and every open
//     connection closed at once, nothing shut down in order) and restarted.
//   - silent: no target, for information: the origin's connections stay
//     open but carry nothing (a network cut without FIN or RST): how long
//     the leaf takes to notice.
//
// Every server runs in this process on 127.0.0.1 with TLS (self-signed; the
// leaf trusts its origin through server.origin.ca_file) and its own data
// directory in a temp directory, removed at the end. Run it with
//
//	go run ./bench/livelink                         # SQLite scenarios (~4 min)
//	. /tmp/pgenv && go run ./bench/livelink         # and the cluster one, on KNOT_TEST_POSTGRES_DSN
//	go run ./bench/livelink -only changes,cluster -changes 200
//	go run ./bench/livelink -repeats 2 -outage-min 10s -outage-max 10s
//
// The PostgreSQL server comes from -postgres-dsn, else
// KNOT_BENCH_POSTGRES_DSN, else KNOT_TEST_POSTGRES_DSN; without any the
// cluster scenario is skipped. It is not a test: timed assertions do not
// belong in `go test`. It prints a table and whether each target is met,
// and exits 0 whenever the measurements ran, met or not; 1 when it could
// not measure (a server did not start, the leaf never connected, or three
// changes in a row never reached the leaf).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/bench/internal/cli"
	"github.com/knot-dev/knot/bench/internal/host"
	"github.com/knot-dev/knot/client"
	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

// Bounds on the flags, so that a typo cannot start an hour-long run.
const (
	maxChanges = 1000
	maxRepeats = 20
	maxOutage  = 60 * time.Second
	maxTimeout = time.Hour
)

// How often the harness looks, and how long it waits at most.
const (
	pollLeafDB  = 2 * time.Millisecond
	pollStatus  = time.Millisecond
	pollPing    = 5 * time.Millisecond
	changeWait  = 10 * time.Second // a change not on the leaf by then is a miss
	maxGap      = 250 * time.Millisecond
	stateWait   = 60 * time.Second
	silentHeal  = time.Second // how long the link stays silent after the leaf noticed
	pingTimeout = time.Second
)

// The targets.
const (
	changeTarget = time.Second
	downTarget   = 3 * time.Second
	backTarget   = 5 * time.Second
)

var scenarioNames = []string{"changes", "stop", "kill", "silent", "cluster"}

type options struct {
	changes       int
	repeats       int
	silentRepeats int
	outageMin     time.Duration
	outageMax     time.Duration
	timeout       time.Duration
	only          map[string]bool
	pgDSN         string
	logPath       string
}

func (o options) want(name string) bool { return o.only == nil || o.only[name] }

func main() {
	var o options
	var only string
	flag.IntVar(&o.changes, "changes", 100, "changes per change scenario (at most 1000)")
	flag.IntVar(&o.repeats, "repeats", 5, "stops, kills and restarts of the origin, each (at most 20)")
	flag.IntVar(&o.silentRepeats, "silent-repeats", 3, "silenced links (0 to skip; at most 20)")
	flag.DurationVar(&o.outageMin, "outage-min", 10*time.Second, "shortest outage before a restart")
	flag.DurationVar(&o.outageMax, "outage-max", 20*time.Second, "longest outage before a restart (at most 60s); the repeats spread evenly between the two")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after this long (at most 1h)")
	flag.StringVar(&only, "only", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames, ","))
	flag.StringVar(&o.pgDSN, "postgres-dsn", "", "PostgreSQL server to create a throwaway database on for the cluster scenario (default $KNOT_BENCH_POSTGRES_DSN, else $KNOT_TEST_POSTGRES_DSN)")
	flag.StringVar(&o.logPath, "log", "", "write the servers' logs (debug level) to this file")
	flag.Parse()
	prog := cli.Prog("livelink")
	cli.InRange(prog, "-changes", o.changes, 1, maxChanges)
	cli.InRange(prog, "-repeats", o.repeats, 1, maxRepeats)
	cli.InRange(prog, "-silent-repeats", o.silentRepeats, 0, maxRepeats)
	prog.FailIf(o.outageMin < time.Second || o.outageMax < o.outageMin || o.outageMax > maxOutage,
		"-outage-min %s, -outage-max %s: want 1s ≤ min ≤ max ≤ %s", o.outageMin, o.outageMax, maxOutage)
	prog.FailIf(o.timeout <= 0 || o.timeout > maxTimeout, "-timeout %s: want more than 0 and at most %s", o.timeout, maxTimeout)
	o.only = prog.Scenarios("-only", only, scenarioNames)
	if o.pgDSN == "" {
		o.pgDSN = os.Getenv("KNOT_BENCH_POSTGRES_DSN")
	}
	if o.pgDSN == "" {
		o.pgDSN = os.Getenv("KNOT_TEST_POSTGRES_DSN")
	}

	ctx, cancel := cli.RunContext(o.timeout)
	var rows []row
	err := run(ctx, o, &rows)
	cancel()
	report(rows)
	if err != nil {
		fmt.Fprintf(os.Stderr, "livelink: %v\n", err)
		os.Exit(1)
	}
}

// row is one line of the final table.
type row struct {
	name   string
	lat    []time.Duration
	misses int           // changes not seen within changeWait (counted in lat as changeWait)
	limit  time.Duration // the target; 0 for information only
	byP99  bool          // the target is on p99, else on the maximum
}

func run(ctx context.Context, o options, rows *[]row) error {
	fmt.Printf("knot livelink  %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("machine: %s\n", machine())
	fmt.Printf("go: %s  load average: %s\n", runtime.Version(), host.LoadAvg())
	fmt.Printf("command: %s\n\n", strings.Join(os.Args, " "))

	dir, err := os.MkdirTemp("", "knot-livelink-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var logw io.Writer = io.Discard
	if o.logPath != "" {
		f, err := os.Create(o.logPath)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	if o.want("changes") || o.want("stop") || o.want("kill") || o.want("silent") {
		if err := singleOrigin(ctx, dir, o, logw, rows); err != nil {
			return err
		}
	}
	if o.want("cluster") {
		if o.pgDSN == "" {
			fmt.Println("cluster: skipped (no -postgres-dsn, KNOT_BENCH_POSTGRES_DSN or KNOT_TEST_POSTGRES_DSN)")
		} else if err := cluster(ctx, dir, o, logw, rows); err != nil {
			return err
		}
	}
	fmt.Printf("\nload average at the end: %s\n", host.LoadAvg())
	return nil
}

// ---- one origin on SQLite and a leaf ----

func singleOrigin(ctx context.Context, dir string, o options, logw io.Writer, rows *[]row) error {
	ocfg := baseConfig(filepath.Join(dir, "origin"))
	ocfg.Server.Zone = "bench-origin"
	origin, err := startNode("origin", ocfg, "127.0.0.1:0", logw)
	if err != nil {
		return err
	}
	// origin is replaced by every restart; this stops whichever runs last.
	defer func() {
		if err := origin.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "livelink: stop the origin: %v\n", err)
		}
	}()
	lf, err := startLeaf(ctx, dir, "leaf", "the leaf", logw, origin)
	if err != nil {
		return err
	}
	defer lf.stop() //nolint:errcheck // the run is over
	roots, apiToken, svc := lf.roots, lf.apiToken, lf.srv.Leaf()

	if o.want("changes") {
		api := newClient(roots, true)
		lat, misses, err := measureChanges(ctx, changer{c: api, base: origin.url, auth: "Authorization: Bearer " + apiToken, leafDB: lf.srv.DB(), leaf: svc, prefix: "sqlite"}, o.changes)
		*rows = append(*rows, row{name: "change on the origin → in the leaf's list (SQLite origin)", lat: lat, misses: misses, limit: changeTarget, byP99: true})
		api.CloseIdleConnections()
		if err != nil {
			return err
		}
	}

	pinger := newClient(roots, false)
	// restart starts the origin again where it was and measures from its
	// first answer to the leaf's "connected".
	restart := func(what string) (time.Duration, error) {
		pctx, cancel := context.WithTimeout(ctx, stateWait)
		defer cancel()
		answered := make(chan time.Time, 1)
		go func() { answered <- firstPing(pctx, pinger, origin.url) }()
		next, err := startNode("origin", origin.cfg, origin.addr, logw)
		if err != nil {
			return 0, err
		}
		origin = next
		up := <-answered
		if up.IsZero() {
			return 0, fmt.Errorf("%s: the restarted origin did not answer GET /api/ping", what)
		}
		st := svc.Status()
		conn, err := waitUntil(ctx, stateWait, connected(svc))
		if err != nil {
			return 0, fmt.Errorf("%s: the leaf did not reconnect: %w (status %+v)", what, err, svc.Status())
		}
		due := "none"
		if !st.NextRetry.IsZero() {
			due = fmt.Sprintf("%+.2fs", st.NextRetry.Sub(up).Seconds())
		}
		fmt.Printf("      back: connected %s after the origin answered (the leaf's next retry was due %s from then)\n", fmtDur(conn.Sub(up)), due)
		return conn.Sub(up), nil
	}
	outage := func(i int) time.Duration {
		if o.repeats == 1 {
			return o.outageMin
		}
		return o.outageMin + (o.outageMax-o.outageMin)*time.Duration(i)/time.Duration(o.repeats-1)
	}
	// interrupt takes the origin away (stop or kill, run beside the
	// measurement: a graceful stop returns only once the server is down),
	// measures how long the leaf takes to notice, waits out the outage and
	// brings the origin back.
	interrupt := func(kind string, down func()) ([]time.Duration, []time.Duration, error) {
		var downs, backs []time.Duration
		for i := range o.repeats {
			if _, err := waitUntil(ctx, stateWait, connected(svc)); err != nil {
				return downs, backs, fmt.Errorf("%s %d: the leaf is not connected: %w", kind, i+1, err)
			}
			time.Sleep(time.Duration(rand.Int64N(int64(2 * time.Second)))) // any phase of the 2 s feed pings
			out := outage(i)
			t0 := time.Now()
			finished := make(chan struct{})
			go func() { defer close(finished); down() }()
			gone, err := waitUntil(ctx, stateWait, func() bool { return !svc.Status().Healthy() })
			<-finished // the old server is gone entirely before it starts again
			if err != nil {
				return downs, backs, fmt.Errorf("%s %d: the leaf did not notice: %w", kind, i+1, err)
			}
			downs = append(downs, gone.Sub(t0))
			fmt.Printf("  %s %d/%d: not connected %s after the %s (state %s); outage %s\n", kind, i+1, o.repeats, fmtDur(gone.Sub(t0)), kind, svc.Status().State, out)
			if err := sleepCtx(ctx, time.Until(t0.Add(out))); err != nil {
				return downs, backs, err
			}
			back, err := restart(kind)
			if err != nil {
				return downs, backs, err
			}
			backs = append(backs, back)
		}
		return downs, backs, nil
	}
	if o.want("stop") {
		downs, backs, err := interrupt("stop", func() {
			if err := origin.stop(); err != nil {
				fmt.Fprintf(os.Stderr, "livelink: stop the origin: %v\n", err)
			}
		})
		*rows = append(*rows,
			row{name: "origin stopped (graceful) → leaf not connected", lat: downs, limit: downTarget},
			row{name: "origin restarted after stop → leaf connected (from its first answer)", lat: backs, limit: backTarget})
		if err != nil {
			return err
		}
	}
	if o.want("kill") {
		downs, backs, err := interrupt("kill", func() {
			origin.kill()
			// Then what the kernel would tidy up after a killed process:
			// the database, the data directory's lock.
			origin.reap()
		})
		*rows = append(*rows,
			row{name: "origin killed (sockets closed at once) → leaf not connected", lat: downs, limit: downTarget},
			row{name: "origin restarted after kill → leaf connected (from its first answer)", lat: backs, limit: backTarget})
		if err != nil {
			return err
		}
	}
	if o.want("silent") && o.silentRepeats > 0 {
		var downs, heals []time.Duration
		for i := range o.silentRepeats {
			if _, err := waitUntil(ctx, stateWait, connected(svc)); err != nil {
				return fmt.Errorf("silent %d: the leaf is not connected: %w", i+1, err)
			}
			time.Sleep(time.Duration(rand.Int64N(int64(2 * time.Second))))
			t0 := time.Now()
			origin.ln.setSilent(true)
			gone, err := waitUntil(ctx, stateWait, func() bool { return !svc.Status().Healthy() })
			if err != nil {
				origin.ln.setSilent(false)
				return fmt.Errorf("silent %d: the leaf did not notice: %w", i+1, err)
			}
			downs = append(downs, gone.Sub(t0))
			if err := sleepCtx(ctx, silentHeal); err != nil {
				return err
			}
			t1 := time.Now()
			origin.ln.setSilent(false) // and the silent connections are cut
			conn, err := waitUntil(ctx, stateWait, connected(svc))
			if err != nil {
				return fmt.Errorf("silent %d: the leaf did not reconnect: %w", i+1, err)
			}
			heals = append(heals, conn.Sub(t1))
			fmt.Printf("  silent %d/%d: not connected %s after the link went silent; connected %s after it was cut and open again\n", i+1, o.silentRepeats, fmtDur(gone.Sub(t0)), fmtDur(conn.Sub(t1)))
		}
		*rows = append(*rows,
			row{name: "link silent (no FIN/RST) → leaf not connected [no target]", lat: downs},
			row{name: "silent link cut, origin answering → leaf connected [no target]", lat: heals})
	}
	return nil
}

// ---- two cluster servers on PostgreSQL and a leaf ----

func cluster(ctx context.Context, dir string, o options, logw io.Writer, rows *[]row) error {
	dsn, drop, err := throwawayDatabase(ctx, o.pgDSN)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer func() {
		if err := drop(); err != nil {
			fmt.Fprintf(os.Stderr, "livelink: drop the throwaway database: %v\n", err)
		}
	}()
	key := server.NewKey()
	var nodes []*node
	defer func() {
		for _, n := range slices.Backward(nodes) {
			n.stop() //nolint:errcheck // the run is over
		}
	}()
	for _, name := range []string{"a", "b"} {
		cfg := baseConfig(filepath.Join(dir, "cluster-"+name))
		cfg.Server.Postgres = config.Postgres{Enabled: true, DSN: dsn}
		cfg.Server.Encrypt = key
		cfg.Server.Zone = "bench-cluster"
		n, err := startNode("cluster-"+name, cfg, "127.0.0.1:0", logw)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
	}
	a, b := nodes[0], nodes[1]
	lf, err := startLeaf(ctx, dir, "leaf-of-b", "the cluster's leaf", logw, a, b)
	if err != nil {
		return err
	}
	nodes = append(nodes, lf.node)
	svc := lf.srv.Leaf()
	api := newClient(lf.roots, true)
	defer api.CloseIdleConnections()
	auth := "Authorization: Bearer " + lf.apiToken
	lat, misses, err := measureChanges(ctx, changer{c: api, base: a.url, auth: auth, leafDB: lf.srv.DB(), leaf: svc, prefix: "on-a"}, o.changes)
	*rows = append(*rows, row{name: "change on cluster server A → in the list of a leaf on B (PostgreSQL)", lat: lat, misses: misses, limit: changeTarget, byP99: true})
	if err != nil {
		return err
	}
	lat, misses, err = measureChanges(ctx, changer{c: api, base: b.url, auth: auth, leafDB: lf.srv.DB(), leaf: svc, prefix: "on-b"}, o.changes)
	*rows = append(*rows, row{name: "change on cluster server B → in the list of a leaf on B (PostgreSQL) [no target]", lat: lat, misses: misses})
	return err
}

// ---- changes ----

// changer makes template changes through a server's API and watches a
// leaf's cache for them.
type changer struct {
	c      *client.Client // without a base: paths are whole URLs
	base   string
	auth   string
	leafDB *gorm.DB
	leaf   *leaf.Service
	prefix string
}

// maxMissesInARow ends a change scenario whose leaf has stopped applying
// changes (a broken build, say) instead of waiting out every change.
const maxMissesInARow = 3

// measureChanges makes n changes one at a time (even ones create a
// template, odd ones edit the template just created) and times each from
// the API's answer to the leaf's database showing it.
func measureChanges(ctx context.Context, ch changer, n int) (lat []time.Duration, misses int, err error) {
	fmt.Printf("  %s: %d changes through %s\n", ch.prefix, n, ch.base)
	var id int
	var name string
	inARow := 0
	for i := range n {
		if err := sleepCtx(ctx, time.Duration(rand.Int64N(int64(maxGap)))); err != nil {
			return lat, misses, err
		}
		body := fmt.Sprintf("image: debian:stable\n# change %d\n", i)
		if i%2 == 0 {
			name = fmt.Sprintf("%s-%04d", ch.prefix, i)
			var out struct {
				ID int `json:"id"`
			}
			if _, err := ch.c.Expect(ctx, http.MethodPost, ch.base+"/api/templates", templateJSON(name, body), http.StatusCreated, &out, ch.auth); err != nil || out.ID == 0 {
				return lat, misses, fmt.Errorf("create template %s: id %d, %v", name, out.ID, err)
			}
			id = out.ID
		} else {
			if _, err := ch.c.Expect(ctx, http.MethodPut, fmt.Sprintf("%s/api/templates/%d", ch.base, id), templateJSON(name, body), http.StatusOK, nil, ch.auth); err != nil {
				return lat, misses, fmt.Errorf("edit template %s: %w", name, err)
			}
		}
		t0 := time.Now()
		seen, err := waitUntil(ctx, changeWait, func() bool {
			list, err := models.ClusterTemplates(ctx, ch.leafDB)
			if err != nil {
				return false
			}
			for _, t := range list {
				if t.Name == name {
					return t.Body == body
				}
			}
			return false
		}, pollLeafDB)
		if err != nil {
			if ctx.Err() != nil {
				return lat, misses, ctx.Err()
			}
			misses++
			inARow++
			lat = append(lat, changeWait)
			st := ch.leaf.Status()
			fmt.Printf("  %s: change %d not on the leaf after %s; leaf status %s: %s\n", ch.prefix, i, changeWait, st.State, st.Message)
			if inARow >= maxMissesInARow {
				return lat, misses, fmt.Errorf("%s: %d changes in a row did not reach the leaf; giving up (see -log for the servers' logs)", ch.prefix, inARow)
			}
			continue
		}
		inARow = 0
		lat = append(lat, seen.Sub(t0))
	}
	return lat, misses, nil
}

func templateJSON(name, body string) map[string]any {
	return map[string]any{"name": name, "description": "live link benchmark", "active": true, "body": body}
}

// ---- waiting ----

func connected(svc *leaf.Service) func() bool {
	return func() bool { return svc.Status().State == leaf.StateConnected }
}

// waitUntil polls cond (every pollStatus, or every[0]) until it holds and
// returns when it first saw it hold.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool, every ...time.Duration) (time.Time, error) {
	step := pollStatus
	if len(every) > 0 {
		step = every[0]
	}
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return time.Now(), nil
		}
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("not within %s", timeout)
		}
		time.Sleep(step)
	}
}

// firstPing polls GET /api/ping until it answers 200 and returns when the
// answer arrived (zero if ctx ends first).
func firstPing(ctx context.Context, c *client.Client, base string) time.Time {
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		a, err := c.Send(pctx, http.MethodGet, base+"/api/ping", nil)
		cancel()
		if err == nil && a.StatusCode == http.StatusOK {
			return time.Now()
		}
		time.Sleep(pollPing)
	}
	return time.Time{}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ---- report ----

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1 // nearest rank
	return sorted[max(0, min(i, len(sorted)-1))]
}

func report(rows []row) {
	if len(rows) == 0 {
		return
	}
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measurement\tn\tp50\tp90\tp99\tmax\ttarget\tmet")
	for _, r := range rows {
		s := slices.Clone(r.lat)
		slices.Sort(s)
		p50, p90, p99 := percentile(s, 0.5), percentile(s, 0.9), percentile(s, 0.99)
		var worst time.Duration
		if len(s) > 0 {
			worst = s[len(s)-1]
		}
		target, met := "—", "—"
		if r.limit > 0 {
			got := worst
			target = "max ≤ " + fmtDur(r.limit)
			if r.byP99 {
				got = p99
				target = "p99 ≤ " + fmtDur(r.limit)
			}
			met = "yes"
			if got > r.limit || len(s) == 0 {
				met = "NO"
			}
		}
		if r.misses > 0 {
			met += fmt.Sprintf(" (%d not seen within %s)", r.misses, changeWait)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, len(s), fmtDur(p50), fmtDur(p90), fmtDur(p99), fmtDur(worst), target, met)
	}
	tw.Flush()
	fmt.Println("\nchanges: from the API's 201/200 to the leaf's database showing the change (polled every 2 ms).")
	fmt.Println("not connected: from the stop/kill call to leaf.Service.Status().State leaving \"connected\" (polled every 1 ms).")
	fmt.Println("connected: from the restarted origin's first 200 to GET /api/ping (polled every 5 ms) to State \"connected\".")
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// ---- the machine ----

func machine() string {
	cpu := host.CPUModel()
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			var kb int64
			if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
				mem = fmt.Sprintf(", %.0f GB", float64(kb)/(1<<20))
				break
			}
		}
	}
	return fmt.Sprintf("%s, NumCPU=%d, GOMAXPROCS=%d%s, %s/%s", cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), mem, runtime.GOOS, runtime.GOARCH)
}
