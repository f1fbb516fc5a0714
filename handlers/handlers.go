// Package handlers holds knot's HTTP layer: one Handlers value built from its
// dependencies, one file per feature, and routes.go listing every route.
// Handlers parse the request, call models, and render a templ view or JSON.
package handlers

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"gorm.io/gorm"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/feed"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/metrics"
	"github.com/knot-dev/knot/migrations"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

// Deps is everything the handlers need; nothing reaches for globals.
type Deps struct {
	DB       *gorm.DB
	Sessions *scs.SessionManager
	Config   *config.Config
	Logger   *slog.Logger
	Version  string
	// Now is the clock; tests replace it to move through days.
	Now func() time.Time
	// Leaf is the leaf-mode service; nil unless this server is a leaf.
	Leaf *leaf.Service
	// Vault seals what must be shown again later (API tokens) under
	// server.encrypt.
	Vault *vault.Vault
	// Metrics counts requests, sign-ins and refused tokens; nil counts
	// nothing.
	Metrics *metrics.Metrics
	// Hub wakes open leaf feeds when the change feed grows; nil serves no feed.
	Hub *feed.Hub
}

// Handlers serves every route.
type Handlers struct {
	db       *gorm.DB
	sessions *scs.SessionManager
	cfg      *config.Config
	vault    *vault.Vault
	log      *slog.Logger
	version  string
	now      func() time.Time
	logins   *loginLimiter
	leaf     *leaf.Service
	metrics  *metrics.Metrics
	hub      *feed.Hub
	// tokens caches bearer tokens and their owners; nil on a leaf.
	tokens *models.TokenCache
	// templateLists caches the JSON of template lists; nil on a leaf.
	templateLists *templateListCache
	// migrator is built once, on the first readiness probe.
	migrator func() (*migrations.Migrator, error)
	// setupDone caches "a first admin exists" once it becomes true; it
	// never goes back to false.
	setupDone atomic.Bool
	// sweeps counts the token sweeps that have ended, leafRecords the
	// writes of leaves' records (events.go).
	sweeps, leafRecords counter
}

// New builds the handlers from their dependencies.
func New(d Deps) *Handlers {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Handlers{
		migrator:      sync.OnceValues(func() (*migrations.Migrator, error) { return models.Migrator(d.DB) }),
		db:            d.DB,
		sessions:      d.Sessions,
		cfg:           d.Config,
		vault:         d.Vault,
		log:           slog.New(abortsAtDebug{d.Logger.Handler()}),
		version:       d.Version,
		now:           d.Now,
		logins:        newLoginLimiter(d.Config.Server.AuthIPRateLimiting, d.DB, d.Now),
		leaf:          d.Leaf,
		hub:           d.Hub,
		tokens:        tokenCacheFor(d.Leaf),
		templateLists: templateListCacheFor(d.Leaf, d.DB),
		metrics:       d.Metrics,
	}
}

// tokenCacheSize bounds the bearer token cache: tokens in active use, not
// every token ever made.
const tokenCacheSize = 10000

func tokenCacheFor(l *leaf.Service) *models.TokenCache {
	if l != nil {
		return nil
	}
	return models.NewTokenCache(tokenCacheSize)
}

func templateListCacheFor(l *leaf.Service, db *gorm.DB) *templateListCache {
	if l != nil {
		return nil
	}
	return newTemplateListCache(models.NewFeedBounds(db))
}

// truncate cuts s to at most n bytes, for what is logged or stored from
// a request (an address, a URL) whose length the client chooses.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
