package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/metrics"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// Form bodies are small; anything larger is refused before parsing.
const maxFormBytes = 64 << 10

func (h *Handlers) home(c *gin.Context) {
	if webctx.Identity(c.Request.Context()) == nil {
		h.redirect(c, "/login")
		return
	}
	h.redirect(c, "/templates")
}

func (h *Handlers) setupPage(c *gin.Context) {
	h.render(c, http.StatusOK, views.SetupPage(views.SetupForm{AskCode: h.askSetupCode(c)}))
}

func (h *Handlers) setupSubmit(c *gin.Context) error {
	if err := readForm(c, maxFormBytes); err != nil {
		return err
	}
	f := c.Request.PostForm
	n := models.NewUser{Username: f.Get("username"), Email: f.Get("email"), Password: f.Get("password"), Confirm: f.Get("confirm")}
	errs := n.Validate()
	form := views.SetupForm{AskCode: h.askSetupCode(c), Username: n.Username, Email: n.Email}
	again := func(c *gin.Context, status int, errs models.FieldErrors) {
		form.Errors = errs
		h.render(c, status, views.SetupPage(form))
	}
	if form.AskCode {
		msg, err := h.setupCodeProblem(c, f.Get("setup_code"))
		if err != nil {
			return withForm(err, again)
		}
		if msg != "" {
			errs["setup_code"] = msg
		} else {
			form.SetupCode = f.Get("setup_code")
		}
	}
	if len(errs) > 0 {
		return withForm(errs, again)
	}
	u, err := models.CreateFirstAdmin(c.Request.Context(), h.db, n, h.now().UTC())
	if err != nil {
		return withForm(h.setupOver(failed("create the first account", err)), again)
	}
	h.setupDone.Store(true)
	h.log.Info("initial setup complete", "username", u.Username)
	if err := h.startSession(c, u.ID); err != nil {
		status, _ := serverProblem(err, "")
		return &problem{status: status, msg: "Your account was created but signing in failed; sign in from the login page."}
	}
	h.redirect(c, "/templates")
	return nil
}

// setupCodeProblem checks the setup code typed: a message for the field
// when it is wrong, an error when the check cannot be made, is throttled,
// or another server finished the setup first.
func (h *Handlers) setupCodeProblem(c *gin.Context, typed string) (string, error) {
	msg, wait, err := h.checkSetupCode(c, typed)
	switch {
	case err != nil:
		return "", h.setupOver(failed("check the setup code", err))
	case wait > 0:
		c.Header("Retry-After", fmt.Sprint(int(wait.Seconds())))
		return "", &problem{status: http.StatusTooManyRequests, msg: msg, field: "setup_code"}
	}
	return msg, nil
}

// setupOver is err, or ErrNotFound when it says a first admin exists
// already (made on another server, or by another tab): the setup page is
// gone for good.
func (h *Handlers) setupOver(err error) error {
	if errors.Is(err, models.ErrSetupDone) {
		h.setupDone.Store(true)
		return models.ErrNotFound
	}
	return err
}

func (h *Handlers) loginPage(c *gin.Context) {
	if webctx.Identity(c.Request.Context()) != nil {
		h.redirect(c, safeNext(c.Query("next")))
		return
	}
	h.render(c, http.StatusOK, views.LoginPage(views.LoginForm{Next: safeNext(c.Query("next"))}))
}

// loginSubmit signs a person in: on a leaf the origin checks the
// credentials, elsewhere the local users do (see checkSignIn).
func (h *Handlers) loginSubmit(c *gin.Context) error {
	if err := readForm(c, maxFormBytes); err != nil {
		return err
	}
	f := c.Request.PostForm
	a := signInAttempt{via: metrics.ViaWeb, client: c.ClientIP(), typed: strings.TrimSpace(f.Get("email")), password: f.Get("password")}
	a.email, _ = models.NormalizeEmail(a.typed)
	form := views.LoginForm{Email: strings.ToValidUTF8(a.typed, "\uFFFD"), Next: safeNext(f.Get("next"))}
	u, err := h.checkSignIn(c, a, h.checkCredentials)
	if err == nil {
		if err = h.signedIn(c, u); err != nil {
			h.metrics.SignIn(metrics.ViaWeb, metrics.OutcomeError)
		}
	}
	if err != nil {
		return h.loginRefused(c, form, err)
	}
	h.metrics.SignIn(metrics.ViaWeb, metrics.OutcomeOK)
	h.log.Info("signed in", "user_id", u.ID)
	h.redirect(c, form.Next)
	return nil
}

// signedIn records the sign-in and starts the session.
func (h *Handlers) signedIn(c *gin.Context, u *models.User) error {
	if err := models.RecordLogin(c.Request.Context(), h.db, u.ID, h.now().UTC()); err != nil {
		h.log.Warn("record sign-in time", "user_id", u.ID, "err", err)
	}
	return failed("start the session", h.startSession(c, u.ID))
}

// loginRefused shows the sign-in form again with why, keeping the email.
func (h *Handlers) loginRefused(c *gin.Context, form views.LoginForm, err error) error {
	var refused *signInRefused
	if errors.As(err, &refused) {
		if refused.retryAfter > 0 {
			c.Header("Retry-After", fmt.Sprint(refused.retryAfter))
		}
		form.Error = refused.msg
		h.render(c, refused.status, views.LoginPage(form))
		return nil
	}
	return withForm(err, func(c *gin.Context, status int, errs models.FieldErrors) {
		form.Error = errs[""]
		h.render(c, status, views.LoginPage(form))
	})
}

// startSession renews the session token (against fixation), records the
// session in user_sessions under a new id and puts the user into it. A
// sign-in beyond server.max_sessions_per_user ends the user's oldest
// sessions; this browser is told so, on the page it lands on and on its
// profile page.
func (h *Handlers) startSession(c *gin.Context, userID uint) error {
	ctx := c.Request.Context()
	if err := h.sessions.RenewToken(ctx); err != nil {
		return err
	}
	// Signing in again over a session (as someone else, say) starts a new
	// one: the old one's row and message must not linger.
	if old := h.sessions.PopString(ctx, sessionID); old != "" {
		if err := models.EndUserSession(ctx, h.db, old); err != nil {
			h.log.Warn("end the session signed in over", "err", err)
		}
	}
	h.sessions.Remove(ctx, sessionCapped)
	now := h.now()
	s := models.UserSession{
		ID: models.NewSessionID(), UserID: userID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: h.sessions.Deadline(ctx), ClientIP: c.ClientIP(), UserAgent: c.Request.UserAgent(),
	}
	ended, err := models.StartUserSession(ctx, h.db, s, h.sessionWindow(), h.cfg.Server.MaxSessionsPerUser)
	if err != nil {
		h.log.Error("record a new session", "user_id", userID, "err", err)
		return err
	}
	h.sessions.Put(ctx, sessionUserID, int(userID))
	h.sessions.Put(ctx, sessionLastSeen, now.Unix())
	h.sessions.Put(ctx, sessionID, s.ID)
	if len(ended) > 0 {
		h.log.Info("signed out the oldest sessions: too many at once", "user_id", userID, "ended", len(ended), "max_sessions_per_user", h.cfg.Server.MaxSessionsPerUser)
		msg := cappedMessage(ended, h.cfg.Server.MaxSessionsPerUser)
		h.sessions.Put(ctx, sessionCapped, msg)
		h.setNotice(c, msg)
	}
	return nil
}

// sessionCapped keeps, for the life of a session, what signing it in ended
// (see cappedMessage), for its profile page.
const sessionCapped = "capped"

// cappedMessage says which sessions a sign-in over the cap ended: usually
// one, the oldest.
func cappedMessage(ended []models.UserSession, limit int) string {
	oldest := ended[0]
	where := oldest.ClientIP
	if where == "" {
		where = "an unknown address"
	}
	msg := fmt.Sprintf("Signing in here signed out your oldest session (signed in %s from %s): at most %d sessions may be signed in at once.",
		oldest.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), where, limit)
	if len(ended) > 1 {
		msg = fmt.Sprintf("Signing in here signed out your %d oldest sessions (the oldest signed in %s from %s): at most %d sessions may be signed in at once.",
			len(ended), oldest.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), where, limit)
	}
	return msg
}

// logout ends the session: its row first, so that a session whose scs
// data could not be deleted (the store failing) still counts for nothing.
func (h *Handlers) logout(c *gin.Context) {
	ctx := c.Request.Context()
	if sid := h.sessions.GetString(ctx, sessionID); sid != "" {
		if err := models.EndUserSession(ctx, h.db, sid); err != nil {
			h.log.Warn("sign out: end the session's record", "err", err)
		}
	}
	if err := h.sessions.Destroy(ctx); err != nil {
		h.log.Warn("sign out", "err", err)
	}
	h.redirect(c, "/login")
}

// safeNext keeps a post-sign-in redirect on this site: a local absolute path
// only. Browsers drop tabs and newlines from URLs and read "\\" as "/", so
// "/\t/evil.example" would become "//evil.example": any control character or
// backslash is refused, and what is left must parse without a host.
func safeNext(next string) string {
	const fallback = "/templates"
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return fallback
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return fallback
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return fallback
	}
	return next
}
