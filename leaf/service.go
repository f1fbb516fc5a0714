package leaf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/vault"
)

// OfflineWindow is how long after a sign-in through the origin a user may
// still sign in on the leaf while the origin is unreachable.
const OfflineWindow = 14 * 24 * time.Hour

// Backoff bounds for reconnecting: the first retry comes after about a
// second, each later one waits twice as long, never more than the cap.
const (
	backoffBase = time.Second
	backoffCap  = 2 * time.Minute
)

// Service runs a leaf's side of leaf mode.
type Service struct {
	client *Client
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
	kick     chan struct{}
}

// NewService builds the leaf service for cfg, which must be in leaf mode.
func NewService(cfg *config.Config, db *gorm.DB, secrets *vault.Vault, log *slog.Logger, version string, now func() time.Time) (*Service, error) {
	client, err := NewClient(cfg, version)
	if err != nil {
		return nil, err
	}
	s := &Service{
		client:   client,
		db:       db,
		vault:    secrets,
		log:      log,
		now:      now,
		interval: cfg.Server.Origin.HeartbeatInterval.D(),
		kick:     make(chan struct{}, 1),
	}
	s.status.s = Status{State: StateUnreachable, Message: fmt.Sprintf("Connecting to the origin %s…", client.Origin()), Since: now()}
	if _, last, err := models.ClusterSyncState(context.Background(), db); err == nil {
		s.status.s.LastSync = last
	}
	s.status.logger = func(st Status) {
		if st.Healthy() {
			log.Info("leaf connected to origin", "origin", client.Origin(), "origin_version", st.OriginVersion)
			return
		}
		log.Warn("leaf not connected to origin", "state", st.State, "message", st.Message, "next_retry", st.NextRetry.Format(time.RFC3339))
	}
	return s, nil
}

// Status returns the current connection status.
func (s *Service) Status() Status { return s.status.get() }

// Origin is the origin's URL.
func (s *Service) Origin() string { return s.client.Origin() }

// Run syncs at start, then every heartbeat interval while connected, and
// with exponential backoff and jitter while not, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	for {
		wait := s.interval
		if err := s.Sync(ctx); err != nil {
			wait = s.Status().NextRetry.Sub(s.now())
			wait = max(min(wait, backoffCap), backoffBase/2)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-s.kick:
			timer.Stop()
		}
	}
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
	hello, err := s.client.Hello(ctx)
	if err != nil {
		return err
	}
	owner := hello.User
	if err := models.RefreshOriginUser(ctx, s.db, models.OriginUser{ID: owner.ID, Roles: owner.Roles, Permissions: owner.Permissions}, s.now().UTC()); err != nil {
		return localError("refresh the token owner's permissions", err)
	}
	etag, _, err := models.ClusterSyncState(ctx, s.db)
	if err != nil {
		return localError("read the template cache", err)
	}
	list, newETag, notModified, err := s.client.Templates(ctx, etag)
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
	if err := s.syncVariables(ctx); err != nil {
		return err
	}
	s.failMu.Lock()
	s.failures = 0
	s.failMu.Unlock()
	s.status.set(StateConnected, fmt.Sprintf("Connected to the origin %s.", s.client.Origin()), now, func(st *Status) {
		st.LastSync = now
		st.NextRetry = time.Time{}
		st.OriginName, st.OriginVersion = hello.Name, hello.Version
	})
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
	list, newETag, notModified, err := s.client.Variables(ctx, etag)
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
	state, msg := describe(err, s.client.Origin())
	s.failMu.Lock()
	s.failures++
	n := s.failures
	s.failMu.Unlock()
	delay := backoffBase << min(n-1, 10)
	delay = min(delay, backoffCap)
	// Full jitter in [delay/2, delay) so that many leaves do not reconnect
	// in lockstep when the origin comes back.
	delay = delay/2 + time.Duration(rand.Int64N(int64(delay/2)+1))
	now := s.now()
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
	email = strings.TrimSpace(email)
	if email == "" || password == "" {
		return nil, &SignInError{Status: http.StatusUnauthorized, Message: MsgBadCredentials}
	}
	fctx := ctx
	if !s.Status().Healthy() {
		// Do not make a person wait the full timeout for an origin that is
		// known to be away; a quick try still notices it coming back.
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
	}
	ou, err := s.client.Authenticate(fctx, email, password)
	if err == nil {
		hash, err := models.HashPassword(password)
		if err != nil {
			return nil, err
		}
		u, err := models.UpsertOriginUser(ctx, s.db, models.OriginUser{
			ID: ou.ID, Username: ou.Username, Email: ou.Email, Roles: ou.Roles, Permissions: ou.Permissions,
		}, hash, s.now().UTC())
		if err != nil {
			return nil, err
		}
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
	case oe.State == StateUnreachable:
		s.failed(err)
		return s.offlineSignIn(ctx, email, password)
	default:
		// The origin is there but will not serve this leaf: no offline
		// fallback, since the origin may have cut this leaf off on purpose.
		s.failed(err)
		_, msg := describe(err, s.client.Origin())
		return nil, &SignInError{Status: http.StatusServiceUnavailable, Message: "Signing in through the cluster is not possible: " + msg}
	}
}

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
