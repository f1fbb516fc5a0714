package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/leaf"
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

func (h *Handlers) setupSubmit(c *gin.Context) {
	if !h.parseForm(c, maxFormBytes) {
		return
	}
	n := models.NewUser{
		Username: c.PostForm("username"),
		Email:    c.PostForm("email"),
		Password: c.PostForm("password"),
		Confirm:  c.PostForm("confirm"),
	}
	form := views.SetupForm{AskCode: h.askSetupCode(c), Username: n.Username, Email: n.Email}
	errs := n.Validate()
	form.Username, form.Email = n.Username, n.Email
	if form.AskCode {
		typed := c.PostForm("setup_code")
		msg, wait, err := h.checkSetupCode(c, typed)
		switch {
		case errors.Is(err, models.ErrSetupDone):
			h.setupDone.Store(true)
			h.notFound(c)
			return
		case err != nil:
			h.log.Error("check the initial setup code", "err", err)
			status, msg := serverProblem(err, "The setup code could not be checked; check the server log and try again.")
			form.Errors = models.FieldErrors{"": msg}
			h.render(c, status, views.SetupPage(form))
			return
		case wait > 0:
			c.Header("Retry-After", fmt.Sprint(int(wait.Seconds())))
			form.Errors = models.FieldErrors{"setup_code": msg}
			h.render(c, http.StatusTooManyRequests, views.SetupPage(form))
			return
		case msg != "":
			errs["setup_code"] = msg
		default:
			form.SetupCode = typed
		}
	}
	if len(errs) > 0 {
		form.Errors = errs
		h.render(c, http.StatusUnprocessableEntity, views.SetupPage(form))
		return
	}
	u, err := models.CreateFirstAdmin(c.Request.Context(), h.db, n, h.now().UTC())
	if errors.Is(err, models.ErrSetupDone) {
		h.setupDone.Store(true)
		h.notFound(c)
		return
	}
	if err != nil {
		h.log.Error("initial setup", "err", err)
		status, msg := serverProblem(err, "The account could not be created; check the server log and try again.")
		form.Errors = models.FieldErrors{"": msg}
		h.render(c, status, views.SetupPage(form))
		return
	}
	h.setupDone.Store(true)
	h.log.Info("initial setup complete", "username", u.Username)
	if err := h.startSession(c, u.ID); err != nil {
		h.failErr(c, err, "Your account was created but signing in failed; sign in from the login page.")
		return
	}
	h.redirect(c, "/templates")
}

func (h *Handlers) loginPage(c *gin.Context) {
	if webctx.Identity(c.Request.Context()) != nil {
		h.redirect(c, safeNext(c.Query("next")))
		return
	}
	h.render(c, http.StatusOK, views.LoginPage(views.LoginForm{Next: safeNext(c.Query("next"))}))
}

func (h *Handlers) loginSubmit(c *gin.Context) {
	if !h.parseForm(c, maxFormBytes) {
		return
	}
	typed := strings.TrimSpace(c.PostForm("email"))
	// email is "" when what was typed is no address: it reaches no account.
	email, _ := models.NormalizeEmail(typed)
	password := c.PostForm("password")
	client := c.ClientIP()
	form := views.LoginForm{Email: strings.ToValidUTF8(typed, "\uFFFD"), Next: safeNext(c.PostForm("next"))}
	refuse := func(outcome, reason string, status int, msg string) {
		h.metrics.SignIn(metrics.ViaWeb, outcome)
		h.logRefusedSignIn(metrics.ViaWeb, loggableEmail(email, typed), client, reason)
		form.Error = msg
		h.render(c, status, views.LoginPage(form))
	}

	ok, wait, err := h.logins.allow(c.Request.Context(), client, email)
	if err != nil {
		h.metrics.SignIn(metrics.ViaWeb, metrics.OutcomeError)
		h.serverError(c, "check the sign-in rate limit", err)
		return
	}
	if !ok {
		secs := int(wait.Seconds())
		c.Header("Retry-After", fmt.Sprint(secs))
		refuse(metrics.OutcomeThrottled, reasonThrottled, http.StatusTooManyRequests, fmt.Sprintf("Too many sign-in attempts. Try again in %d seconds.", secs))
		return
	}
	if email == "" {
		// The same bcrypt work as a wrong password, so the time taken
		// does not tell a malformed address from a wrong password.
		models.CheckPassword("", password)
		refuse(metrics.OutcomeBadCredentials, reasonMalformedEmail, http.StatusUnauthorized, msgBadCredentials)
		return
	}
	u, err := h.checkCredentials(c, email, password)
	var leafErr *leaf.SignInError
	switch {
	case errors.As(err, &leafErr):
		if leafErr.RetryAfter > 0 {
			c.Header("Retry-After", fmt.Sprint(int(leafErr.RetryAfter.Seconds())))
		}
		outcome := leafSignInOutcome(leafErr)
		refuse(outcome, outcome, leafErr.Status, leafErr.Message)
		return
	case errors.Is(err, errBadCredentials):
		refuse(metrics.OutcomeBadCredentials, metrics.OutcomeBadCredentials, http.StatusUnauthorized, msgBadCredentials)
		return
	case errors.Is(err, errInactive):
		refuse(metrics.OutcomeDisabled, metrics.OutcomeDisabled, http.StatusForbidden, "This account is disabled. Ask your site administrator to enable it.")
		return
	case err != nil:
		h.metrics.SignIn(metrics.ViaWeb, metrics.OutcomeError)
		h.log.Error("sign in", "err", err)
		status, msg := serverProblem(err, "Signing in failed because of a server problem; try again in a moment.")
		form.Error = msg
		h.render(c, status, views.LoginPage(form))
		return
	}
	if err := h.logins.forget(c.Request.Context(), client, email); err != nil {
		h.log.Warn("reset the sign-in rate limit", "user_id", u.ID, "err", err)
	}
	if err := models.RecordLogin(c.Request.Context(), h.db, u.ID, h.now().UTC()); err != nil {
		h.log.Warn("record sign-in time", "user_id", u.ID, "err", err)
	}
	if err := h.startSession(c, u.ID); err != nil {
		h.metrics.SignIn(metrics.ViaWeb, metrics.OutcomeError)
		status, msg := serverProblem(err, "Signing in failed because of a server problem; try again in a moment.")
		form.Error = msg
		h.render(c, status, views.LoginPage(form))
		return
	}
	h.metrics.SignIn(metrics.ViaWeb, metrics.OutcomeOK)
	h.log.Info("signed in", "user_id", u.ID)
	h.redirect(c, form.Next)
}

var (
	errBadCredentials = errors.New("bad credentials")
	errInactive       = errors.New("account disabled")
)

const msgBadCredentials = "The email or password is incorrect."

// Reasons a sign-in was refused, for the log; the others are the metrics'
// outcomes (bad_credentials, disabled, not_allowed).
const (
	reasonThrottled      = "throttled"
	reasonMalformedEmail = "not_an_email_address"
)

// maxLoggedEmail bounds what the log keeps of a typed email: an address is
// at most 254 bytes, and anything longer is noise.
const maxLoggedEmail = 256

// loggableEmail is what a refused sign-in's log line says about the email:
// the address, or, when what was typed is no address, only its length.
// People do type their password into the email field.
func loggableEmail(email, typed string) string {
	if email != "" {
		return email
	}
	return fmt.Sprintf("(not an email address, %d characters)", utf8.RuneCountInString(typed))
}

// logRefusedSignIn notes a refused or throttled sign-in, so that someone
// guessing passwords or locking an account out shows in the log: the email
// (normalised; see loggableEmail), the client's address
// (on the origin's leaf check, the leaf's) and why. Never the password.
func (h *Handlers) logRefusedSignIn(via, email, client, reason string, extra ...any) {
	msg := "sign-in refused"
	if reason == reasonThrottled {
		msg = "sign-in throttled"
	}
	args := append([]any{"via", via, "email", truncate(email, maxLoggedEmail), "client", client, "reason", reason}, extra...)
	h.log.Info(msg, args...)
}

// checkCredentials verifies a sign-in: on a leaf the origin decides, on any
// other server the local users do.
func (h *Handlers) checkCredentials(c *gin.Context, email, password string) (*models.User, error) {
	if h.leaf != nil {
		return h.leaf.SignIn(c.Request.Context(), email, password)
	}
	return h.checkLocalCredentials(c, email, password)
}

// checkLocalCredentials verifies an email and password against the local
// users. An unknown email costs the same bcrypt work as a wrong password.
func (h *Handlers) checkLocalCredentials(c *gin.Context, email, password string) (*models.User, error) {
	u, err := models.UserByEmail(c.Request.Context(), h.db, email)
	if errors.Is(err, models.ErrNotFound) {
		models.CheckPassword("", password)
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, err
	}
	if !models.CheckPassword(u.PasswordHash, password) {
		return nil, errBadCredentials
	}
	if !u.Active {
		return nil, errInactive
	}
	return u, nil
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
