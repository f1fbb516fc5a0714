package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// server is a child process the harness measures: a knot binary or the
// yardstick.
type server struct {
	name string
	cmd  *exec.Cmd
	pid  int
	url  string // https://127.0.0.1:PORT
	log  string // its stdout and stderr, "" for the yardstick
	done chan struct{}
	err  error // set when done closes
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop asks the process to shut down (SIGTERM) and waits up to 25 s,
// then kills it.
func (s *server) stop() {
	if s == nil || s.exited() {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited meanwhile
	select {
	case <-s.done:
	case <-time.After(25 * time.Second):
		s.cmd.Process.Kill() //nolint:errcheck // best effort
		<-s.done
	}
}

// cpu is the process's user + system CPU time so far.
func (s *server) cpu() (time.Duration, error) {
	t, err := procCPUTicks(s.pid)
	if err != nil {
		return 0, err
	}
	return time.Duration(t) * time.Second / time.Duration(clkTck), nil
}

// mem is the process's current and peak resident set and the private (not
// file-backed) part of the current one, in bytes, read at one moment.
func (s *server) mem() (rss, hwm, anon int64, err error) {
	r, h, a, err := procMemKB(s.pid)
	return r << 10, h << 10, a << 10, err
}

// logTail is the last n lines of the process's log, for error messages.
func (s *server) logTail(n int) string {
	if s == nil || s.log == "" {
		return ""
	}
	b, err := os.ReadFile(s.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n  last lines of " + s.log + ":\n    " + strings.Join(lines, "\n    ")
}

// freePort finds a free TCP port on 127.0.0.1. Another process could take
// it before knot listens; on a test machine that is rare, and start-up
// then fails loudly.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// knotNode is one knot server's data directory and configuration; it
// may be started several times (cold starts).
type knotNode struct {
	name string
	dir  string // holds knot.toml, knot.log and data/
	port int
	url  string
}

func (n *knotNode) config() string   { return filepath.Join(n.dir, "knot.toml") }
func (n *knotNode) certFile() string { return filepath.Join(n.dir, "data", "knot-selfsigned.crt") }

// newKnotNode writes a knot.toml: TLS on (the self-signed certificate is
// generated into the data directory), listening on a free 127.0.0.1
// port, sign-in rate limits off (the harness signs in from one address
// more often than they allow), the default log level. origin, when set,
// is the [server.origin] table of a leaf.
func newKnotNode(parent, name, origin string) (*knotNode, error) {
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	n := &knotNode{name: name, dir: dir, port: port, url: fmt.Sprintf("https://127.0.0.1:%d", port)}
	toml := fmt.Sprintf(`# written by bench/ratio
[server]
listen = "127.0.0.1:%d"
url = %q
auth_ip_rate_limiting = false

[server.tls]
use_tls = true

[server.sqlite]
path = %q

[log]
level = "info"
%s`, port, n.url, filepath.Join(dir, "data", "knot.db"), origin)
	return n, os.WriteFile(n.config(), []byte(toml), 0o600)
}

// start execs the knot binary on the node's configuration. It does not
// wait for the server to answer.
func (n *knotNode) start(ctx context.Context, bin string) (*server, error) {
	logPath := filepath.Join(n.dir, "knot.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, bin, "server", "--config", n.config())
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	// Only the configuration file speaks: no KNOT_* variable from the
	// caller's environment leaks in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KNOT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{name: n.name, cmd: cmd, pid: cmd.Process.Pid, url: n.url, log: logPath, done: make(chan struct{})}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	return s, nil
}

// startReady starts n's knot from bin and waits until it answers, at most
// limit; it returns the process and how long after the start it answered.
func (n *knotNode) startReady(ctx context.Context, bin string, limit time.Duration) (*server, time.Duration, error) {
	t := time.Now()
	s, err := n.start(ctx, bin)
	if err != nil {
		return nil, 0, err
	}
	d, err := waitReady(ctx, s, t, limit)
	if err != nil {
		s.stop()
		return nil, 0, err
	}
	return s, d, nil
}

// waitReady polls GET /api/ping until it answers 200, and returns how
// long after since that was.
func waitReady(ctx context.Context, s *server, since time.Time, limit time.Duration) (time.Duration, error) {
	c := newClient(s.url, false)
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(limit)
	for {
		a, err := c.Send(ctx, http.MethodGet, "/api/ping", nil)
		if err == nil && a.StatusCode == http.StatusOK {
			return time.Since(since), nil
		}
		if s.exited() {
			return 0, fmt.Errorf("%s exited before answering: %v%s", s.name, s.err, s.logTail(15))
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s did not answer GET /api/ping within %s (last: %v)%s", s.name, limit, err, s.logTail(15))
		}
		time.Sleep(500 * time.Microsecond)
	}
}

var setupCodeLine = regexp.MustCompile(`initial setup code: ([0-9A-Z]{4}(?:-[0-9A-Z]{4})+)`)

// setupCode reads the code from the line knot logs at start while no
// admin exists.
func setupCode(s *server) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(s.log)
		if err != nil {
			return "", err
		}
		if m := setupCodeLine.FindSubmatch(b); m != nil {
			return string(m[1]), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("no %q line in %s%s", "initial setup code: ", s.log, s.logTail(15))
}

// startYardstick execs the yardstick and waits for its "listening on".
// Its standard input is a pipe the harness holds: the yardstick stops
// when it closes.
func startYardstick(ctx context.Context, bin string) (*server, error) {
	cmd := exec.CommandContext(ctx, bin, "-listen", "127.0.0.1:0", "-stop-on-stdin-eof")
	cmd.SysProcAttr = childAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stderr = os.Stderr
	if _, err := cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{name: "yardstick", cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
		close(addr)
	}()
	go func() { s.err = cmd.Wait(); close(s.done) }()
	select {
	case a, ok := <-addr:
		if !ok {
			s.stop()
			return nil, errors.New("the yardstick exited without listening")
		}
		s.url = "https://" + a
	case <-time.After(10 * time.Second):
		s.stop()
		return nil, errors.New("the yardstick did not start within 10s")
	}
	if _, err := waitReady(ctx, s, time.Now(), 10*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}
