package leaf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/clock"
	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

// OfflineWindow is how long after a sign-in through the origin a user may
// still sign in on the leaf while the origin is unreachable.
const OfflineWindow = 14 * 24 * time.Hour

// Reconnecting: the first retry comes after about a second, each later one
// waits about twice as long, up to fastRetryCap during the first
// fastRetryFor of an outage (an origin that comes back is in use again
// within seconds) and up to slowRetryCap after it. Never faster than
// minRetry, so a dead origin is not hammered.
const (
	minRetry     = time.Second
	fastRetryCap = 4 * time.Second
	fastRetryFor = 10 * time.Minute
	slowRetryCap = 30 * time.Second
)

// feedIdle is how long the open feed may stay silent: the origin pings
// every two seconds, so this is a few missed pings (a dead or half-open
// link), after which the leaf reconnects.
const feedIdle = 5 * time.Second

// Service runs a leaf's side of leaf mode.
type Service struct {
	// client is swapped whole by Reconfigure (a new token or origin list).
	client  atomic.Pointer[Client]
	version string
	// relink asks the loop to drop the current link and connect again at
	// once, with the new client.
	relink chan struct{}
	db     *gorm.DB
	// vault re-seals the origin's protected variables under this leaf's
	// own server.encrypt before they are cached.
	vault    *vault.Vault
	log      *slog.Logger
	clock    clock.Clock
	interval time.Duration

	status tracker
	// syncMu serialises syncs so the loop and a test's manual Sync never
	// interleave their writes to the cache.
	syncMu sync.Mutex
	// failMu guards failures: sign-ins report failures from request
	// goroutines while a sync may be resetting the count.
	failMu   sync.Mutex
	failures int
	// outageStart is when the current run of failures began.
	outageStart time.Time
	kick        chan struct{}
	// cursor is the last change of the origin's feed applied here.
	cursor atomic.Int64
	// background is work a sign-in started after answering; Run waits
	// for it before returning, so the database outlives it.
	background sync.WaitGroup
}

// NewService builds the leaf service for cfg, which must be in leaf mode.
// Its retries, heartbeat and feed watchdog run on clk.
func NewService(cfg *config.Config, db *gorm.DB, secrets *vault.Vault, log *slog.Logger, version string, clk clock.Clock) (*Service, error) {
	client, err := NewClient(cfg, version)
	if err != nil {
		return nil, err
	}
	s := &Service{
		version:  version,
		relink:   make(chan struct{}, 1),
		db:       db,
		vault:    secrets,
		log:      log,
		clock:    clk,
		interval: cfg.Server.Origin.HeartbeatInterval.D(),
		kick:     make(chan struct{}, 1),
	}
	s.client.Store(client)
	s.status.s = Status{State: StateUnreachable, Message: fmt.Sprintf("Connecting to the origin %s…", client.Origin()), Since: clk.Now()}
	if _, last, err := models.ClusterSyncState(context.Background(), db); err == nil {
		s.status.s.LastSync = last
	}
	s.status.logger = func(st Status) {
		if st.Healthy() {
			log.Info("leaf connected to origin", "origin", s.cl().Origin(), "origin_version", st.OriginVersion)
			return
		}
		log.Warn("leaf not connected to origin", "state", st.State, "message", st.Message, "next_retry", st.NextRetry.Format(time.RFC3339))
	}
	return s, nil
}

// cl is the current origin client.
func (s *Service) cl() *Client { return s.client.Load() }

// errRelink ends a link that Reconfigure replaced; it is no failure.
var errRelink = errors.New("the origin settings changed")

// Reconfigure takes a new origin list, token or CA from cfg (a reloaded
// knot.toml) and reconnects with them at once. An unusable setting (an
// unreadable ca_file) is refused and the running link stays.
func (s *Service) Reconfigure(cfg *config.Config) error {
	c, err := NewClient(cfg, s.version)
	if err != nil {
		return err
	}
	s.client.Store(c)
	s.failMu.Lock()
	s.failures = 0
	s.failMu.Unlock()
	select {
	case s.relink <- struct{}{}:
	default:
	}
	return nil
}

// Status returns the current connection status.
func (s *Service) Status() Status { return s.status.get() }

// Await returns once cond holds, checking it now and again after every
// status update (each sync, applied change, failure and retry ends in
// one), or ctx's error when ctx ends first: a wait on the leaf's own
// events, for tests and for anything that must see the leaf catch up.
func (s *Service) Await(ctx context.Context, cond func() bool) error {
	for {
		woken := s.status.next()
		if cond() {
			return nil
		}
		select {
		case <-woken:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Origin is the origin's URL.
func (s *Service) Origin() string { return s.cl().Origin() }

// Origins is every configured origin server, in the order failover tries them.
func (s *Service) Origins() []string { return s.cl().Origins() }

// Run holds the live link to the origin until ctx ends: hello, then the
// change feed, applying each change as it arrives; when the link breaks it
// retries with backoff and jitter, moving to the next configured origin
// server after each failure.
func (s *Service) Run(ctx context.Context) {
	defer s.background.Wait()
	for {
		err := s.link(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errRelink) {
			continue
		}
		s.failed(err)
		if oe := (*OriginError)(nil); errors.As(err, &oe) && oe.State == StateUnreachable && !oe.Local {
			s.cl().Failover()
		}
		wait := max(s.Status().NextRetry.Sub(s.clock.Now()), minRetry)
		timer := s.clock.NewTimer(min(wait, slowRetryCap))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C():
		case <-s.kick:
			timer.Stop()
		case <-s.relink:
			timer.Stop()
		}
	}
}

// Cursor is the last change of the origin's feed this leaf applied.
func (s *Service) Cursor() int64 { return s.cursor.Load() }

// RetryNow asks the loop to reconnect (or, while connected, to fetch
// everything again) at once.
func (s *Service) RetryNow() { s.wake() }

// link says hello, opens the feed from the stored cursor and applies what
// it carries until the link breaks; it returns why.
func (s *Service) link(ctx context.Context) error {
	hello, err := s.greet(ctx)
	if err != nil {
		return err
	}
	cursor, err := models.FeedCursor(ctx, s.db)
	if err != nil {
		return localError("read the feed cursor", err)
	}
	s.cursor.Store(cursor)
	linkCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := s.cl().OpenFeed(linkCtx, cursor)
	if err != nil {
		return err
	}
	defer stream.Close()
	events, readErr := stream.events(linkCtx)

	idle := s.clock.NewTimer(feedIdle)
	defer idle.Stop()
	heartbeat := s.clock.NewTicker(s.interval)
	defer heartbeat.Stop()
	pending := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if oe := (*OriginError)(nil); errors.As(err, &oe) {
				return err
			}
			return &OriginError{State: StateUnreachable, Detail: "the live feed broke off (" + rootCause(err) + ")"}
		case <-idle.C():
			return &OriginError{State: StateUnreachable, Detail: fmt.Sprintf("the live feed went silent for %s", feedIdle)}
		case <-s.relink:
			return errRelink
		case <-heartbeat.C():
			// The hello keeps the token alive (every use resets its 14
			// days) and refreshes the owner's permissions.
			if _, err := s.greet(ctx); err != nil {
				return err
			}
		case <-s.kick:
			markEverything(pending)
			if err := s.apply(ctx, pending, s.cursor.Load(), hello); err != nil {
				return err
			}
		case ev := <-events:
			idle.Reset(feedIdle)
			if err := s.onEvent(ctx, ev, pending, hello); err != nil {
				return err
			}
		}
	}
}

// onEvent handles one event of the feed: a change is noted in pending,
// and the ping that ends each batch (or a resync) applies what is pending.
func (s *Service) onEvent(ctx context.Context, ev feedEvent, pending map[string]bool, hello *Hello) error {
	switch ev.Name {
	case EventResync:
		c, err := ev.cursor()
		if err != nil {
			return err
		}
		// Everything, then carry on from the origin's cursor.
		s.log.Info("leaf resyncing everything from the origin", "origin", s.cl().Origin(), "cursor", s.cursor.Load(), "origin_cursor", c)
		markEverything(pending)
		return s.apply(ctx, pending, c, hello)
	case EventChange:
		var fc FeedChange
		if json.Unmarshal(ev.Data, &fc) != nil || fc.Kind == "" {
			return &OriginError{State: StateUnreachable, Detail: "the origin's change event is not what a knot origin sends"}
		}
		pending[fc.Kind] = true
	case EventPing:
		// A ping ends every batch of changes: apply the batch, then
		// record the cursor the origin reached.
		c, err := ev.cursor()
		if err != nil {
			return err
		}
		return s.apply(ctx, pending, c, hello)
	}
	return nil
}

// markEverything marks every kind of change that a full fetch covers: the
// owner's roles and every mirror.
func markEverything(pending map[string]bool) {
	pending[models.ChangeRoles] = true
	for _, m := range mirrors {
		pending[m.kind] = true
	}
}

// apply fetches what the pending kinds of change touched, records cursor
// as applied and the link as connected. A failure leaves the cursor where
// it was, so the changes come again after reconnecting.
func (s *Service) apply(ctx context.Context, pending map[string]bool, cursor int64, hello *Hello) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if err := s.fetch(ctx, pending, hello); err != nil {
		return err
	}
	clear(pending)
	if cursor != s.cursor.Load() {
		if err := models.SetFeedCursor(ctx, s.db, cursor); err != nil {
			return localError("record the feed cursor", err)
		}
		s.cursor.Store(cursor)
	}
	s.connected(hello)
	return nil
}

// fetch fetches what the pending kinds of change touched: the owner
// through a hello (which it stores in hello), templates and variables
// through their ETag endpoints.
func (s *Service) fetch(ctx context.Context, pending map[string]bool, hello *Hello) error {
	if pending[models.ChangeRoles] || pending[models.ChangeUser] || pending[models.ChangeToken] {
		h, err := s.greet(ctx)
		if err != nil {
			return err
		}
		*hello = *h
	}
	for _, m := range mirrors {
		if pending[m.kind] {
			if err := m.sync(ctx, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// greet says hello and stores what the origin said about the token's
// owner.
func (s *Service) greet(ctx context.Context) (*Hello, error) {
	hello, err := s.cl().Hello(ctx)
	if err != nil {
		return nil, err
	}
	owner := hello.User
	if err := models.RefreshOriginUser(ctx, s.db, models.OriginUser{ID: owner.ID, Roles: owner.Roles, Permissions: owner.Permissions}, s.clock.Now().UTC()); err != nil {
		return nil, localError("refresh the token owner's permissions", err)
	}
	return hello, nil
}

// connected records a healthy link.
func (s *Service) connected(hello *Hello) {
	now := s.clock.Now().UTC()
	s.failMu.Lock()
	s.failures = 0
	s.failMu.Unlock()
	s.status.set(StateConnected, fmt.Sprintf("Connected to the origin %s.", s.cl().Origin()), now, func(st *Status) {
		st.LastSync = now
		st.NextRetry = time.Time{}
		st.OriginName, st.OriginVersion = hello.Name, hello.Version
	})
}

// Sync says hello (the heartbeat, which also keeps the token alive) and
// refreshes the template cache, then the variable cache, each revalidating
// with its own cached ETag. A failure at any step marks the status the same
// way and leaves the last good copies in place.
func (s *Service) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	// Every failure, the origin's or this leaf's own (a full disk), goes
	// through failed: logged once, shown in the status, retried with backoff.
	if err := s.sync(ctx); err != nil {
		if ctx.Err() != nil {
			// Shutting down: the origin is not to blame, and the status
			// is about to stop mattering.
			return ctx.Err()
		}
		s.failed(err)
		return err
	}
	return nil
}

// sync fetches everything, as if every kind of change were pending.
func (s *Service) sync(ctx context.Context) error {
	pending := map[string]bool{}
	markEverything(pending)
	var hello Hello
	if err := s.fetch(ctx, pending, &hello); err != nil {
		return err
	}
	s.connected(&hello)
	return nil
}

// localError is a sync failure on this leaf's side, not the origin's.
func localError(what string, err error) error {
	return &OriginError{State: StateUnreachable, Local: true, Detail: fmt.Sprintf("this leaf could not %s: %v", what, err)}
}

func (s *Service) failed(err error) {
	state, msg := describe(err, s.cl().Origin())
	now := s.clock.Now()
	s.failMu.Lock()
	s.failures++
	n := s.failures
	if n == 1 {
		s.outageStart = now
	}
	ceiling := fastRetryCap
	if now.Sub(s.outageStart) >= fastRetryFor {
		ceiling = slowRetryCap
	}
	s.failMu.Unlock()
	delay := min(minRetry<<min(n-1, 10), ceiling)
	// Jitter in [delay/2, delay] so that many leaves do not reconnect in
	// lockstep when the origin comes back; never under minRetry.
	delay = max(delay/2+time.Duration(rand.Int64N(int64(delay/2)+1)), minRetry)
	s.status.set(state, msg, now, func(st *Status) { st.NextRetry = now.Add(delay) })
}

// wake asks the loop to sync now (the origin answered a sign-in while the
// status said it was away).
func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
