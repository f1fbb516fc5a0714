package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// wrkScript prints wrk's summary as one JSON line; latencies are in µs.
const wrkScript = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%.1f,"p90":%.1f,"p99":%.1f,"max":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`

type wrkSummary struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"` // answers other than 2xx and 3xx
	Timeout    int64   `json:"timeout"`
	P50        float64 `json:"p50"`
	P90        float64 `json:"p90"`
	P99        float64 `json:"p99"`
	Max        float64 `json:"max"`
}

// load is one wrk run against one server, with that server's CPU time.
type load struct {
	target string
	wrkSummary
	cpu time.Duration // the server process's own CPU time during the run
}

func (l load) rps() float64 {
	if l.DurationUS == 0 {
		return 0
	}
	return float64(l.Requests) / (float64(l.DurationUS) / 1e6)
}

func (l load) cpuPerReq() time.Duration { return l.cpu / time.Duration(max(l.Requests, 1)) }
func (l load) p50() time.Duration       { return time.Duration(l.P50 * float64(time.Microsecond)) }
func (l load) p99() time.Duration       { return time.Duration(l.P99 * float64(time.Microsecond)) }

// loadSpec says how to drive one run.
type loadSpec struct {
	path     string
	d        time.Duration
	threads  int
	conns    int
	headers  []string
	perfName string // when -perf: profile the server during the run under this name
}

// runWrk drives s with wrk and reads the server's CPU time around it.
func (h *harness) runWrk(ctx context.Context, s *server, spec loadSpec) (load, error) {
	args := []string{"-t", strconv.Itoa(spec.threads), "-c", strconv.Itoa(spec.conns),
		"-d", fmt.Sprintf("%ds", max(1, int(spec.d.Round(time.Second)/time.Second))), "--timeout", "10s", "-s", h.wrkLua}
	for _, hd := range spec.headers {
		args = append(args, "-H", hd)
	}
	args = append(args, s.url+spec.path)
	var perf *exec.Cmd
	var perfData string
	if h.o.perf && spec.perfName != "" {
		perfData = filepath.Join(h.tmp, spec.perfName+".perf.data")
		perf = exec.CommandContext(ctx, "perf", "record", "-q", "-F", "499", "-p", strconv.Itoa(s.pid), "-o", perfData,
			"--", "sleep", strconv.Itoa(max(1, int(spec.d/time.Second))))
		perf.SysProcAttr = childAttr()
		if err := perf.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "ratio: perf record: %v (profiles skipped)\n", err)
			perf = nil
		}
	}
	c0, err := s.cpu()
	if err != nil {
		return load{}, err
	}
	cmd := exec.CommandContext(ctx, h.o.wrk, args...)
	cmd.SysProcAttr = childAttr()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	c1, cerr := s.cpu()
	if perf != nil {
		perf.Wait() //nolint:errcheck // the report says whether it worked
		h.perfReport(spec.perfName, perfData)
	}
	if err != nil {
		return load{}, fmt.Errorf("wrk %s: %v: %s%s", strings.Join(args, " "), err, errb.String(), out.String())
	}
	if cerr != nil {
		return load{}, fmt.Errorf("%s: %w (did it exit?)%s", s.name, cerr, s.logTail(10))
	}
	l := load{target: s.name, cpu: c1 - c0}
	for _, line := range strings.Split(out.String(), "\n") {
		if j, ok := strings.CutPrefix(line, "WRKJSON "); ok {
			if err := json.Unmarshal([]byte(j), &l.wrkSummary); err != nil {
				return load{}, fmt.Errorf("wrk summary %q: %w", j, err)
			}
		}
	}
	if l.Requests == 0 {
		return load{}, fmt.Errorf("wrk against %s%s completed no requests:\n%s%s%s", s.name, spec.path, out.String(), errb.String(), s.logTail(10))
	}
	if bad := l.Connect + l.Read + l.Write + l.Status + l.Timeout; bad > 0 {
		return load{}, fmt.Errorf("wrk against %s%s: %d of %d requests failed (connect %d, read %d, write %d, non-2xx/3xx %d, timeout %d)%s",
			s.name, spec.path, bad, l.Requests, l.Connect, l.Read, l.Write, l.Status, l.Timeout, s.logTail(10))
	}
	h.progress("  %-10s %-22s %8.0f req/s  p50 %-9s p99 %-9s server CPU/req %s", s.name, spec.path, l.rps(), fmtDur(l.p50()), fmtDur(l.p99()), fmtDur(l.cpuPerReq()))
	return l, nil
}

// perfReport summarises a perf recording of the knot process: where its
// CPU went by kind of work, and the hottest symbols.
func (h *harness) perfReport(name, data string) {
	out, err := exec.Command("perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "sym", "--percent-limit", "0").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ratio: perf report %s: %v\n", name, err)
		return
	}
	buckets := map[string]float64{}
	var top []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasSuffix(f[0], "%") || !strings.HasPrefix(f[1], "[") {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		sym := strings.Join(f[2:], " ")
		buckets[bucket(f[1], sym)] += pct
		if len(top) < 12 {
			top = append(top, fmt.Sprintf("%6.2f%%  %s", pct, sym))
		}
	}
	type kv struct {
		k string
		v float64
	}
	var bs []kv
	for k, v := range buckets {
		bs = append(bs, kv{k, v})
	}
	slices.SortFunc(bs, func(a, b kv) int { return cmp.Compare(b.v, a.v) })
	var lines []string
	for _, b := range bs {
		if b.v >= 0.5 {
			lines = append(lines, fmt.Sprintf("%6.1f%%  %s", b.v, b.k))
		}
	}
	h.profiles = append(h.profiles, fmt.Sprintf("%s — knot process CPU by kind (perf, 499 Hz):\n    %s\n  hottest symbols:\n    %s",
		name, strings.Join(lines, "\n    "), strings.Join(top, "\n    ")))
}

// bucket names the kind of work a symbol does.
func bucket(kind, sym string) string {
	has := func(prefixes ...string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(sym, p) {
				return true
			}
		}
		return false
	}
	switch {
	case kind == "[k]":
		return "kernel (syscalls, network, scheduling)"
	case has("sqlite3", "pcache", "btree", "vdbe"):
		return "SQLite (C)"
	case has("runtime.gc", "runtime.scan", "runtime.mark", "runtime.sweep", "runtime.malloc", "runtime.(*mspan)", "runtime.(*mheap)",
		"runtime.(*mcentral)", "runtime.(*mcache)", "runtime.(*gcWork)", "runtime.(*gcBits)", "runtime.greyobject", "runtime.findObject",
		"runtime.tryDeferToSpanScan", "runtime.wbBuf", "runtime.bulkBarrier", "runtime.typePointers", "runtime.heapBits", "runtime.memclr",
		"runtime.newobject", "runtime.makeslice", "runtime.growslice", "runtime.(*spanSet)", "runtime.(*pageAlloc)", "runtime.spanOf",
		"runtime.(*gcControllerState)", "runtime.nextFreeFast", "runtime.(*mspan).", "runtime.deductAssistCredit", "runtime.(*sweepLocked)"):
		return "Go allocation and GC"
	case has("runtime.cgocall", "runtime.asmcgocall", "runtime.cgocallback", "runtime.exitsyscall", "runtime.entersyscall", "_cgo_"):
		return "cgo and syscall crossings"
	case has("runtime.memmove", "runtime.memequal", "runtime.mapaccess", "runtime.mapassign", "runtime.map", "internal/runtime/maps", "runtime.concat", "runtime.slicebytetostring", "runtime.strhash", "runtime.aeshash", "runtime.memhash", "runtime.efaceeq", "runtime.convT", "runtime.assertE2I", "runtime.typeAssert", "runtime.ifaceeq", "runtime.cmpstring"):
		return "Go runtime: copies, maps, strings, interfaces"
	case has("runtime.", "internal/runtime", "sync.", "sync/atomic", "internal/sync", "internal/poll", "time."):
		return "Go runtime: scheduler, locks, timers, poller"
	case has("crypto/", "vendor/golang.org/x/crypto", "golang.org/x/crypto", "aes", "gcm", "sha256", "p256"):
		return "crypto (TLS records, hashing)"
	case has("encoding/json", "github.com/bytedance/sonic", "github.com/goccy", "github.com/go-json-experiment"):
		return "JSON"
	case has("gorm.io/"):
		return "gorm"
	case has("database/sql"):
		return "database/sql"
	case has("github.com/mattn/go-sqlite3"):
		return "go-sqlite3 (Go side)"
	case has("reflect.", "internal/reflectlite"):
		return "reflect"
	case has("github.com/gin-gonic", "github.com/gin-contrib"):
		return "gin"
	case has("github.com/alexedwards/scs"):
		return "scs sessions"
	case has("net/http", "vendor/golang.org/x/net/http", "net/textproto", "net/url", "mime"):
		return "net/http"
	case has("net.", "syscall.", "os.", "bufio.", "io."):
		return "net, syscall, bufio, io (Go side)"
	case has("github.com/a-h/templ", "html/template", "html."):
		return "HTML rendering (templ, html)"
	case has("github.com/VictoriaMetrics/metrics"):
		return "metrics"
	case has("github.com/knot-dev/knot/"):
		return "knot's own packages"
	case has("strings.", "bytes.", "strconv.", "fmt.", "unicode", "sort.", "slices.", "internal/bytealg", "regexp", "encoding/base64", "encoding/hex", "math"):
		return "strings, bytes, fmt, strconv"
	case !strings.Contains(sym, ".") && !strings.Contains(sym, "/"):
		return "other C (libc; SQLite static functions)"
	}
	return "other Go"
}
