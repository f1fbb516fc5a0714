// Command ratio measures the knot binary against a bare Go TLS server (the
// yardstick, bench/yardstick) on the same machine in the same minutes,
// for the performance targets in bench/README.md. Both run as their own processes on
// 127.0.0.1 with TLS; wrk drives the load; CPU per request is each server
// process's own (utime + stime from /proc/PID/stat), and memory is the
// knot process's VmRSS and VmHWM from /proc/PID/status.
//
//	go run ./bench/ratio                          # build knot from this checkout and measure it
//	go run ./bench/ratio -knot /tmp/knot-before   # measure a prebuilt binary
//	go run ./bench/ratio -soak 0 -cold 0          # skip the long soak and the cold starts
//	go run ./bench/ratio -perf                    # also print perf's hottest symbols per scenario
//
// Everything runs in a temporary directory that is removed at the end,
// every child process dies with the harness, and the whole run is bounded
// by -timeout. It needs Linux (/proc) and wrk (installed with apt-get when
// missing and running as root).
package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/knot-dev/knot/bench/internal/cli"
	"github.com/knot-dev/knot/bench/internal/host"
	"github.com/knot-dev/knot/client"
)

// clkTck is USER_HZ: /proc/PID/stat counts CPU time in these ticks.
var clkTck = int64(100)

type options struct {
	knot, yardstick, wrk string
	duration, pageDur    time.Duration
	threads, conns       int
	rounds               int
	templates, tokens    int
	logins, cold         int
	soak                 int64
	soakMax              time.Duration
	perf                 bool
	timeout              time.Duration
	label                string
}

func main() {
	var o options
	flag.StringVar(&o.knot, "knot", "", "knot binary to measure (default: go build -tags nomsgpack this checkout into the temp dir, as task build does)")
	flag.StringVar(&o.yardstick, "yardstick", "", "yardstick binary (default: go build ./bench/yardstick into the temp dir)")
	flag.StringVar(&o.wrk, "wrk", "wrk", "wrk binary")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "length of each throughput run (wrk -d), 1s to 60s")
	flag.DurationVar(&o.pageDur, "page-d", 5*time.Second, "length of the API Tokens page run (one connection)")
	flag.IntVar(&o.threads, "t", 2, "wrk threads (-t)")
	flag.IntVar(&o.conns, "c", 50, "wrk connections (-c)")
	flag.IntVar(&o.rounds, "rounds", 1, "yardstick/knot/yardstick rounds per throughput scenario, 1 to 5")
	flag.IntVar(&o.templates, "templates", 20, "templates to seed")
	flag.IntVar(&o.tokens, "tokens", 1000, "API tokens to give the developer whose API Tokens page is measured, at most 5000")
	flag.IntVar(&o.logins, "logins", 7, "measured sign-ins on the origin and on the leaf each (alternating), at most 50")
	flag.IntVar(&o.cold, "cold", 5, "cold starts to time (0 skips), at most 20")
	flag.Int64Var(&o.soak, "soak", 500_000, "uses of the bearer token before whoami is measured again (0 skips the soak)")
	flag.DurationVar(&o.soakMax, "soak-max", 180*time.Second, "stop the soak after this long even if -soak uses are not reached, at most 10m")
	flag.BoolVar(&o.perf, "perf", false, "record the knot process with perf during each knot run and print its hottest symbols")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "stop everything after this long, at most 30m")
	flag.StringVar(&o.label, "label", "", "a label printed with the results (e.g. before, after)")
	flag.Parse()
	prog := cli.Prog("ratio")
	prog.FailIf(o.duration < time.Second || o.duration > time.Minute, "-d %s: want 1s to 60s", o.duration)
	prog.FailIf(o.pageDur < time.Second || o.pageDur > time.Minute, "-page-d %s: want 1s to 60s", o.pageDur)
	prog.FailIf(o.threads < 1 || o.conns < o.threads || o.conns > 1000, "-t %d -c %d: want 1 ≤ t ≤ c ≤ 1000", o.threads, o.conns)
	cli.InRange(prog, "-rounds", o.rounds, 1, 5)
	cli.InRange(prog, "-templates", o.templates, 0, 1000)
	cli.InRange(prog, "-tokens", o.tokens, 0, 5000)
	cli.InRange(prog, "-logins", o.logins, 1, 50)
	cli.InRange(prog, "-cold", o.cold, 0, 20)
	cli.InRange(prog, "-soak", o.soak, 0, 5_000_000)
	prog.FailIf(o.soakMax < 0 || o.soakMax > 10*time.Minute, "-soak-max %s: want at most 10m", o.soakMax)
	prog.FailIf(o.timeout <= 0 || o.timeout > 30*time.Minute, "-timeout %s: want at most 30m", o.timeout)
	clkTck = clockTicks()
	ctx, cancel := cli.RunContext(o.timeout)
	defer cancel()
	err := run(ctx, o)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w (the run passed -timeout %s)", err, o.timeout)
		}
		cancel()
		fmt.Fprintln(os.Stderr, "ratio:", err)
		os.Exit(1)
	}
}

type harness struct {
	o        options
	tmp      string
	wrkLua   string
	yard     *server
	profiles []string
	r        results
}

func (h *harness) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// triplet is yardstick, knot, yardstick on the same request, back to back.
type triplet struct{ y1, k, y2 load }

func (t triplet) yardRPS() float64 { return (t.y1.rps() + t.y2.rps()) / 2 }
func (t triplet) ratio() float64   { return t.k.rps() / t.yardRPS() }

// ratioRange is knot ÷ each of the two yardstick runs around it: how much
// the machine's weather moved during the triplet.
func (t triplet) ratioRange() (lo, hi float64) {
	a, b := t.k.rps()/t.y1.rps(), t.k.rps()/t.y2.rps()
	return min(a, b), max(a, b)
}

type results struct {
	knotVersion, knotGo string
	setup               time.Duration
	cold                []time.Duration
	idleRSS             int64 // fresh process on the seeded database, 1 s after its first answer, binary read from disk
	idleAnon            int64 // … the private part of it
	idleRSSJustBuilt    int64 // the same with the binary's pages as the page cache held them (as go build wrote them, when it just did)
	whoami, templates   []triplet
	page                load
	pageBytes           int
	pageLeaks           int // plaintext tokens found in the page
	originLogins        []time.Duration
	leafLogins          []time.Duration
	originLoginCPU      time.Duration // origin process, over the origin sign-ins
	leafLoginCPU        time.Duration // leaf process, over the leaf sign-ins
	leafLoginOriginCPU  time.Duration // origin process, over the leaf sign-ins
	leafHWM             int64
	soak                []load
	tokenUses           int64
	whoamiLate          []triplet
	afterRSS, peakRSS   int64
	failures            []string
	loadStart, loadEnd  string // /proc/loadavg: how busy the machine was
}

func run(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "knot-ratio-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	h := &harness{o: o, tmp: tmp, wrkLua: filepath.Join(tmp, "summary.lua")}
	h.r.loadStart = host.LoadAvg()
	if err := os.WriteFile(h.wrkLua, []byte(wrkScript), 0o600); err != nil {
		return err
	}
	if err := h.findWrk(ctx); err != nil {
		return err
	}
	if err := h.binaries(ctx); err != nil {
		return err
	}
	if err := h.measure(ctx); err != nil {
		return err
	}
	h.r.loadEnd = host.LoadAvg()
	h.report()
	if n := len(h.r.failures); n > 0 {
		return fmt.Errorf("%d scenario(s) failed; the report says which", n)
	}
	return nil
}

// findWrk checks for wrk and installs the Debian package when it is
// missing and the harness runs as root.
func (h *harness) findWrk(ctx context.Context) error {
	if p, err := exec.LookPath(h.o.wrk); err == nil {
		h.o.wrk = p
		return nil
	}
	const how = "install it (Debian/Ubuntu: apt-get install wrk; or build https://github.com/wg/wrk) or pass -wrk PATH"
	if h.o.wrk != "wrk" || os.Geteuid() != 0 {
		return fmt.Errorf("wrk not found (%s): %s", h.o.wrk, how)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("wrk not found: %s", how)
	}
	h.progress("wrk not found: running apt-get install -y wrk")
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "wrk")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	if err := install(); err != nil {
		update := exec.CommandContext(ctx, "apt-get", "update")
		update.Stdout, update.Stderr = os.Stderr, os.Stderr
		if update.Run() != nil || install() != nil {
			return fmt.Errorf("apt-get install wrk failed: %s", how)
		}
	}
	p, err := exec.LookPath("wrk")
	if err != nil {
		return fmt.Errorf("wrk still not found after apt-get: %s", how)
	}
	h.o.wrk = p
	return nil
}

// binaries builds knot and the yardstick when no prebuilt ones are given.
func (h *harness) binaries(ctx context.Context) error {
	var modDir string
	if h.o.knot == "" || h.o.yardstick == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
			return fmt.Errorf("not inside knot's Go module (go env GOMOD: %q, %v): run from the repository or pass -knot and -yardstick", out, err)
		}
		modDir = filepath.Dir(strings.TrimSpace(string(out)))
	}
	build := func(what, pkg, out string, flags ...string) error {
		args := append(append([]string{"build"}, flags...), "-o", out, pkg)
		h.progress("building %s (go %s)", what, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = modDir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", what, err)
		}
		return nil
	}
	if h.o.knot == "" {
		h.o.knot = filepath.Join(h.tmp, "bin", "knot")
		// As `task build` builds it for release.
		if err := build("knot from "+modDir, ".", h.o.knot, "-tags", "nomsgpack"); err != nil {
			return err
		}
	} else if abs, err := filepath.Abs(h.o.knot); err == nil {
		h.o.knot = abs
	}
	if h.o.yardstick == "" {
		h.o.yardstick = filepath.Join(h.tmp, "bin", "yardstick")
		if err := build("the yardstick", "./bench/yardstick", h.o.yardstick); err != nil {
			return err
		}
	}
	if out, err := exec.CommandContext(ctx, h.o.knot, "version").Output(); err == nil {
		h.r.knotVersion = strings.TrimSpace(string(out))
	} else {
		return fmt.Errorf("%s version: %w", h.o.knot, err)
	}
	// Build tags change what is in the binary, and so its memory.
	if bi, err := buildinfo.ReadFile(h.o.knot); err == nil {
		tags := "no build tags"
		for _, s := range bi.Settings {
			if s.Key == "-tags" {
				tags = "-tags " + s.Value
			}
		}
		h.r.knotGo = bi.GoVersion + ", " + tags
	}
	return nil
}

func (h *harness) throughput(ctx context.Context, knot *server, spec loadSpec) (triplet, error) {
	var t triplet
	var err error
	yspec := spec
	yspec.perfName = ""
	if t.y1, err = h.runWrk(ctx, h.yard, yspec); err != nil {
		return t, err
	}
	if t.k, err = h.runWrk(ctx, knot, spec); err != nil {
		return t, err
	}
	if t.y2, err = h.runWrk(ctx, h.yard, yspec); err != nil {
		return t, err
	}
	lo, hi := t.ratioRange()
	h.progress("  → ratio %.3f (%.3f–%.3f)", t.ratio(), lo, hi)
	return t, nil
}

func (h *harness) measure(ctx context.Context) error {
	o := h.o
	var err error
	if h.yard, err = startYardstick(ctx, o.yardstick); err != nil {
		return err
	}
	defer h.yard.stop()

	// The origin: seeded through the real interfaces.
	node, err := newKnotNode(h.tmp, "knot", "")
	if err != nil {
		return err
	}
	t0 := time.Now()
	knot, _, err := node.startReady(ctx, o.knot, 60*time.Second)
	if err != nil {
		return err
	}
	defer func() { knot.stop() }()
	h.progress("seeding %s: first admin, %d templates, a developer with %d API tokens", knot.url, o.templates, o.tokens)
	fx, err := seed(ctx, knot, o.templates, o.tokens)
	if err != nil {
		return fmt.Errorf("seed: %w%s", err, knot.logTail(10))
	}
	h.r.setup = time.Since(t0)

	// Cold starts on the seeded database: exec → first 200 from /api/ping.
	knot.stop()
	for i := range o.cold {
		k, d, err := node.startReady(ctx, o.knot, 30*time.Second)
		if err != nil {
			return err
		}
		k.stop()
		h.r.cold = append(h.r.cold, d)
		h.progress("  cold start %d: %s", i+1, fmtDur(d))
	}
	if knot, _, err = node.startReady(ctx, o.knot, 60*time.Second); err != nil {
		return err
	}
	time.Sleep(time.Second)
	if h.r.idleRSSJustBuilt, _, _, err = knot.mem(); err != nil {
		return err
	}
	h.progress("  idle RSS after start, binary as the page cache held it: %s", fmtMiB(h.r.idleRSSJustBuilt))
	// Again from disk; that process serves the scenarios.
	knot.stop()
	if knot, err = h.idleFromDisk(ctx, node); err != nil {
		return err
	}

	bearer := []string{"Authorization: Bearer " + fx.adminToken}
	spec := func(path string, perf string, headers []string) loadSpec {
		return loadSpec{path: path, d: o.duration, threads: o.threads, conns: o.conns, headers: headers, perfName: perf}
	}
	// Warm both up (TLS sessions, caches, the Go heap) off the record.
	warm := spec("/api/users/whoami", "", bearer)
	warm.d = 2 * time.Second
	for _, s := range []*server{h.yard, knot} {
		l, err := h.runWrk(ctx, s, warm)
		if err != nil {
			return err
		}
		if s == knot {
			h.r.tokenUses += l.Requests
		}
	}

	// rounds runs o.rounds yardstick/knot/yardstick triplets on path with
	// the bearer token; perf names knot's profile ("" for none).
	rounds := func(path, perf string) ([]triplet, error) {
		var ts []triplet
		for range o.rounds {
			t, err := h.throughput(ctx, knot, spec(path, perf, bearer))
			if err != nil {
				return ts, err
			}
			ts = append(ts, t)
		}
		return ts, nil
	}

	// Each scenario below stands alone: one that fails is reported as
	// such and the others still run (unless knot itself has exited).
	step := func(name string, f func() error) error {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		h.progress("  FAILED %s: %v", name, err)
		h.r.failures = append(h.r.failures, name+": "+err.Error())
		if knot.exited() {
			return fmt.Errorf("knot exited during %s: %v%s", name, knot.err, knot.logTail(15))
		}
		return nil
	}
	steps := []struct {
		name string
		f    func() error
	}{
		{"bearer whoami", func() (err error) {
			h.progress("bearer GET /api/users/whoami")
			h.r.whoami, err = rounds("/api/users/whoami", "whoami")
			h.r.tokenUses += knotRequests(h.r.whoami)
			return err
		}},
		{"bearer templates", func() (err error) {
			h.progress("bearer GET /api/templates (%d templates)", o.templates)
			h.r.templates, err = rounds("/api/templates", "templates")
			h.r.tokenUses += knotRequests(h.r.templates)
			return err
		}},
		{"API Tokens page", func() error {
			h.progress("API Tokens page, %d tokens, one connection", o.tokens)
			cookie := []string{"Cookie: " + fx.devCookie}
			a, err := newClient(knot.url, false).Expect(ctx, http.MethodGet, "/api-tokens", nil, http.StatusOK, nil, cookie...)
			if err != nil {
				return err
			}
			body := a.Body
			h.r.pageBytes = len(body)
			for _, t := range fx.devTokens {
				if strings.Contains(string(body), t) {
					h.r.pageLeaks++
				}
			}
			ps := loadSpec{path: "/api-tokens", d: o.pageDur, threads: 1, conns: 1, headers: cookie, perfName: "tokens-page"}
			if h.r.page, err = h.runWrk(ctx, knot, ps); err != nil {
				return err
			}
			h.progress("  %d bytes, %d of %d plaintext tokens in the page", h.r.pageBytes, h.r.pageLeaks, len(fx.devTokens))
			return nil
		}},
		{"sign-in on a leaf and on the origin", func() error { return h.signIns(ctx, node, knot, fx) }},
		{"soak", func() (err error) {
			if o.soak == 0 {
				return nil
			}
			h.progress("soak: bearer whoami until the token has %d uses (at most %s)", o.soak, o.soakMax)
			start := time.Now()
			rate := 1000.0
			if len(h.r.whoami) > 0 {
				rate = h.r.whoami[len(h.r.whoami)-1].k.rps()
			}
			for h.r.tokenUses < o.soak {
				left := o.soakMax - time.Since(start)
				if left < time.Second {
					break
				}
				need := time.Duration(float64(o.soak-h.r.tokenUses)/max(rate, 1)*float64(time.Second)) + 500*time.Millisecond
				s := spec("/api/users/whoami", "", bearer)
				s.d = max(time.Second, min(need, 30*time.Second, left))
				l, err := h.runWrk(ctx, knot, s)
				if err != nil {
					return err
				}
				h.r.soak = append(h.r.soak, l)
				h.r.tokenUses += l.Requests
				rate = l.rps()
			}
			h.progress("bearer GET /api/users/whoami again, after %d uses of the token", h.r.tokenUses)
			h.r.whoamiLate, err = rounds("/api/users/whoami", "")
			return err
		}},
	}
	for _, st := range steps {
		if err := step(st.name, st.f); err != nil {
			return err
		}
	}
	time.Sleep(2 * time.Second)
	if h.r.afterRSS, h.r.peakRSS, _, err = knot.mem(); err != nil {
		return err
	}
	return nil
}

// idleFromDisk starts a fresh knot from a binary read from disk (see
// evictFromPageCache), as a server starts after an install and a reboot,
// measures its idle resident set and returns it running. A binary the
// page cache cannot let go of (on tmpfs, or mapped by another process)
// is reported as a failure and not measured.
func (h *harness) idleFromDisk(ctx context.Context, node *knotNode) (*server, error) {
	evictErr := evictFromPageCache(h.o.knot)
	knot, _, err := node.startReady(ctx, h.o.knot, 60*time.Second)
	if err != nil {
		return nil, err
	}
	if evictErr != nil {
		h.progress("  idle RSS from disk not measured: %v", evictErr)
		h.r.failures = append(h.r.failures, "idle RSS from disk: "+evictErr.Error())
		return knot, nil
	}
	time.Sleep(time.Second)
	if h.r.idleRSS, _, h.r.idleAnon, err = knot.mem(); err != nil {
		knot.stop()
		return nil, err
	}
	h.progress("  idle RSS after start, binary read from disk: %s (%s private)", fmtMiB(h.r.idleRSS), fmtMiB(h.r.idleAnon))
	return knot, nil
}

// signIns starts a leaf on the origin's token and times POST /login on
// the leaf and on the origin, alternating, one at a time.
func (h *harness) signIns(ctx context.Context, originNode *knotNode, origin *server, fx *fixture) error {
	h.progress("sign-in: POST /login on a leaf connected to the origin vs on the origin")
	table := fmt.Sprintf("\n[server.origin]\nserver = %q\ntoken = %q\nca_file = %q\n",
		origin.url, fx.adminToken, originNode.certFile())
	node, err := newKnotNode(h.tmp, "leaf", table)
	if err != nil {
		return err
	}
	leaf, _, err := node.startReady(ctx, h.o.knot, 60*time.Second)
	if err != nil {
		return err
	}
	defer leaf.stop()
	oc, lc := newClient(origin.url, false), newClient(leaf.url, false)
	// One sign-in each off the record: the leaf's first creates its local
	// copy of the user, and it may need a moment to reach the origin.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := lc.SignIn(ctx, adminEmail, adminPassword)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("sign-in on the leaf: %w%s", err, leaf.logTail(10))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := oc.SignIn(ctx, adminEmail, adminPassword); err != nil {
		return fmt.Errorf("sign-in on the origin: %w", err)
	}
	// settle waits until neither process has used CPU for 150 ms (at most
	// 3 s), so that work a sign-in leaves behind (a leaf may hash the
	// password for offline use after answering) is neither lost nor
	// charged to, and slowing, the next sign-in. It returns both CPU
	// readings.
	settle := func() (o, l time.Duration, err error) {
		quiet, deadline := time.Now(), time.Now().Add(3*time.Second)
		var po, pl time.Duration
		for {
			if o, err = origin.cpu(); err != nil {
				return 0, 0, err
			}
			if l, err = leaf.cpu(); err != nil {
				return 0, 0, err
			}
			if o != po || l != pl {
				po, pl, quiet = o, l, time.Now()
			}
			if time.Since(quiet) >= 150*time.Millisecond || time.Now().After(deadline) {
				return o, l, nil
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// timed signs in once; the CPU is each process's from before the
	// request until both are quiet again.
	timed := func(c *client.Client, s *server) (d, oCPU, lCPU time.Duration, err error) {
		o0, l0, err := settle()
		if err != nil {
			return 0, 0, 0, err
		}
		t := time.Now()
		if err := c.SignIn(ctx, adminEmail, adminPassword); err != nil {
			return 0, 0, 0, fmt.Errorf("sign-in on %s: %w%s", s.name, err, s.logTail(10))
		}
		d = time.Since(t)
		o1, l1, err := settle()
		return d, o1 - o0, l1 - l0, err
	}
	for range h.o.logins {
		d, oCPU, _, err := timed(oc, origin)
		if err != nil {
			return err
		}
		h.r.originLogins = append(h.r.originLogins, d)
		h.r.originLoginCPU += oCPU
		d, oCPU, lCPU, err := timed(lc, leaf)
		if err != nil {
			return err
		}
		h.r.leafLogins = append(h.r.leafLogins, d)
		h.r.leafLoginOriginCPU += oCPU
		h.r.leafLoginCPU += lCPU
	}
	_, h.r.leafHWM, _, _ = leaf.mem()
	h.progress("  origin p50 %s, leaf p50 %s", fmtDur(median(h.r.originLogins)), fmtDur(median(h.r.leafLogins)))
	return nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

func fmtMiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// ratios summarises the triplets of a scenario: the mean ratio, and the
// lowest and highest knot ÷ single-yardstick-run ratio.
func ratios(ts []triplet) (mean, lo, hi float64) {
	lo, hi = 1e18, 0
	for _, t := range ts {
		mean += t.ratio()
		l, h := t.ratioRange()
		lo, hi = min(lo, l), max(hi, h)
	}
	return mean / float64(len(ts)), lo, hi
}

// knotRequests is how many requests knot answered in the triplets.
func knotRequests(ts []triplet) int64 {
	var n int64
	for _, t := range ts {
		n += t.k.Requests
	}
	return n
}

// cpuPerReq is the knot process's CPU per request over the triplets.
func cpuPerReq(ts []triplet) time.Duration {
	var c time.Duration
	var n int64
	for _, t := range ts {
		c += t.k.cpu
		n += t.k.Requests
	}
	return c / time.Duration(max(n, 1))
}

func (h *harness) report() {
	r, o := &h.r, h.o
	fmt.Println()
	label := ""
	if o.label != "" {
		label = " — " + o.label
	}
	fmt.Printf("### knot ÷ yardstick%s\n\n", label)
	fmt.Printf("- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("- CPU: %s, %d cores (NumCPU); clock tick %d Hz\n", host.CPUModel(), runtime.NumCPU(), clkTck)
	fmt.Printf("- knot: %s (%s, built with %s); harness and yardstick %s %s/%s\n", o.knot, r.knotVersion, r.knotGo, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("- load: wrk -t%d -c%d -d%s over HTTPS to 127.0.0.1; runs yardstick, knot, yardstick × %d round(s)\n", o.threads, o.conns, o.duration, o.rounds)
	fmt.Printf("- load average (1, 5, 15 min) at start: %s; at the end: %s\n", r.loadStart, r.loadEnd)
	fmt.Printf("- command: %s\n\n", strings.Join(os.Args, " "))

	fmt.Println("| scenario | yardstick req/s | knot req/s | ratio (range) | target | | knot p50 / p99 | knot CPU/req | yardstick CPU/req | CPU × yardstick |")
	fmt.Println("|---|--:|--:|--:|--:|---|--:|--:|--:|--:|")
	row := func(name string, ts []triplet, target float64, judge bool) {
		if len(ts) == 0 {
			return
		}
		mean, lo, hi := ratios(ts)
		var yr, kr float64
		var kc, yc time.Duration
		var kn, yn int64
		for _, t := range ts {
			yr += t.yardRPS()
			kr += t.k.rps()
			kc += t.k.cpu
			kn += t.k.Requests
			yc += t.y1.cpu + t.y2.cpu
			yn += t.y1.Requests + t.y2.Requests
		}
		n := float64(len(ts))
		last := ts[len(ts)-1].k
		kcpr, ycpr := kc/time.Duration(max(kn, 1)), yc/time.Duration(max(yn, 1))
		verdict := ""
		if judge {
			verdict = met(mean >= target)
		}
		fmt.Printf("| %s | %.0f | %.0f | **%.3f** (%.3f–%.3f) | ≥ %.2f | %s | %s / %s | %s | %s | %.1f |\n", name, yr/n, kr/n, mean, lo, hi, target, verdict,
			fmtDur(last.p50()), fmtDur(last.p99()), fmtDur(kcpr), fmtDur(ycpr), float64(kcpr)/float64(max(ycpr, 1)))
	}
	row("bearer `GET /api/users/whoami`", r.whoami, 0.5, true)
	row(fmt.Sprintf("bearer `GET /api/templates`, %d templates", o.templates), r.templates, 0.25, true)
	if len(r.whoamiLate) > 0 {
		row(fmt.Sprintf("whoami again after %dk uses of the token", r.tokenUses/1000), r.whoamiLate, 0.5, false)
	}
	fmt.Println()

	fmt.Println("| measure | value | target | |")
	fmt.Println("|---|--:|--:|---|")
	if r.page.Requests > 0 {
		fmt.Printf("| API Tokens page, %d tokens, 1 connection: p50 (p99) | %s (%s) | ≤ 5 ms | %s |\n", o.tokens, fmtDur(r.page.p50()), fmtDur(r.page.p99()), met(r.page.p50() <= 5*time.Millisecond))
		fmt.Printf("| … body size | %d bytes | ≤ 100 KB | %s |\n", r.pageBytes, met(r.pageBytes <= 100_000))
		fmt.Printf("| … full tokens in the page | %d of %d | 0 | %s |\n", r.pageLeaks, o.tokens, met(r.pageLeaks == 0))
		fmt.Printf("| … knot CPU per page | %s | | |\n", fmtDur(r.page.cpuPerReq()))
	}
	if len(r.leafLogins) > 0 {
		lp, op := median(r.leafLogins), median(r.originLogins)
		n := time.Duration(len(r.leafLogins))
		fmt.Printf("| sign-in p50: leaf ÷ origin (%d each, alternating) | **%.2f** (%s ÷ %s) | ≤ 1.1 | %s |\n", len(r.leafLogins), float64(lp)/float64(op), fmtDur(lp), fmtDur(op), met(float64(lp) <= 1.1*float64(op)))
		fmt.Printf("| … CPU per sign-in, until both processes are idle again: on the origin; through the leaf (leaf + origin) | %s; %s + %s | | |\n", fmtDur(r.originLoginCPU/n), fmtDur(r.leafLoginCPU/n), fmtDur(r.leafLoginOriginCPU/n))
	}
	if len(r.cold) > 0 {
		c := median(r.cold)
		fmt.Printf("| cold start → first 200 from /api/ping, median of %d (range) | %s (%s–%s) | ≤ 25 ms | %s |\n", len(r.cold), fmtDur(c), fmtDur(slices.Min(r.cold)), fmtDur(slices.Max(r.cold)), met(c <= 25*time.Millisecond))
	}
	fmt.Printf("| peak RSS (VmHWM) of the knot process over all scenarios | %s | ≤ 64 MiB | %s |\n", fmtMiB(r.peakRSS), met(r.peakRSS <= 64<<20))
	if r.idleRSS > 0 {
		fmt.Printf("| idle RSS (VmRSS) 1 s after start on the seeded database, binary read from disk | %s | ≤ 25 MiB | %s |\n", fmtMiB(r.idleRSS), met(r.idleRSS <= 25<<20))
	} else {
		fmt.Printf("| idle RSS (VmRSS) 1 s after start on the seeded database, binary read from disk | not measured (see the failures) | ≤ 25 MiB | |\n")
	}
	fmt.Printf("| … of which private (RssAnon); the same start with the binary as the page cache held it (just written by go build: whole large folios) | %s; %s | | |\n", fmtMiB(r.idleAnon), fmtMiB(r.idleRSSJustBuilt))
	fmt.Printf("| … VmRSS 2 s after the last scenario; the leaf's VmHWM | %s; %s | | |\n", fmtMiB(r.afterRSS), fmtMiB(r.leafHWM))
	if len(r.whoamiLate) > 0 && len(r.whoami) > 0 {
		early, _, _ := ratios(r.whoami)
		late, _, _ := ratios(r.whoamiLate)
		fmt.Printf("| whoami ratio after %d uses of one token ÷ early | **%.2f** (%.3f ÷ %.3f) | no slow-down (≥ 0.9) | %s |\n", r.tokenUses, late/early, late, early, met(late/early >= 0.9))
		ce, cl := cpuPerReq(r.whoami), cpuPerReq(r.whoamiLate)
		fmt.Printf("| … knot CPU per whoami, late ÷ early | %.2f (%s ÷ %s) | | |\n", float64(cl)/float64(max(ce, 1)), fmtDur(cl), fmtDur(ce))
	}
	fmt.Printf("| setup: start, first admin, %d templates, %d tokens | %s | | |\n", o.templates, o.tokens, fmtDur(r.setup))
	if len(r.soak) > 0 {
		var s []string
		for _, l := range r.soak {
			s = append(s, fmt.Sprintf("%.0f", l.rps()))
		}
		fmt.Printf("\nsoak (knot alone, req/s per wrk run): %s\n", strings.Join(s, ", "))
	}
	for _, f := range r.failures {
		fmt.Printf("\nNOT MEASURED, failed: %s\n", f)
	}
	fmt.Println("\nratio = knot req/s ÷ the mean of the yardstick runs just before and after it; the range divides by each of them.")
	fmt.Println("CPU/req = the server process's own utime+stime (/proc/PID/stat) during its run ÷ requests; wrk's CPU is not in it.")
	if len(h.profiles) > 0 {
		fmt.Println("\nProfiles (-perf; perf's sampling also costs the knot process a little CPU, so take figures from a run without it):")
	}
	for _, p := range h.profiles {
		fmt.Println()
		fmt.Println(p)
	}
}
