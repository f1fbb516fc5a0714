package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the throwaway database

	"github.com/knot-dev/knot/client"
	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/server"
)

// ---- servers ----

// node is one knot server running in this process on 127.0.0.1.
type node struct {
	name   string
	cfg    config.Config // as the server runs with it (key filled in)
	srv    *server.Server
	ln     *killableListener
	addr   string
	url    string
	run    *server.Running
	closed bool
}

// baseConfig is a server with its data directory under dataDir, TLS with a
// self-signed certificate, no sign-in rate limits.
func baseConfig(dataDir string) config.Config {
	cfg := config.Local(dataDir)
	cfg.Server.TLS.UseTLS = true
	cfg.Server.Zone = "bench-zone"
	return cfg
}

// startNode serves cfg on addr: 127.0.0.1:0 for any free port (taken
// first: the configuration names it), or a fixed one to restart a server
// where it was, which is then opened after server.New as `knot` does, so
// that nothing answers there until the server is ready.
func startNode(name string, cfg config.Config, addr string, logw io.Writer) (*node, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		return nil, fmt.Errorf("%s: refusing to listen on %q: loopback only", name, addr)
	}
	var raw net.Listener
	bound := addr
	if port == "0" {
		if raw, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("%s: listen: %w", name, err)
		}
		bound = raw.Addr().String()
	}
	closeRaw := func() {
		if raw != nil {
			raw.Close()
		}
	}
	cfg.Server.Listen = bound
	scheme := "http"
	if cfg.Server.TLS.UseTLS {
		scheme = "https"
	}
	cfg.Server.URL = scheme + "://" + bound
	if _, err := cfg.Validate(); err != nil {
		closeRaw()
		return nil, fmt.Errorf("%s: config: %w", name, err)
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug})).With("server", name)
	srv, err := server.New(context.Background(), cfg, log, server.Options{})
	if err != nil {
		closeRaw()
		return nil, fmt.Errorf("%s: start: %w", name, err)
	}
	if raw == nil {
		if raw, err = listenRetry(addr); err != nil {
			srv.Close()
			return nil, fmt.Errorf("%s: listen: %w", name, err)
		}
	}
	if ip := raw.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		raw.Close()
		srv.Close()
		return nil, fmt.Errorf("%s: listener on %s is not loopback", name, raw.Addr())
	}
	ln := newKillable(raw)
	n := &node{name: name, cfg: srv.Config(), srv: srv, ln: ln, addr: bound, url: cfg.Server.URL}
	n.run = srv.Run(context.Background(), ln)
	return n, nil
}

// listenRetry listens on addr, retrying for a few seconds when a fixed port
// is still held (a restart right after a stop).
func listenRetry(addr string) (net.Listener, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts the server down gracefully (what SIGTERM does: open feeds end
// first, in-flight requests finish) and closes its database.
func (n *node) stop() error {
	if n.closed {
		return nil
	}
	n.closed = true
	return n.run.Stop()
}

// kill does what the kernel does to a killed process's sockets: the
// listener and every open connection close at once, nothing is shut down
// in order. reap then closes the rest, so that the data directory can be
// opened again, as by a new process.
func (n *node) kill() {
	n.ln.kill()
}

// reap closes what a kill left of the server (the database, background
// jobs). Serve has already returned: its listener is gone.
func (n *node) reap() {
	if n.closed {
		return
	}
	n.closed = true
	// Serve has returned "use of closed network connection", as expected.
	n.run.Stop() //nolint:errcheck // the server is dead either way
}

// certPool trusts the self-signed certificates of the given configurations.
func certPool(cfgs ...config.Config) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, c := range cfgs {
		pemBytes, err := os.ReadFile(server.SelfSignedCertPath(&c))
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("%s holds no certificate", server.SelfSignedCertPath(&c))
		}
	}
	return pool, nil
}

// ---- a listener that can be killed or silenced ----

// killableListener tracks the raw TCP connections it accepted (under
// TLS), so that they can all be closed at once (kill) or made to carry
// nothing either way while staying open (silence: a link that died
// without a FIN or RST, such as a network cut).
type killableListener struct {
	net.Listener
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	killed bool
	silent bool
}

func newKillable(ln net.Listener) *killableListener {
	return &killableListener{Listener: ln, conns: map[*trackedConn]struct{}{}}
}

func (k *killableListener) Accept() (net.Conn, error) {
	c, err := k.Listener.Accept()
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.killed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, k: k}
	k.conns[tc] = struct{}{}
	return tc, nil
}

func (k *killableListener) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.killed = true
	k.Listener.Close()
	for c := range k.conns {
		c.Conn.Close()
	}
	clear(k.conns)
}

// setSilent silences every connection, open and new; un-silencing closes
// the ones that were silent (their TLS streams lost bytes and are broken).
func (k *killableListener) setSilent(on bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.silent = on
	if !on {
		for c := range k.conns {
			c.Conn.Close()
		}
		clear(k.conns)
	}
}

func (k *killableListener) isSilent() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.silent
}

type trackedConn struct {
	net.Conn
	k *killableListener
}

func (c *trackedConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if err != nil || !c.k.isSilent() {
			return n, err
		}
		// Silent: what the peer sent never arrives.
	}
}

func (c *trackedConn) Write(p []byte) (int, error) {
	if c.k.isSilent() {
		return len(p), nil // lost on the way
	}
	return c.Conn.Write(p)
}

func (c *trackedConn) Close() error {
	c.k.mu.Lock()
	delete(c.k.conns, c)
	c.k.mu.Unlock()
	return c.Conn.Close()
}

// ---- HTTP ----

// newClient calls the servers' API by whole URLs, with bearer tokens (no
// cookies); without keep-alive, each request opens a new connection.
func newClient(roots *x509.CertPool, keepAlive bool) *client.Client {
	c := client.New("", roots)
	c.HTTP.Jar = nil
	c.HTTP.Transport.(*http.Transport).DisableKeepAlives = !keepAlive
	return c
}

// setUpAdmin completes the initial setup on n (setup code included) and
// returns two API tokens of the first admin: one for the leaf, one for
// the harness's own calls.
func setUpAdmin(ctx context.Context, n *node, roots *x509.CertPool) (leafToken, apiToken string, err error) {
	code, err := n.srv.SetupCode(ctx)
	if err != nil {
		return "", "", fmt.Errorf("read the setup code: %w", err)
	}
	c := client.New(n.url, roots)
	defer c.CloseIdleConnections()
	if err := c.Setup(ctx, code, client.Account{Username: "admin", Email: "admin@example.com", Password: "admin password 1"}); err != nil {
		return "", "", fmt.Errorf("initial setup: %w", err)
	}
	if leafToken, err = c.CreateToken(ctx, "bench leaf"); err != nil {
		return "", "", err
	}
	if apiToken, err = c.CreateToken(ctx, "bench API"); err != nil {
		return "", "", err
	}
	return leafToken, apiToken, nil
}

// linkedLeaf is a leaf connected to its origin, with what the harness
// needs to make changes the leaf should see.
type linkedLeaf struct {
	*node
	roots    *x509.CertPool // trusts every server's self-signed certificate
	apiToken string         // the admin's, for the servers' HTTP API
}

// startLeaf completes the initial setup on servers[0], starts a leaf named
// name whose origin is the last of servers, with one of the admin's
// tokens, and waits until it is connected: every measurement starts from
// a working link. what names the leaf in the error when it never connects.
func startLeaf(ctx context.Context, dir, name, what string, logw io.Writer, servers ...*node) (linkedLeaf, error) {
	var cfgs []config.Config
	for _, s := range servers {
		cfgs = append(cfgs, s.cfg)
	}
	roots, err := certPool(cfgs...)
	if err != nil {
		return linkedLeaf{}, err
	}
	leafToken, apiToken, err := setUpAdmin(ctx, servers[0], roots)
	if err != nil {
		return linkedLeaf{}, err
	}
	origin := servers[len(servers)-1]
	cfg := baseConfig(filepath.Join(dir, name))
	cfg.Server.Origin.Server = config.URLList(origin.url)
	cfg.Server.Origin.Token = leafToken
	cfg.Server.Origin.CAFile = server.SelfSignedCertPath(&origin.cfg)
	lf, err := startNode(name, cfg, "127.0.0.1:0", logw)
	if err != nil {
		return linkedLeaf{}, err
	}
	svc := lf.srv.Leaf()
	if _, err := waitUntil(ctx, stateWait, connected(svc)); err != nil {
		err = fmt.Errorf("%s never connected: %w (status %+v)", what, err, svc.Status())
		lf.stop() //nolint:errcheck // the run is over
		return linkedLeaf{}, err
	}
	return linkedLeaf{node: lf, roots: roots, apiToken: apiToken}, nil
}

// ---- PostgreSQL ----

// throwawayDatabase creates a database with a random name on the
// PostgreSQL server adminDSN names, and returns its DSN and the function
// that drops it.
func throwawayDatabase(ctx context.Context, adminDSN string) (string, func() error, error) {
	u, err := url.Parse(adminDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, errors.New("the PostgreSQL DSN must be a postgres:// URL")
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "knot_bench_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", adminDSN)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(cctx, `CREATE DATABASE `+name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop := func() error {
		db, err := sql.Open("pgx", adminDSN)
		if err != nil {
			return err
		}
		defer db.Close()
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = db.ExecContext(dctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		return err
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}
