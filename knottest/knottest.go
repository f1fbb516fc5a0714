// Package knottest starts real knot servers on 127.0.0.1 for tests: the real
// router, a real SQLite file in a temp dir, the real listener (TLS or not),
// and clients with cookie jars.
package knottest

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/knot-dev/knot/client"
	"github.com/knot-dev/knot/clock"
	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest/kit"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

// Clock is a settable clock for tests that move through days.
type Clock = clock.Fake

// NewClock starts a clock at a fixed instant.
func NewClock() *Clock {
	return clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
}

// Config returns a configuration for a test server: config.Local in its own
// temp data directory (and with KNOT_TEST_DB=postgres its own PostgreSQL
// database); tests of the sign-in limits turn them back on.
func Config(t testing.TB) config.Config {
	t.Helper()
	cfg := config.Local(t.TempDir())
	cfg.Server.Zone = "test-zone"
	if OnPostgres() {
		cfg.Server.Postgres = config.Postgres{Enabled: true, DSN: NewPostgresDatabase(t)}
	}
	if _, err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

// Instance is one running server.
type Instance struct {
	t      testing.TB
	Cfg    config.Config
	Clock  *Clock
	Server *server.Server
	URL    string
	Logs   *LogBuffer
	addr   string
	run    *server.Running
}

// Option changes how Start runs a server.
type Option func(*startOpts)

type startOpts struct {
	clock  *Clock
	timers bool
	addr   string
}

// WithClock makes the server read time from c. Its background jobs keep
// real timers, so moving c through days sweeps nothing behind the test's
// back.
func WithClock(c *Clock) Option { return func(o *startOpts) { o.clock = c } }

// WithTimersOn makes the server read time from c and run every timer of
// its background jobs on c too: they fire only when the test advances c.
// Wait for them with c.WaitForTimers before advancing.
func WithTimersOn(c *Clock) Option {
	return func(o *startOpts) { o.clock, o.timers = c, true }
}

// WithAddr listens on addr (to restart a server on the same port).
func WithAddr(addr string) Option { return func(o *startOpts) { o.addr = addr } }

// Start starts a server with cfg and stops it when the test ends.
func Start(t testing.TB, cfg config.Config, opts ...Option) *Instance {
	t.Helper()
	o := startOpts{addr: "127.0.0.1:0"}
	for _, fn := range opts {
		fn(&o)
	}
	if o.clock == nil {
		o.clock = NewClock()
	}
	logs := &LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var clk clock.Clock = o.clock
	if !o.timers {
		clk = clock.WithNow(o.clock.Now)
	}
	srv, err := server.New(context.Background(), cfg, log, server.Options{Clock: clk})
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		srv.Close()
		t.Fatalf("listen: %v", err)
	}
	inst := &Instance{t: t, Cfg: srv.Config(), Clock: o.clock, Server: srv, Logs: logs, addr: ln.Addr().String()}
	scheme := "http"
	if cfg.Server.TLS.UseTLS {
		scheme = "https"
	}
	inst.URL = scheme + "://" + inst.addr
	inst.run = srv.Run(context.Background(), ln)
	t.Cleanup(inst.Stop)
	return inst
}

// SessionCookie is the name of the server's session cookie.
func (i *Instance) SessionCookie() string { return server.SessionCookieName(i.Cfg.Server.URL) }

// Addr is the host:port the server listens on.
func (i *Instance) Addr() string { return i.addr }

// Stop shuts the server down and closes its database. Calling it twice is fine.
func (i *Instance) Stop() {
	if i.run == nil {
		return
	}
	run := i.run
	i.run = nil
	if err := run.Stop(); err != nil {
		i.t.Errorf("stop server: %v", err)
	}
}

// Client is a client.Client whose own methods (Do, Get, PostForm,
// JSONRequest) fail the test instead of returning errors; the ones it gets
// from client.Client return them. Its own cookie jar, no redirects
// followed, so tests see each 303.
type Client struct {
	t testing.TB
	*client.Client
}

// Client returns a new client (an empty cookie jar) for this server.
func (i *Instance) Client() *Client {
	c := client.New(i.URL, i.CertPool())
	i.t.Cleanup(c.CloseIdleConnections)
	return &Client{t: i.t, Client: c}
}

// On returns a client of the server at base that shares c's cookies and
// connections: one browser talking to another server (cookies do not care
// about ports).
func (c *Client) On(base string) *Client {
	other := *c.Client
	other.Base = base
	return &Client{t: c.t, Client: &other}
}

// ClientFrom returns a new client whose connections leave from localIP, so
// that a test can play people at different addresses: on Linux every
// 127.x.y.z address reaches a server listening on 127.0.0.1. Where the
// system cannot connect from localIP (macOS has only 127.0.0.1 unless told
// otherwise) the test is skipped, saying so.
func (i *Instance) ClientFrom(localIP string) *Client {
	i.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 5 * time.Second}
	probe, err := d.Dial("tcp", i.addr)
	if err != nil {
		i.t.Skipf("this system cannot connect from %s (%v); on macOS run `sudo ifconfig lo0 alias %s`", localIP, err, localIP)
	}
	probe.Close()
	c := i.Client()
	c.HTTP.Transport.(*http.Transport).DialContext = d.DialContext
	return c
}

// CertPool trusts this server's certificate (nil without TLS).
func (i *Instance) CertPool() *x509.CertPool {
	if !i.Cfg.Server.TLS.UseTLS {
		return nil
	}
	pemBytes, err := os.ReadFile(server.SelfSignedCertPath(&i.Cfg))
	if err != nil {
		i.t.Fatalf("read server certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	return pool
}

// Response is a finished response with its body read.
type Response struct {
	*http.Response
	Body string
}

// JSON decodes the body into v, failing the test on error.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("decode JSON %q: %v", r.Body, err)
	}
}

// Do sends a request; body is what client.Client.Send takes, headers are
// "Name: value" strings.
func (c *Client) Do(method, path string, body any, headers ...string) *Response {
	c.t.Helper()
	a, err := c.Send(context.Background(), method, path, body, headers...)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return &Response{Response: a.Response, Body: string(a.Body)}
}

// Get sends a GET.
func (c *Client) Get(path string, headers ...string) *Response {
	c.t.Helper()
	return c.Do(http.MethodGet, path, nil, headers...)
}

// PostForm sends a url-encoded form.
func (c *Client) PostForm(path string, form url.Values, headers ...string) *Response {
	c.t.Helper()
	return c.Do(http.MethodPost, path, form, headers...)
}

// JSONRequest sends body (marshalled unless it is a string) as JSON.
func (c *Client) JSONRequest(method, path string, body any, headers ...string) *Response {
	c.t.Helper()
	return c.Do(method, path, body, append([]string{"Content-Type: application/json"}, headers...)...)
}

// Admin credentials created by SetupAdmin.
const (
	AdminUsername = "admin"
	AdminEmail    = "admin@example.com"
	AdminPassword = "correct horse battery"
)

// SetupCode returns the server's initial setup code, as a person would
// copy it from the log, failing the test if there is none.
func (i *Instance) SetupCode() string {
	i.t.Helper()
	code, err := i.Server.SetupCode(context.Background())
	if err != nil {
		i.t.Fatalf("read the initial setup code: %v", err)
	}
	return code
}

// SetupAdmin completes the initial setup, setup code included, and returns
// a client signed in as the first admin.
func (i *Instance) SetupAdmin() *Client {
	i.t.Helper()
	c := i.Client()
	if err := c.Setup(context.Background(), i.SetupCode(), client.Account{Username: AdminUsername, Email: AdminEmail, Password: AdminPassword}); err != nil {
		i.t.Fatalf("initial setup: %v", err)
	}
	return c
}

// Login signs in a new client with email and password, failing the test
// unless the server accepts them.
func (i *Instance) Login(email, password string) *Client {
	i.t.Helper()
	c := i.Client()
	if err := c.SignIn(context.Background(), email, password); err != nil {
		i.t.Fatalf("sign in as %s: %v", email, err)
	}
	return c
}

// CreateUser adds an active user with the given roles directly in the
// database and returns its id. The password is hashed at bcrypt's lowest
// cost: sign-in checks any cost the same way, and at the server's cost the
// race detector makes each hash take about a second. Users the server
// creates itself (setup, the Users page, the API) keep the real cost.
func (i *Instance) CreateUser(username, email, password string, roleIDs ...uint) uint {
	i.t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		i.t.Fatal(err)
	}
	now := i.Clock.Now()
	u := models.User{Username: username, Email: email, PasswordHash: string(hash), Active: true, CreatedAt: now, UpdatedAt: now}
	db := i.Server.DB()
	if err := db.Create(&u).Error; err != nil {
		i.t.Fatalf("create user %s: %v", username, err)
	}
	for _, r := range roleIDs {
		if err := db.Exec(`INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)`, u.ID, r).Error; err != nil {
			i.t.Fatalf("give user %s role %d: %v", username, r, err)
		}
	}
	return u.ID
}

// CreateAPIToken creates an API token through POST /api/tokens as the
// client's user and returns its id and plaintext, failing the test unless
// the server answers 201.
func (c *Client) CreateAPIToken(name string) (uint, string) {
	c.t.Helper()
	res := c.JSONRequest(http.MethodPost, "/api/tokens", map[string]string{"name": name})
	if res.StatusCode != http.StatusCreated {
		c.t.Fatalf("create API token %q: status %d: %s", name, res.StatusCode, res.Body)
	}
	var out struct {
		ID    uint   `json:"id"`
		Token string `json:"token"`
	}
	res.JSON(c.t, &out)
	if out.ID == 0 || out.Token == "" {
		c.t.Fatalf("create API token %q: answer lacks id or token: %s", name, res.Body)
	}
	return out.ID, out.Token
}

// Created posts body as JSON, fails the test unless the server answers
// 201, and returns the new item's id.
func (c *Client) Created(path string, body any) uint {
	c.t.Helper()
	res := c.JSONRequest(http.MethodPost, path, body)
	if res.StatusCode != http.StatusCreated {
		c.t.Fatalf("POST %s: status %d: %s", path, res.StatusCode, res.Body)
	}
	var out struct {
		ID uint `json:"id"`
	}
	res.JSON(c.t, &out)
	return out.ID
}

// StartRefused builds a server with cfg, which the test expects to refuse
// to start, and returns the refusal. A server that starts after all is
// closed, and the test fails saying ifStarted.
func StartRefused(t testing.TB, cfg config.Config, ifStarted string) error {
	t.Helper()
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler), server.Options{})
	if err == nil {
		srv.Close()
		t.Fatal(ifStarted)
	}
	return err
}

// setupCodeLine finds the code in the line a server logs at start-up while
// no admin exists.
var setupCodeLine = regexp.MustCompile(`initial setup code: ([0-9A-Z]{4}(?:-[0-9A-Z]{4})+)`)

// SetupCodeIn returns the initial setup code that log announces (the last
// one, if it announces several), or "" if none.
func SetupCodeIn(log string) string {
	m := setupCodeLine.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// LogBuffer collects a server's log lines for assertions.
type LogBuffer = kit.LogBuffer

// AwaitTimers waits until c has at least n armed timers (the background
// work the test means to trigger is waiting on it), failing the test after
// 10s.
func AwaitTimers(t testing.TB, c *Clock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.WaitForTimers(ctx, n); err != nil {
		t.Fatalf("timed out waiting for %d timers on the test clock (%d armed)", n, c.Pending())
	}
}

// AwaitLeaf waits until cond holds, checking it now and at each status
// update of the leaf service l (every sync, applied change, failure and
// retry ends in one), failing the test after 20 s.
func AwaitLeaf(t testing.TB, l *leaf.Service, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := l.Await(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// AwaitSweeps waits until the server has ended n sweeps of expired tokens
// in all (Server.Sweeps says how many so far): the start-up one is the
// first. The 20 s bound only keeps a broken test from hanging.
func (i *Instance) AwaitSweeps(t testing.TB, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := i.Server.AwaitSweeps(ctx, n); err != nil {
		t.Fatalf("%v", err)
	}
}

// AwaitLeafRecord waits until cond holds, asking it now and each time this
// server (an origin) has written a leaf's record: a hello, a feed opened or
// closed, a refusal. The 20 s bound only keeps a broken test from hanging.
func (i *Instance) AwaitLeafRecord(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := i.Server.AwaitLeafRecords(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// Eventually polls cond every 20ms until it is true or 10s pass. Use it for
// background work, never for timing assertions.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
