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
	if testing.Short() {
		t.Skip("builds the knot binary and kills it mid-write; skipped under -short")
	}
	bin := buildKnot(t)

	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	dbPath := filepath.Join(dir, "data", "knot.db")
	cfgPath := filepath.Join(dir, "knot.toml")
	// max_tokens_per_user: the test makes up to 1,000 tokens, the default cap.
	err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`[server]
listen = %q
url = %q
max_tokens_per_user = 100000
[server.tls]
use_tls = false
[server.sqlite]
path = %q
[log]
level = "warn"
`, addr, base, dbPath)), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	first := startKnot(t, bin, cfgPath, base)

	// The setup code: the server logs it at info, which this config hides,
	// so ask the binary as an operator would.
	out, err := exec.Command(bin, "setup-code", "--config", cfgPath).Output()
	if err != nil {
		t.Fatalf("knot setup-code: %v", err)
	}
	code := strings.TrimSpace(string(out))
	if code == "" {
		t.Fatal("knot setup-code printed nothing")
	}
	anon := crashClient(t)
	res, body := crashDo(t, anon, http.MethodPost, base+"/initial-system-setup", "application/x-www-form-urlencoded", url.Values{
		"setup_code": {code}, "username": {knottest.AdminUsername}, "email": {knottest.AdminEmail},
		"password": {knottest.AdminPassword}, "confirm": {knottest.AdminPassword},
	}.Encode())
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("initial setup: %d %s\n%s", res.StatusCode, body, first.logs.String())
	}
	admin := crashClient(t)
	res, body = crashDo(t, admin, http.MethodPost, base+"/login", "application/x-www-form-urlencoded", url.Values{
		"email": {knottest.AdminEmail}, "password": {knottest.AdminPassword},
	}.Encode())
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", res.StatusCode, body)
	}

	// Writers create tokens until the server dies under them; every token
	// the server confirmed with 201 and a full body is recorded.
	var (
		mu        sync.Mutex
		confirmed []string
		other     = map[int]int{} // any answer but 201, by status
		count     atomic.Int64
		wg        sync.WaitGroup
	)
	enough := make(chan struct{})
	var enoughOnce sync.Once
	stop := make(chan struct{})
	for w := range crashWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
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
					mu.Lock()
					other[res.StatusCode]++
					mu.Unlock()
					continue
				}
				var tok struct {
					Token string `json:"token"`
				}
				if err := json.Unmarshal(b, &tok); err != nil || tok.Token == "" {
					t.Errorf("a 201 without a token: %q", b)
					return
				}
				mu.Lock()
				confirmed = append(confirmed, tok.Token)
				mu.Unlock()
				if count.Add(1) >= crashTokens {
					enoughOnce.Do(func() { close(enough) })
				}
			}
		}()
	}
	began := time.Now()
	select {
	case <-enough:
	case <-time.After(crashLoadLimit):
	}
	first.kill(t)
	loaded := time.Since(began)
	close(stop)
	wg.Wait()

	mu.Lock()
	tokens := append([]string(nil), confirmed...)
	refused := fmt.Sprint(other)
	mu.Unlock()
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

	second := startKnot(t, bin, cfgPath, base)
	checkIntegrity(t, dbPath, "after the restart")

	client := crashClient(t)
	var lost []string
	for _, tok := range tokens {
		req, err := http.NewRequest(http.MethodGet, base+"/api/users/whoami", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("whoami after the restart: %v\n%s", err, second.logs.String())
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			lost = append(lost, fmt.Sprintf("%s… (%d)", tok[:8], res.StatusCode))
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d tokens answered 201 before the kill do not authenticate after the restart: %s\nrestarted server's log:\n%s",
			len(lost), len(tokens), strings.Join(lost, ", "), second.logs.String())
	}
	second.terminate(t)
}

// buildKnot builds the real binary from the module root (the test's
// working directory) into a temp dir.
func buildKnot(t *testing.T) string {
	t.Helper()
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
	logs *knottest.LogBuffer
	done chan struct{}
	err  error // after done
}

// startKnot starts `knot server --config cfgPath` and waits until it
// answers /api/ping at base. The process is killed when the test ends, if
// it still runs.
func startKnot(t *testing.T, bin, cfgPath, base string) *knotProcess {
	t.Helper()
	p := &knotProcess{logs: &knottest.LogBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "server", "--config", cfgPath)
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start knot: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(t) })

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("knot exited before it answered: %v\n%s", p.err, p.logs.String())
		default:
		}
		res, err := http.Get(base + "/api/ping")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			p.kill(t)
			t.Fatalf("knot did not answer /api/ping within 30s: %v\n%s", err, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	case <-time.After(30 * time.Second):
		t.Error("knot did not die within 30s of SIGKILL")
	}
}

// terminate asks the process to stop with SIGTERM and waits for a clean exit.
func (p *knotProcess) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM knot: %v", err)
		return
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("knot exited with %v after SIGTERM\n%s", p.err, p.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Error("knot did not stop within 30s of SIGTERM")
	}
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
