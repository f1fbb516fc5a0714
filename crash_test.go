package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // database/sql driver "sqlite3"

	"github.com/knot-dev/knot/knottest"
)

// How much load the crash test puts on the server before killing it: it
// kills as soon as either bound is reached, while the writers still run.
// A thousand tokens fill SQLite's write-ahead log past its automatic
// checkpoint (1000 pages) more than once, so the kill may land in one.
const (
	crashWriters   = 8
	crashTokens    = 1000
	crashLoadLimit = time.Second
)

// A knot process killed with SIGKILL while it creates API tokens as fast as
// it can loses nothing it confirmed: after a restart on the same data
// directory, SQLite's integrity check passes and every token answered 201
// before the kill authenticates.
func TestAServerKilledWhileCreatingTokensLosesNoConfirmedTokenAndNoIntegrity(t *testing.T) {
	bin := buildKnot(t)
	// max_tokens_per_user: the test makes up to 1,000 tokens, the default cap.
	cfgPath, dbPath := writeConfig(t, "max_tokens_per_user = 100000\n")

	first := startKnot(t, bin, cfgPath)
	load := startTokenLoad(t, signedInAdmin(t, bin, cfgPath, first), first.base)
	began := time.Now()
	select {
	case <-load.enough:
	case <-time.After(crashLoadLimit):
	}
	first.kill(t)
	loaded := time.Since(began)
	tokens, refused := load.end()
	if refused != "map[]" {
		t.Errorf("the server answered token requests before the kill with other statuses than 201: %s\n%s", refused, first.logs.String())
	}
	if len(tokens) == 0 {
		t.Fatalf("no token was confirmed before the kill (other answers: %s)\n%s", refused, first.logs.String())
	}
	wal, _ := os.Stat(dbPath + "-wal")
	var walBytes int64
	if wal != nil {
		walBytes = wal.Size()
	}
	t.Logf("%d tokens confirmed in %v before SIGKILL, write-ahead log %d bytes (other answers: %s)", len(tokens), loaded.Round(time.Millisecond), walBytes, refused)

	// As the kill left it, before any server touches it again.
	checkIntegrity(t, dbPath, "as SIGKILL left it")

	// The restart listens on a new port of its own.
	second := startKnot(t, bin, cfgPath)
	checkIntegrity(t, dbPath, "after the restart")
	if lost := lostTokens(t, second, tokens); len(lost) > 0 {
		t.Fatalf("%d of %d tokens answered 201 before the kill do not authenticate after the restart: %s\nrestarted server's log:\n%s",
			len(lost), len(tokens), strings.Join(lost, ", "), second.logs.String())
	}
	second.terminate(t)
}

// signedInAdmin creates the first admin on p, with the setup code asked of
// the binary as an operator would, and returns a client signed in as them.
func signedInAdmin(t *testing.T, bin, cfgPath string, p *knotProcess) *http.Client {
	t.Helper()
	out, err := exec.Command(bin, "setup-code", "--config", cfgPath).Output()
	if err != nil {
		t.Fatalf("knot setup-code: %v", err)
	}
	code := strings.TrimSpace(string(out))
	if code == "" {
		t.Fatal("knot setup-code printed nothing")
	}
	res, body := crashDo(t, crashClient(t), http.MethodPost, p.base+"/initial-system-setup", "application/x-www-form-urlencoded", url.Values{
		"setup_code": {code}, "username": {knottest.AdminUsername}, "email": {knottest.AdminEmail},
		"password": {knottest.AdminPassword}, "confirm": {knottest.AdminPassword},
	}.Encode())
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("initial setup: %d %s\n%s", res.StatusCode, body, p.logs.String())
	}
	admin := crashClient(t)
	res, body = crashDo(t, admin, http.MethodPost, p.base+"/login", "application/x-www-form-urlencoded", url.Values{
		"email": {knottest.AdminEmail}, "password": {knottest.AdminPassword},
	}.Encode())
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", res.StatusCode, body)
	}
	return admin
}

// tokenLoad is crashWriters writers creating tokens until the server dies
// under them; every token the server confirmed with 201 and a full body is
// recorded.
type tokenLoad struct {
	enough     chan struct{} // closed once crashTokens are confirmed
	enoughOnce sync.Once
	stop       chan struct{}
	wg         sync.WaitGroup
	count      atomic.Int64

	mu        sync.Mutex
	confirmed []string
	other     map[int]int // any answer but 201, by status
}

func startTokenLoad(t *testing.T, admin *http.Client, base string) *tokenLoad {
	l := &tokenLoad{enough: make(chan struct{}), stop: make(chan struct{}), other: map[int]int{}}
	for w := range crashWriters {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.write(t, admin, base, w)
		}()
	}
	return l
}

// write is writer w's loop; it ends when the load stops or the server is
// gone.
func (l *tokenLoad) write(t *testing.T, admin *http.Client, base string, w int) {
	for n := 0; ; n++ {
		select {
		case <-l.stop:
			return
		default:
		}
		payload := fmt.Sprintf(`{"name":"crash-%d-%d"}`, w, n)
		req, err := http.NewRequest(http.MethodPost, base+"/api/tokens", strings.NewReader(payload))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := admin.Do(req)
		if err != nil {
			return // the server is gone
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return // cut off mid-answer: not confirmed
		}
		if res.StatusCode != http.StatusCreated {
			l.mu.Lock()
			l.other[res.StatusCode]++
			l.mu.Unlock()
			continue
		}
		var tok struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(b, &tok); err != nil || tok.Token == "" {
			t.Errorf("a 201 without a token: %q", b)
			return
		}
		l.mu.Lock()
		l.confirmed = append(l.confirmed, tok.Token)
		l.mu.Unlock()
		if l.count.Add(1) >= crashTokens {
			l.enoughOnce.Do(func() { close(l.enough) })
		}
	}
}

// end stops the writers and returns the confirmed tokens and the other
// answers by status.
func (l *tokenLoad) end() (tokens []string, other string) {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.confirmed...), fmt.Sprint(l.other)
}

// lostTokens returns the tokens that do not authenticate on p, each named
// by its start and the status it got.
func lostTokens(t *testing.T, p *knotProcess, tokens []string) []string {
	t.Helper()
	client := crashClient(t)
	var lost []string
	for _, tok := range tokens {
		req, err := http.NewRequest(http.MethodGet, p.base+"/api/users/whoami", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("whoami after the restart: %v\n%s", err, p.logs.String())
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			lost = append(lost, fmt.Sprintf("%s… (%d)", tok[:8], res.StatusCode))
		}
	}
	return lost
}

// buildKnot builds the real binary from the module root (the test's
// working directory) into a temp dir. Building takes long, so under -short
// the test is skipped.
func buildKnot(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the knot binary; skipped under -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the crash test builds the knot binary, and there is no go command on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "knot")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// knotProcess is a knot server running as a child process.
type knotProcess struct {
	cmd  *exec.Cmd
	logs *serverLog
	base string // http://127.0.0.1:port, as the process logged it
	done chan struct{}
	err  error // after done
}

// startKnot starts `knot server --config cfgPath`, whose log level must
// show the start-up line (info), and returns once the server answers
// /api/ping. The process is killed when the test ends, if it still runs.
func startKnot(t *testing.T, bin, cfgPath string) *knotProcess {
	t.Helper()
	p := &knotProcess{logs: newServerLog(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, "server", "--config", cfgPath)
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start knot: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(t) })

	p.base = "http://" + p.logs.awaitListening(t, p.done)
	res, err := http.Get(p.base + "/api/ping")
	if err != nil {
		t.Fatalf("knot logged that it listens, but /api/ping fails: %v\n%s", err, p.logs.String())
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/api/ping answered %d\n%s", res.StatusCode, p.logs.String())
	}
	return p
}

// kill sends SIGKILL (if the process still runs) and waits for it.
func (p *knotProcess) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Errorf("kill knot: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(awaitLimit):
		t.Errorf("knot did not die within %v of SIGKILL", awaitLimit)
	}
}

// terminate asks the process to stop with SIGTERM and waits for a clean exit.
func (p *knotProcess) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM knot: %v", err)
		return
	}
	awaitCleanStop(t, "SIGTERM", p.done, &p.err, p.logs)
}

// checkIntegrity opens the SQLite database read-only and runs PRAGMA
// integrity_check, which must answer the single row "ok".
func checkIntegrity(t *testing.T, path, when string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		t.Fatalf("open %s read-only %s: %v", path, when, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("integrity_check %s: %v", when, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("integrity_check %s: %v", when, err)
	}
	if len(lines) != 1 || lines[0] != "ok" {
		t.Fatalf("the database is corrupt %s: integrity_check says %q", when, lines)
	}
	var tokens int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM api_tokens").Scan(&tokens); err != nil {
		t.Fatalf("count tokens %s: %v", when, err)
	}
	t.Logf("integrity_check %s: ok, %d token rows", when, tokens)
}

// crashClient is an HTTP client with a cookie jar that does not follow
// redirects.
func crashClient(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, MaxIdleConnsPerHost: crashWriters}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Jar:           jar,
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func crashDo(t *testing.T, c *http.Client, method, u, contentType, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	io.Copy(&b, res.Body)
	return res, b.String()
}
