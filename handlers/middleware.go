package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/htmx"
	"github.com/knot-dev/knot/metrics"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// Session keys: who is signed in, when the session was last used (Unix
// seconds, written at most once a minute), and the session's id, which
// names its user_sessions row (see models.UserSession).
const (
	sessionUserID   = "user_id"
	sessionLastSeen = "last_seen"
	sessionID       = "sid"
)

// lastSeenEvery is how stale the recorded last use may get before a
// request writes it again: idle sign-outs may come up to this much early,
// and a session costs one write a minute instead of one per request.
const lastSeenEvery = time.Minute

// identify works out who the request acts for and puts the identity and the
// server facts into the request context. API calls that send an
// Authorization header are authenticated by their bearer token alone;
// everything else by the session. A session that was ended (its
// user_sessions row is gone) or whose user was deactivated or deleted is
// destroyed here, so it stops working at once.
func (h *Handlers) identify(c *gin.Context) {
	ctx := webctx.WithApp(c.Request.Context(), h.appInfo())
	if isAPI(c) && c.GetHeader("Authorization") != "" {
		// The look-ups run without the request's cancellation: with a
		// cancellable context database/sql and the SQLite driver each
		// start a goroutine per query and per row to watch it, which
		// costs more than these single indexed rows (microseconds, so a
		// client that hangs up is noticed by the handler a moment later).
		ident, ok := h.bearerIdentity(context.WithoutCancel(ctx), c)
		if !ok {
			return
		}
		c.Request = c.Request.WithContext(webctx.WithIdentity(ctx, ident))
		c.Next()
		return
	}
	if uid := h.sessions.GetInt(ctx, sessionUserID); uid > 0 {
		ident, err := h.sessionIdentity(ctx, uint(uid), isBackground(c))
		if err != nil {
			h.log.Error("load signed-in user", "user_id", uid, "err", err)
			h.failErr(c, err, "Something went wrong loading your account; try again.")
			return
		}
		if ident != nil {
			ctx = webctx.WithIdentity(ctx, ident)
		}
	}
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// sessionIdentity returns who the session of uid acts for, or nil after
// destroying a session that no longer counts: idle for too long, ended
// (signed out elsewhere, by a password change or the cap on sessions), or
// of a user who was deactivated or deleted. Besides the user's own rows it
// costs one primary-key lookup of the session's row, which is also where
// the last use is recorded once a minute; checking on every request is
// what makes ending a session take effect on its very next request, on
// any server of a cluster.
func (h *Handlers) sessionIdentity(ctx context.Context, uid uint, background bool) (*models.Identity, error) {
	touch, fresh := h.sessionFresh(ctx, background)
	if !fresh {
		return nil, nil
	}
	// Sessions from before user_sessions existed have no id: they are
	// signed out once, as there is no telling whether they were meant to
	// be ended meanwhile.
	sid := h.sessions.GetString(ctx, sessionID)
	if sid == "" {
		h.sessions.Destroy(ctx) //nolint:errcheck // the request goes on unauthenticated either way
		return nil, nil
	}
	live, err := models.CheckUserSession(ctx, h.db, sid, uid, touch)
	if err != nil {
		return nil, err
	}
	if !live {
		h.sessions.Destroy(ctx) //nolint:errcheck // the request goes on unauthenticated either way
		return nil, nil
	}
	ident, err := models.LoadIdentity(ctx, h.db, uid)
	switch {
	case err == nil && ident.Active:
		return ident, nil
	case err == nil || errors.Is(err, models.ErrNotFound):
		// The row goes too, so that re-activating the account later does
		// not bring this session back.
		if err := models.EndUserSession(ctx, h.db, sid); err != nil {
			h.log.Warn("end the session of a deactivated user", "user_id", uid, "err", err)
		}
		h.sessions.Destroy(ctx) //nolint:errcheck // the request goes on unauthenticated either way
		return nil, nil
	}
	return nil, err
}

// errBadToken is the one answer for every token that does not authenticate:
// malformed, unknown, deleted, expired, or its owner disabled. The reason
// goes to the log, never to the caller.
const errBadToken = "Authentication token is not valid"

// bearerIdentity resolves "Authorization: Bearer <token>" to the token
// owner's identity through the same LoadIdentity a session uses, and records
// the use (at most once a minute). When it returns false it has answered the
// request already.
func (h *Handlers) bearerIdentity(ctx context.Context, c *gin.Context) (*models.Identity, bool) {
	// label is the reason as a metrics.Refused* value.
	refuse := func(label, reason string, tokenID uint) (*models.Identity, bool) {
		h.metrics.BearerRefused(label)
		// Never the header or the token: the reason, the token's id when
		// known, and where the attempt came from.
		h.log.Info("API token refused", "reason", reason, "token_id", tokenID, "path", c.Request.URL.Path, "ip", c.ClientIP())
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": errBadToken})
		return nil, false
	}
	plain, ok := bearerToken(c.GetHeader("Authorization"))
	if !ok {
		return refuse(metrics.RefusedMalformed, "malformed Authorization header", 0)
	}
	now := h.now()
	tok, ident, err := h.resolveToken(ctx, plain, now)
	if tok == nil && errors.Is(err, models.ErrNotFound) {
		return refuse(metrics.RefusedUnknown, "unknown token", 0)
	}
	if tok == nil {
		h.log.Error("look up API token", "err", err)
		h.failErr(c, err, "The token could not be checked because of a server problem; try again in a moment.")
		return nil, false
	}
	// Checked here, not left to the sweep: a token unused for 14 days is
	// dead at once, however long ago the sweep last ran.
	if tok.Expired(now) {
		return refuse(metrics.RefusedExpired, "expired: unused for more than 14 days", tok.ID)
	}
	switch {
	case errors.Is(err, models.ErrNotFound):
		return refuse(metrics.RefusedOwnerMissing, "owner no longer exists", tok.ID)
	case err != nil:
		h.log.Error("load token owner", "token_id", tok.ID, "err", err)
		h.failErr(c, err, "Something went wrong loading your account; try again.")
		return nil, false
	case !ident.Active:
		return refuse(metrics.RefusedOwnerDisabled, "owner's account is disabled", tok.ID)
	case !ident.Can(models.PermUseAPITokens):
		// Taking the permission away must take the tokens' power away too,
		// or a user could keep using a token they can no longer see.
		h.metrics.BearerRefused(metrics.RefusedNoPermission)
		h.log.Info("API token refused", "reason", "owner lacks use_api_tokens", "token_id", tok.ID, "path", c.Request.URL.Path)
		h.fail(c, http.StatusForbidden, "The owner of this token no longer has the use_api_tokens permission. Ask your site administrator.")
		return nil, false
	}
	ident.TokenID = tok.ID
	if err := h.touchToken(ctx, plain, tok, now); err != nil {
		// The request is authenticated either way; a missed write only
		// means the 14 days restart from an older use.
		h.log.Warn("record API token use", "token_id", tok.ID, "err", err)
	}
	return ident, true
}

// resolveToken finds the token and its owner: through the token cache on
// an origin or standalone server, from the database on a leaf (whose
// users' permissions follow the origin, which the cache cannot see).
func (h *Handlers) resolveToken(ctx context.Context, plain string, now time.Time) (*models.Token, *models.Identity, error) {
	if h.tokens != nil {
		return h.tokens.Resolve(ctx, h.db, plain, now)
	}
	tok, err := models.TokenByPlaintext(ctx, h.db, plain)
	if err != nil {
		return nil, nil, err
	}
	ident, err := models.LoadIdentity(ctx, h.db, tok.UserID)
	return tok, ident, err
}

func (h *Handlers) touchToken(ctx context.Context, plain string, tok *models.Token, now time.Time) error {
	if h.tokens != nil {
		return h.tokens.Touch(ctx, h.db, plain, tok, now)
	}
	_, err := models.TouchToken(ctx, h.db, tok, now)
	return err
}

// bearerToken takes the token from an Authorization header value. The
// scheme is case-insensitive (RFC 9110); the token must look like one knot
// issues, so garbage never reaches the database.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, models.WellFormedToken(token)
}

// sessionFresh enforces server.session_idle_timeout on the handlers' clock:
// a session idle for longer is destroyed; an active one has its last use
// recorded when the record is more than lastSeenEvery old, and touch is
// then that time, for the session's row (zero otherwise). A background
// request (a page's own poll) is not a use: an open tab would otherwise
// keep an idle session signed in for ever.
func (h *Handlers) sessionFresh(ctx context.Context, background bool) (touch time.Time, fresh bool) {
	now := h.now()
	last := time.Unix(h.sessions.GetInt64(ctx, sessionLastSeen), 0)
	if now.Sub(last) > h.cfg.Server.SessionIdleTimeout.D() {
		h.sessions.Destroy(ctx) //nolint:errcheck // the request goes on unauthenticated either way
		return time.Time{}, false
	}
	if !background && now.Sub(last) >= lastSeenEvery {
		h.sessions.Put(ctx, sessionLastSeen, now.Unix())
		return now, true
	}
	return time.Time{}, true
}

// sessionWindow says which user_sessions rows stand for live sessions now.
// Session deadlines are scs's, which keeps them on the wall clock.
func (h *Handlers) sessionWindow() models.SessionWindow {
	return models.SessionWindow{Now: h.now(), IdleTimeout: h.cfg.Server.SessionIdleTimeout.D(), Wall: time.Now()}
}

func (h *Handlers) appInfo() webctx.App {
	a := webctx.App{
		Version:       h.version,
		HideAPITokens: h.cfg.Server.UI.HideAPITokens,
		Leaf:          h.leaf != nil,
	}
	if h.leaf != nil {
		st := h.leaf.Status()
		a.LeafBanner, a.LeafBannerLevel = leafBanner(st)
		a.LeafBannerPublic = leafBannerPublic(st)
	}
	return a
}

// requireSetup sends every page to the initial setup until the first admin
// exists, and hides the setup page for good afterwards.
func (h *Handlers) requireSetup(c *gin.Context) {
	if h.leaf != nil {
		// A leaf's users come from the origin: there is nothing to set up,
		// and an empty user table must never open a setup page.
		if c.Request.URL.Path == "/initial-system-setup" {
			h.notFound(c)
			return
		}
		c.Next()
		return
	}
	done, err := h.isSetupDone(c)
	if err != nil {
		h.log.Error("check initial setup", "err", err)
		h.failErr(c, err, "The database could not be read; check the server log.")
		return
	}
	isSetup := c.Request.URL.Path == "/initial-system-setup"
	switch {
	case !done && !isSetup:
		h.redirect(c, "/initial-system-setup")
	case done && isSetup:
		h.notFound(c)
	default:
		c.Next()
	}
}

func (h *Handlers) isSetupDone(c *gin.Context) (bool, error) {
	if h.setupDone.Load() {
		return true, nil
	}
	done, err := models.SetupDone(c.Request.Context(), h.db)
	if done {
		h.setupDone.Store(true)
	}
	return done, err
}

// requireUser stops unauthenticated requests: pages go to the sign-in page,
// API calls get 401 JSON.
func (h *Handlers) requireUser(c *gin.Context) {
	if webctx.Identity(c.Request.Context()) != nil {
		c.Next()
		return
	}
	if isAPI(c) {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "Authentication required: sign in or send Authorization: Bearer <token>"})
		return
	}
	next := c.Request.URL.RequestURI()
	target := "/login"
	if c.Request.Method == http.MethodGet && next != "/" {
		target += "?next=" + url.QueryEscape(next)
	}
	h.redirect(c, target)
}

// requirePerm stops requests whose identity lacks permission p with 403.
func (h *Handlers) requirePerm(p string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if webctx.Identity(c.Request.Context()).Can(p) {
			c.Next()
			return
		}
		h.fail(c, http.StatusForbidden, "You do not have permission to use this page. Ask your site administrator for the "+p+" permission.")
	}
}

func isAPI(c *gin.Context) bool {
	return strings.HasPrefix(c.Request.URL.Path, "/api/")
}

// isBackground reports whether a page made the request by itself (a poll,
// marked with views.BackgroundHeader) rather than a person acting. The
// header only ever spares a session a renewal, so trusting it is safe.
func isBackground(c *gin.Context) bool {
	return c.GetHeader(views.BackgroundHeader) != ""
}

// isHTMX reports whether the request came from htmx and wants a fragment.
// It is the one place that tells a browser's page load from a partial swap.
func isHTMX(c *gin.Context) bool {
	return htmx.IsRequest(c.Request)
}
