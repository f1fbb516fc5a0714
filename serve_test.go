package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// serverRun is `knot server --config F` run in this process, for the
// tests of what signals do: the signals they send reach it.
type serverRun struct {
	logs    *serverLog
	stopped chan struct{} // closed when run returns
	err     error         // what run returned, once stopped is closed
}

func runServer(cfgPath string) *serverRun {
	r := &serverRun{logs: newServerLog(), stopped: make(chan struct{})}
	go func() {
		defer close(r.stopped)
		r.err = run([]string{"server", "--config", cfgPath}, r.logs, r.logs)
	}()
	return r
}

// wait waits for run to return, as it should after SIGINT, and fails the
// test unless it returns nil.
func (r *serverRun) wait(t *testing.T) {
	t.Helper()
	awaitCleanStop(t, "SIGINT", r.stopped, &r.err, r.logs)
}

// awaitCleanStop waits for a server told to stop by signal to end (done is
// closed), and fails the test unless it ends without error (*err, set
// before done is closed).
func awaitCleanStop(t *testing.T, signal string, done <-chan struct{}, err *error, logs *serverLog) {
	t.Helper()
	select {
	case <-done:
		if *err != nil {
			t.Errorf("knot ended with %v after %s\n%s", *err, signal, logs.String())
		}
	case <-time.After(awaitLimit):
		t.Errorf("knot did not stop within %v of %s", awaitLimit, signal)
	}
}

// serverLog is a knot server's log that a test can wait on. Every write
// wakes the waiters, so a test waits for the line it needs rather than
// sleeping or polling. Writes come from the server's goroutines (or the
// pipe from a child process) while the test reads, hence the mutex.
type serverLog struct {
	mu      sync.Mutex
	buf     strings.Builder
	changed chan struct{} // closed, and replaced, by every write
}

func newServerLog() *serverLog { return &serverLog{changed: make(chan struct{})} }

func (l *serverLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return n, err
}

// String returns everything logged so far.
func (l *serverLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// awaitLimit only keeps a hung server from hanging the test run; waiting
// ends with the line, not with the time.
const awaitLimit = time.Minute

// await waits until the log matches re and returns the match with its
// groups. It fails the test if stopped (the server's end; nil when there
// is none to watch) is closed first: a log that is complete will not
// change any more.
func (l *serverLog) await(t *testing.T, re *regexp.Regexp, stopped <-chan struct{}) []string {
	t.Helper()
	limit := time.NewTimer(awaitLimit)
	defer limit.Stop()
	final := false
	for {
		l.mu.Lock()
		m := re.FindStringSubmatch(l.buf.String())
		changed := l.changed
		l.mu.Unlock()
		switch {
		case m != nil:
			return m
		case final:
			t.Fatalf("the server stopped before its log matched %s:\n%s", re, l.String())
		}
		select {
		case <-changed:
		case <-stopped:
			final, stopped = true, nil // one more look at the whole log
		case <-limit.C:
			t.Fatalf("the server's log did not match %s within %v:\n%s", re, awaitLimit, l.String())
		}
	}
}

// awaitText waits until the log contains text (see await).
func (l *serverLog) awaitText(t *testing.T, text string, stopped <-chan struct{}) {
	t.Helper()
	l.await(t, regexp.MustCompile(regexp.QuoteMeta(text)), stopped)
}

// startedLine is the line knot logs once it listens; its listen= is the
// real address, also when the configuration says port 0.
var startedLine = regexp.MustCompile(`msg="knot started" .*\blisten=(\S+)`)

// awaitListening waits for the server to log that it listens and returns
// the address. The tests configure 127.0.0.1:0 and learn the port here, so
// no port is picked in advance for another process to take in between.
// The listener is open when the line is written: a request sent now waits
// in its queue, however early.
func (l *serverLog) awaitListening(t *testing.T, stopped <-chan struct{}) string {
	t.Helper()
	return l.await(t, startedLine, stopped)[1]
}

// writeConfig writes a knot.toml for a plain-HTTP server on a port of the
// system's choosing (see awaitListening) with its data in a temp dir, and
// returns its path and the database's. extra goes into the [server]
// table: more of its keys, or tables of its own such as [server.origin].
func writeConfig(t *testing.T, extra string) (cfgPath, dbPath string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath = filepath.Join(dir, "knot.toml")
	dbPath = filepath.Join(dir, "data", "knot.db")
	if err := os.WriteFile(cfgPath, []byte(configText(dbPath, extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dbPath
}

// configText is the knot.toml that writeConfig writes.
func configText(dbPath, extra string) string {
	return `[server]
listen = "127.0.0.1:0"
url = "http://127.0.0.1"
` + extra + fmt.Sprintf(`
[server.tls]
use_tls = false
[server.sqlite]
path = %q
`, dbPath)
}
