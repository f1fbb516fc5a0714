// Package server assembles a knot server from its configuration: database,
// migrations, sessions, handlers, TLS and background jobs. main.go and the
// tests both start servers through it, so they run the same thing.
package server

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"gorm.io/gorm"

	"github.com/knot-dev/knot/clock"
	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/feed"
	"github.com/knot-dev/knot/handlers"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

// Version is knot's version, reported by `knot version` and /api/ping.
var Version = "0.1.0"

// Options are what tests vary; the zero value is right for production.
type Options struct {
	// Clock is what the handlers read the time from and what the
	// background jobs' timers run on; nil means the system clock.
	Clock clock.Clock
}

// Server is one running knot server.
type Server struct {
	cfg   config.Config
	log   *slog.Logger
	db    *gorm.DB
	vault *vault.Vault
	hub   *feed.Hub
	// lock keeps other knot processes off this data directory.
	lock *dataLock
	// stopStore stops the session store's cleanup of expired sessions.
	stopStore func()
	handlers  *handlers.Handlers
	handler   http.Handler
	tlsCert   *tls.Certificate
	leaf      *leaf.Service
	clock     clock.Clock
	// jobsMu guards stopJobs, so that Start and Close may race.
	jobsMu   sync.Mutex
	stopJobs context.CancelFunc
	jobs     sync.WaitGroup
	metrics  metricsListener
}

// New builds a server: it opens and migrates the database, fills in the
// encryption key and certificate, and wires the handlers. It starts no
// work of its own: Start runs the background jobs, Serve answers requests.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (*Server, error) {
	lock, err := lockDataDir(cfg.DataDir(), cfg.Server.SQLite.Path)
	if err != nil {
		return nil, err
	}
	s, err := build(ctx, cfg, log, opts)
	if err != nil {
		lock.release()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func build(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = clock.System()
	}
	secrets, err := openVault(&cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, vault: secrets, clock: opts.Clock}
	if cfg.Server.TLS.UseTLS {
		cert, err := loadCertificate(&cfg, log)
		if err != nil {
			return nil, err
		}
		s.tlsCert = &cert
	}
	db, err := models.Open(ctx, databaseSource(&cfg))
	if err != nil {
		return nil, err
	}
	s.db = db
	if err := checkKey(ctx, db, secrets); err != nil {
		models.Close(db)
		return nil, err
	}
	warnUnusableEmails(ctx, db, log)
	if !cfg.IsLeaf() {
		if err := announceSetupCode(ctx, &cfg, db, secrets, log); err != nil {
			models.Close(db)
			return nil, err
		}
	}
	sqlDB, err := db.DB()
	if err != nil {
		models.Close(db)
		return nil, err
	}

	sessions, stopStore := newSessions(&cfg, db, sqlDB, log)
	s.stopStore = stopStore

	var leafSvc *leaf.Service
	if cfg.IsLeaf() {
		if leafSvc, err = leaf.NewService(&s.cfg, db, secrets, log, Version, opts.Clock); err != nil {
			models.Close(db)
			return nil, err
		}
	}
	m, err := s.setupMetrics(sqlDB, leafSvc, opts.Clock.Now)
	if err != nil {
		s.stopStore()
		models.Close(db)
		return nil, err
	}
	// A leaf serves no feed of its own; an origin's hub wakes the feeds
	// its leaves hold open.
	var hub *feed.Hub
	if !cfg.IsLeaf() {
		listen := ""
		if cfg.Server.Postgres.Enabled {
			listen = cfg.Server.Postgres.DSN
		}
		hub = feed.New(db, listen, log, opts.Clock)
	}
	s.hub = hub
	h := handlers.New(handlers.Deps{
		Hub:      hub,
		Metrics:  m,
		Leaf:     leafSvc,
		DB:       db,
		Sessions: sessions,
		Config:   &s.cfg,
		Vault:    secrets,
		Logger:   log,
		Version:  Version,
		Now:      opts.Clock.Now,
	})
	s.handlers = h
	s.handler = h.Routes()
	s.leaf = leafSvc
	return s, nil
}

// Start runs the background jobs until ctx is cancelled or Close is
// called: the sweep of expired API tokens, on an origin the watch for new
// changes that wakes its leaves' feeds, and on a leaf the live link to its
// origin. A second call does nothing.
func (s *Server) Start(ctx context.Context) {
	s.jobsMu.Lock()
	defer s.jobsMu.Unlock()
	if s.stopJobs != nil {
		return
	}
	ctx, s.stopJobs = context.WithCancel(ctx)
	if s.leaf != nil {
		s.jobs.Go(func() { s.leaf.Run(ctx) })
	}
	if s.hub != nil {
		s.jobs.Go(func() { s.hub.Run(ctx) })
	}
	s.jobs.Go(func() { s.handlers.SweepLoop(ctx, s.clock) })
}

// newSessions is the session manager, its store in the server's database;
// stop ends the store's cleanup of expired sessions.
func newSessions(cfg *config.Config, db *gorm.DB, sqlDB *sql.DB, log *slog.Logger) (sessions *scs.SessionManager, stop func()) {
	sessions = scs.New()
	if models.IsPostgres(db) {
		store := postgresstore.NewWithCleanupInterval(sqlDB, 10*time.Minute)
		sessions.Store, stop = store, store.StopCleanup
	} else {
		store := sqlite3store.NewWithCleanupInterval(sqlDB, 10*time.Minute)
		sessions.Store, stop = store, store.StopCleanup
	}
	sessions.Lifetime = 7 * 24 * time.Hour
	// No scs IdleTimeout: it rewrites the session row on every request.
	// The handlers enforce server.session_idle_timeout themselves and record
	// activity at most once a minute (see handlers.identify).
	sessions.Cookie.Name = SessionCookieName(cfg.Server.URL)
	sessions.Cookie.HttpOnly = true
	sessions.Cookie.SameSite = http.SameSiteLaxMode
	sessions.Cookie.Secure = cfg.Server.TLS.UseTLS
	sessions.Cookie.Persist = true
	sessions.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		if models.IsUnavailable(err) {
			log.Warn("session store: the database is unavailable", "err", err)
			w.Header().Set("Retry-After", "5")
			http.Error(w, "The database is unavailable; try again shortly.", http.StatusServiceUnavailable)
			return
		}
		log.Error("session store", "err", err)
		http.Error(w, "The session store failed; try again in a moment.", http.StatusInternalServerError)
	}
	return sessions, stop
}

// warnUnusableEmails names the accounts whose stored email nobody can sign
// in with (see models.UsersWithUnusableEmail), so that an administrator
// gives each an address of its own. A failed check is no reason not to start.
func warnUnusableEmails(ctx context.Context, db *gorm.DB, log *slog.Logger) {
	users, err := models.UsersWithUnusableEmail(ctx, db)
	if err != nil {
		log.Warn("could not check the stored email addresses", "err", err)
		return
	}
	for _, u := range users {
		log.Warn("this account's stored email is not a plain address in normal form (or another account has it in that form), so nobody can sign in with it; give it a new address on the Users page",
			"user_id", u.ID, "username", u.Username)
	}
}

// databaseSource is the database the configuration names: PostgreSQL when
// server.postgres.enabled, else the SQLite file.
func databaseSource(cfg *config.Config) models.Source {
	if cfg.Server.Postgres.Enabled {
		return models.Source{PostgresDSN: cfg.Server.Postgres.DSN}
	}
	return models.Source{SQLitePath: cfg.Server.SQLite.Path}
}

// Config is the configuration the server runs with (encryption key filled in).
func (s *Server) Config() config.Config { return s.cfg }

// Leaf is the leaf-mode service, nil unless this server is a leaf.
func (s *Server) Leaf() *leaf.Service { return s.leaf }

// AwaitSweeps waits until n sweeps of expired tokens in all have ended (see
// Sweeps), or ctx ends.
func (s *Server) AwaitSweeps(ctx context.Context, n int) error {
	return s.handlers.AwaitSweeps(ctx, n)
}

// Sweeps is how many sweeps of expired tokens have ended so far: the one
// at start, the ticker's and SweepTokens's.
func (s *Server) Sweeps() int {
	return s.handlers.Sweeps()
}

// AwaitLeafRecords waits until cond holds, asking it now and each time
// this origin has written a leaf's record, or until ctx ends.
func (s *Server) AwaitLeafRecords(ctx context.Context, cond func() bool) error {
	return s.handlers.AwaitLeafRecords(ctx, cond)
}

// SweepTokens deletes the API tokens expired by the server's clock now, as
// the background job does, and returns how many it deleted. Tests call it
// to sweep at a chosen instant instead of waiting for the ticker.
func (s *Server) SweepTokens(ctx context.Context) (int64, error) {
	return s.handlers.SweepTokens(ctx)
}

// DB is the server's database, for tests and tools.
func (s *Server) DB() *gorm.DB { return s.db }

// TLSConfig is the server's TLS configuration, or nil without TLS.
func (s *Server) TLSConfig() *tls.Config {
	if s.tlsCert == nil {
		return nil
	}
	return &tls.Config{Certificates: []tls.Certificate{*s.tlsCert}, MinVersion: tls.VersionTLS12}
}

// httpServer is an http.Server for h whose slow or idle clients cannot
// hold a connection for long: a minute to send a request (the largest body
// knot takes is a few MiB) and to be answered. A leaf's live feed outlives
// that; it clears its own write deadline. The server's own complaints
// (a failed TLS handshake, a bad request line) are about clients, so they
// are logged at debug.
func (s *Server) httpServer(h http.Handler, maxHeaderBytes int) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// Serve answers on ln until ctx is cancelled, then shuts down gracefully:
// in-flight requests get up to 20 seconds to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.httpServer(s.handler, 64<<10)
	if tc := s.TLSConfig(); tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	if s.hub != nil {
		// Shutdown waits for handlers to return; open leaf feeds would hold
		// it for its whole timeout, so they end first.
		srv.RegisterOnShutdown(s.hub.Shutdown)
	}
	// Shutdown waits five seconds on connections that were opened but
	// have not sent a request (an HTTP client's spare dial, a TLS handshake
	// never followed up): they have nothing in flight, so they go at once,
	// once Shutdown has closed the listener (its hooks run after that).
	fresh := newFreshConns()
	srv.ConnState = fresh.track
	srv.RegisterOnShutdown(fresh.closeAll)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	stopMetrics := s.serveMetrics()
	defer stopMetrics()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops the background jobs, waits for them (they use the
// database), and closes the database. It works whether Start ran or not.
func (s *Server) Close() error {
	s.jobsMu.Lock()
	if s.stopJobs != nil {
		s.stopJobs()
	}
	// The database is about to close: a late Start must run nothing.
	s.stopJobs = func() {}
	s.jobsMu.Unlock()
	s.jobs.Wait()
	if s.leaf != nil {
		// A sign-in may have left work behind even if Start never ran.
		s.leaf.WaitBackground()
	}
	s.stopStore()
	s.closeMetricsListener()
	err := models.Close(s.db)
	s.lock.release()
	return err
}

// Reload applies a re-read knot.toml to the running server: a leaf takes
// the new origin list, token and CA at once and reconnects. Settings that
// only a restart can change are named in the returned notes; a setting
// that cannot be applied (leaf mode switched on or off, an unusable CA
// file) is an error, and the running configuration stays.
func (s *Server) Reload(next config.Config) (notes []string, err error) {
	if next.IsLeaf() != s.cfg.IsLeaf() {
		return nil, errors.New("switching leaf mode on or off (server.origin.server and server.origin.token) needs a restart")
	}
	cur := s.cfg.Server
	for key, changed := range map[string]bool{
		"server.listen":                next.Server.Listen != cur.Listen,
		"server.url":                   next.Server.URL != cur.URL,
		"server.sqlite.path":           next.Server.SQLite.Path != cur.SQLite.Path,
		"server.postgres":              next.Server.Postgres != cur.Postgres,
		"server.tls":                   next.Server.TLS != cur.TLS,
		"server.metrics.listen":        next.Server.Metrics != cur.Metrics,
		"server.cluster":               next.Server.Cluster != cur.Cluster,
		"server.ui":                    next.Server.UI != cur.UI,
		"server.zone":                  next.Server.Zone != cur.Zone,
		"server.encrypt":               next.Server.Encrypt != "" && next.Server.Encrypt != cur.Encrypt,
		"server.session_idle_timeout":  next.Server.SessionIdleTimeout != cur.SessionIdleTimeout,
		"server.setup_from_loopback":   next.Server.SetupFromLoopback != cur.SetupFromLoopback,
		"server.max_sessions_per_user": next.Server.MaxSessionsPerUser != cur.MaxSessionsPerUser,
	} {
		if changed {
			notes = append(notes, key+" changed; it takes effect at the next restart")
		}
	}
	slices.Sort(notes)
	if s.leaf != nil {
		if err := s.leaf.Reconfigure(&next); err != nil {
			return notes, err
		}
	}
	return notes, nil
}

// freshConns tracks the connections that have not sent a request yet.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newFreshConns() *freshConns { return &freshConns{conns: map[net.Conn]struct{}{}} }

func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st == http.StateNew {
		f.conns[c] = struct{}{}
	} else {
		delete(f.conns, c)
	}
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}
