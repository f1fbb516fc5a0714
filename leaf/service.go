package leaf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

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
	now      func() time.Time
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
func NewService(cfg *config.Config, db *gorm.DB, secrets *vault.Vault, log *slog.Logger, version string, now func() time.Time) (*Service, error) {
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
		now:      now,
		interval: cfg.Server.Origin.HeartbeatInterval.D(),
		kick:     make(chan struct{}, 1),
	}
	s.client.Store(client)
	s.status.s = Status{State: StateUnreachable, Message: fmt.Sprintf("Connecting to the origin %s…", client.Origin()), Since: now()}
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
		wait := max(s.Status().NextRetry.Sub(s.now()), minRetry)
		timer := time.NewTimer(min(wait, slowRetryCap))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
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
	hello, err := s.cl().Hello(ctx)
	if err != nil {
		return err
	}
	if err := s.refreshOwner(ctx, hello); err != nil {
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

	events := make(chan feedEvent)
	readErr := make(chan error, 1)
	go func() {
		for {
			ev, err := stream.next()
			if err != nil {
				readErr <- err
				return
			}
			select {
			case events <- ev:
			case <-linkCtx.Done():
				return
			}
		}
	}()

	idle := time.NewTimer(feedIdle)
	defer idle.Stop()
	heartbeat := time.NewTicker(s.interval)
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
		case <-idle.C:
			return &OriginError{State: StateUnreachable, Detail: fmt.Sprintf("the live feed went silent for %s", feedIdle)}
		case <-s.relink:
			return errRelink
		case <-heartbeat.C:
			// The hello keeps the token alive (every use resets its 14
			// days) and refreshes the owner's permissions.
			hello, err := s.cl().Hello(ctx)
			if err != nil {
				return err
			}
			if err := s.refreshOwner(ctx, hello); err != nil {
				return err
			}
		case <-s.kick:
			for _, kind := range []string{models.ChangeTemplates, models.ChangeVariables, models.ChangeRoles} {
				pending[kind] = true
			}
			if err := s.apply(ctx, pending, s.cursor.Load(), hello); err != nil {
				return err
			}
		case ev := <-events:
			idle.Reset(feedIdle)
			switch ev.Name {
			case EventResync:
				c, err := ev.cursor()
				if err != nil {
					return err
				}
				// Everything, then carry on from the origin's cursor.
				s.log.Info("leaf resyncing everything from the origin", "origin", s.cl().Origin(), "cursor", s.cursor.Load(), "origin_cursor", c)
				for _, kind := range []string{models.ChangeTemplates, models.ChangeVariables, models.ChangeRoles} {
					pending[kind] = true
				}
				if err := s.apply(ctx, pending, c, hello); err != nil {
					return err
				}
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
				if err := s.apply(ctx, pending, c, hello); err != nil {
					return err
				}
			}
		}
	}
}

// apply fetches what the pending kinds of change touched (templates and
// variables through their ETag endpoints, the owner through a hello),
// records cursor as applied and the link as connected. A failure leaves
// the cursor where it was, so the changes come again after reconnecting.
func (s *Service) apply(ctx context.Context, pending map[string]bool, cursor int64, hello *Hello) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if pending[models.ChangeRoles] || pending[models.ChangeUser] || pending[models.ChangeToken] {
		h, err := s.cl().Hello(ctx)
		if err != nil {
			return err
		}
		*hello = *h
		if err := s.refreshOwner(ctx, h); err != nil {
			return err
		}
	}
	if pending[models.ChangeTemplates] {
		if err := s.syncTemplates(ctx); err != nil {
			return err
		}
	}
	if pending[models.ChangeVariables] {
		if err := s.syncVariables(ctx); err != nil {
			return err
		}
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

// refreshOwner stores what the origin said about the token's owner.
func (s *Service) refreshOwner(ctx context.Context, hello *Hello) error {
	owner := hello.User
	if err := models.RefreshOriginUser(ctx, s.db, models.OriginUser{ID: owner.ID, Roles: owner.Roles, Permissions: owner.Permissions}, s.now().UTC()); err != nil {
		return localError("refresh the token owner's permissions", err)
	}
	return nil
}

// connected records a healthy link.
func (s *Service) connected(hello *Hello) {
	now := s.now().UTC()
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

func (s *Service) sync(ctx context.Context) error {
	hello, err := s.cl().Hello(ctx)
	if err != nil {
		return err
	}
	if err := s.refreshOwner(ctx, hello); err != nil {
		return err
	}
	if err := s.syncTemplates(ctx); err != nil {
		return err
	}
	if err := s.syncVariables(ctx); err != nil {
		return err
	}
	s.connected(hello)
	return nil
}

// syncTemplates refreshes the cached cluster templates: If-None-Match with
// the last ETag, a wholesale replace on 200.
func (s *Service) syncTemplates(ctx context.Context) error {
	etag, _, err := models.ClusterSyncState(ctx, s.db)
	if err != nil {
		return localError("read the template cache", err)
	}
	list, newETag, notModified, err := s.cl().Templates(ctx, etag)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if notModified {
		err = models.MarkClusterTemplatesFresh(ctx, s.db, now)
	} else {
		err = models.ReplaceClusterTemplates(ctx, s.db, toCache(list), newETag, now)
	}
	if err != nil {
		return localError("store the origin's templates", err)
	}
	return nil
}

// localError is a sync failure on this leaf's side, not the origin's.
func localError(what string, err error) error {
	return &OriginError{State: StateUnreachable, Local: true, Detail: fmt.Sprintf("this leaf could not %s: %v", what, err)}
}

// syncVariables refreshes the cached cluster variables like the templates:
// If-None-Match with the last ETag, a wholesale replace on 200.
func (s *Service) syncVariables(ctx context.Context) error {
	etag, err := models.ClusterVariablesETag(ctx, s.db)
	if err != nil {
		return localError("read the variable cache", err)
	}
	list, newETag, notModified, err := s.cl().Variables(ctx, etag)
	if err != nil {
		return err
	}
	if notModified {
		return nil
	}
	in := make([]models.ClusterVariableInput, 0, len(list))
	for _, v := range list {
		in = append(in, models.ClusterVariableInput{OriginID: v.ID, Name: v.Name, Value: v.Value, Zones: v.Zones, Protected: v.Protected, UpdatedAt: v.UpdatedAt})
	}
	if err := models.ReplaceClusterVariables(ctx, s.db, s.vault, in, newETag); err != nil {
		return localError("store the origin's variables", err)
	}
	return nil
}

func (s *Service) failed(err error) {
	state, msg := describe(err, s.cl().Origin())
	now := s.now()
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

func toCache(list []Template) []models.ClusterTemplate {
	out := make([]models.ClusterTemplate, 0, len(list))
	for _, t := range list {
		updated := t.UpdatedAt.UTC()
		zones := t.Zones
		if zones == nil {
			zones = []string{}
		}
		out = append(out, models.ClusterTemplate{
			OriginID: t.ID, Name: t.Name, Description: t.Description, Zones: zones,
			Active: t.Active, Body: t.Body, UpdatedAt: &updated,
		})
	}
	return out
}

// SignInError is a refused sign-in on a leaf: the HTTP status to answer
// with and the message to show beside the form.
type SignInError struct {
	Status     int
	Message    string
	RetryAfter time.Duration
}

func (e *SignInError) Error() string { return e.Message }

// Messages a person sees when a sign-in on the leaf is refused.
const (
	MsgBadCredentials = "The email or password is incorrect."
	msgDisabledHere   = "This account is disabled on this leaf. Ask the leaf's administrator to enable it."
	MsgOfflineUnknown = "The cluster cannot be reached right now. While it is away, only people who signed in on this leaf in the last 14 days can sign in."
)

// SignIn forwards a sign-in to the origin. When the origin accepts, the
// leaf keeps a local copy of the user (with a bcrypt of this password for
// offline use) and returns it. When the origin is unreachable, a user who
// signed in here through the origin within OfflineWindow may sign in with
// the same password. When the origin says no, the answer is no.
func (s *Service) SignIn(ctx context.Context, email, password string) (*models.User, error) {
	// What is not an address reaches no account here or on the origin: it
	// is not sent there.
	email, msg := models.NormalizeEmail(email)
	if msg != "" || password == "" {
		return nil, &SignInError{Status: http.StatusUnauthorized, Message: MsgBadCredentials}
	}
	if s.linkDown() {
		// The live link is down and retrying by itself (within seconds):
		// do not make a person wait on an origin that is known to be away.
		return s.offlineSignIn(ctx, email, password)
	}
	ans, err := s.cl().Authenticate(ctx, email, password)
	if err == nil {
		ou := ans.User
		// The old offline copy goes now (the password may have changed);
		// the new one is made after the answer, off the request path: the
		// origin's bcrypt is the one a person waits for.
		loginAt := s.now().UTC().Truncate(time.Microsecond)
		u, err := models.UpsertOriginUser(ctx, s.db, models.OriginUser{
			ID: ou.ID, Username: ou.Username, Email: ou.Email, Roles: ou.Roles, Permissions: ou.Permissions,
		}, "", loginAt)
		if err != nil {
			return nil, err
		}
		s.background.Go(func() { s.keepOfflinePassword(u.ID, loginAt, password, ans.PasswordCost) })
		if !s.Status().Healthy() {
			s.wake()
		}
		if !u.Active {
			return nil, &SignInError{Status: http.StatusForbidden, Message: msgDisabledHere}
		}
		return u, nil
	}
	var oe *OriginError
	if !errors.As(err, &oe) {
		return nil, err
	}
	switch {
	case requestRefused(oe):
		// The origin is up and said the request itself was wrong (too
		// large, malformed): that is nothing to do with the link, and
		// nothing a visitor's sign-in may use to flip the leaf's status.
		msg := oe.Message
		if msg == "" || len(msg) > 300 {
			msg = http.StatusText(oe.Status)
		}
		return nil, &SignInError{Status: http.StatusBadRequest, Message: "The cluster could not check this sign-in: " + msg}
	case oe.Status == http.StatusTooManyRequests:
		secs := max(int(oe.RetryAfter.Seconds()), 1)
		return nil, &SignInError{Status: http.StatusTooManyRequests, RetryAfter: oe.RetryAfter,
			Message: fmt.Sprintf("Too many sign-in attempts. Try again in %d seconds.", secs)}
	case oe.Code == CodeLoginRefused:
		if err := models.ForgetOfflinePassword(ctx, s.db, email); err != nil {
			s.log.Error("forget the offline password of a refused sign-in", "err", err)
		}
		msg := oe.Message
		if msg == "" || len(msg) > 300 {
			msg = MsgBadCredentials
		}
		status := http.StatusUnauthorized
		if oe.Status == http.StatusForbidden {
			status = http.StatusForbidden
		}
		return nil, &SignInError{Status: status, Message: msg}
	case oe.State == StateUnreachable, oe.State == StateUntrustedCertificate:
		// An origin whose certificate does not verify never saw the
		// password: for signing in it is as good as away.
		s.failed(err)
		return s.offlineSignIn(ctx, email, password)
	default:
		// The origin is there but will not serve this leaf: no offline
		// fallback, since the origin may have cut this leaf off on purpose.
		s.failed(err)
		// The sign-in page is for visitors: no origin address or settings
		// here; the signed-in status page has the detail.
		return nil, &SignInError{Status: http.StatusServiceUnavailable, Message: "Signing in through the cluster is not possible right now: this leaf is not connected to it. Ask the leaf's administrator to check its status."}
	}
}

// linkDown reports whether the link to the origin has failed since it last
// worked: then sign-ins are checked offline at once.
func (s *Service) linkDown() bool {
	s.failMu.Lock()
	down := s.failures > 0
	s.failMu.Unlock()
	// Only an origin that is away (or whose certificate fails, so that it
	// never sees a password) allows offline sign-in. One that said no (a
	// rejected token, leaf nodes disabled) must be asked again, and its
	// refusal stands.
	st := s.Status().State
	return down && (st == StateUnreachable || st == StateUntrustedCertificate)
}

// requestRefused reports whether the origin answered a sign-in check with a
// client error about the request itself, rather than a verdict on the
// credentials or a problem with the link or the token.
func requestRefused(oe *OriginError) bool {
	if oe.Status < 400 || oe.Status > 499 || oe.Code != "" {
		return false
	}
	switch oe.Status {
	case http.StatusUnauthorized, http.StatusNotFound, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return false
	}
	return true
}

// keepOfflinePassword stores this leaf's own bcrypt of a password the
// origin accepted, at no lower a cost than the origin's, for offline sign-in.
func (s *Service) keepOfflinePassword(userID uint, loginAt time.Time, password string, cost int) {
	hash, err := models.HashPasswordCost(password, cost)
	if err == nil {
		err = models.SetOfflinePassword(context.Background(), s.db, userID, loginAt, hash)
	}
	if err != nil {
		s.log.Error("keep the offline copy of a password the origin accepted", "user_id", userID, "err", err)
	}
}

// WaitBackground waits for work started after a sign-in (the offline
// password copy) to finish.
func (s *Service) WaitBackground() { s.background.Wait() }

func (s *Service) offlineSignIn(ctx context.Context, email, password string) (*models.User, error) {
	u, err := models.OfflineSignInCandidate(ctx, s.db, email, s.now().Add(-OfflineWindow))
	if errors.Is(err, models.ErrNotFound) {
		models.CheckPassword("", password) // same work as a real check
		return nil, &SignInError{Status: http.StatusServiceUnavailable, Message: MsgOfflineUnknown}
	}
	if err != nil {
		return nil, err
	}
	if !models.CheckPassword(u.OfflinePasswordHash, password) {
		return nil, &SignInError{Status: http.StatusUnauthorized, Message: MsgBadCredentials}
	}
	if !u.Active {
		return nil, &SignInError{Status: http.StatusForbidden, Message: msgDisabledHere}
	}
	s.log.Info("signed in while the origin is unreachable", "user_id", u.ID)
	return u, nil
}
