package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/metrics"
	"github.com/knot-dev/knot/models"
)

// signInAttempt is one sign-in, made on this server's page or forwarded by
// a leaf: both go through checkSignIn, so that both count against the same
// limits and are logged and counted the same way.
type signInAttempt struct {
	via      string // metrics.ViaWeb or metrics.ViaLeaf
	client   string // the client's address; for a forwarded check, the leaf's
	typed    string // the email as typed
	email    string // the email normalised; "" when what was typed is no address
	password string
	// logExtra is added to the log line of a refusal.
	logExtra []any
}

// signInRefused is a sign-in turned down: the metrics outcome, the reason
// for the log, the status and the message the person sees, and for a
// throttled attempt how long to wait.
type signInRefused struct {
	outcome, reason string
	status          int
	msg             string
	retryAfter      int
}

func (r *signInRefused) Error() string { return r.msg }

// checkSignIn applies the sign-in limits and checks the credentials with
// check. It returns the user, a *signInRefused (logged and counted here),
// or an unexpected error (counted here, for the caller to answer). A
// successful sign-in resets its limits.
func (h *Handlers) checkSignIn(c *gin.Context, a signInAttempt, check func(*gin.Context, string, string) (*models.User, error)) (*models.User, error) {
	ctx := c.Request.Context()
	ok, wait, err := h.logins.allow(ctx, a.client, a.email)
	if err != nil {
		h.metrics.SignIn(a.via, metrics.OutcomeError)
		return nil, failed("check the sign-in rate limit", err)
	}
	var u *models.User
	switch {
	case !ok:
		secs := int(wait.Seconds())
		err = &signInRefused{metrics.OutcomeThrottled, reasonThrottled, http.StatusTooManyRequests, fmt.Sprintf("Too many sign-in attempts. Try again in %d seconds.", secs), secs}
	case a.email == "":
		// The same bcrypt work as a wrong password, so the time taken
		// does not tell a malformed address from a wrong password.
		models.CheckPassword("", a.password)
		err = &signInRefused{metrics.OutcomeBadCredentials, reasonMalformedEmail, http.StatusUnauthorized, msgBadCredentials, 0}
	default:
		u, err = check(c, a.email, a.password)
		err = signInProblem(err)
	}
	var refused *signInRefused
	switch {
	case errors.As(err, &refused):
		h.metrics.SignIn(a.via, refused.outcome)
		h.logRefusedSignIn(a.via, loggableEmail(a.email, a.typed), a.client, refused.reason, a.logExtra...)
		return nil, err
	case err != nil:
		h.metrics.SignIn(a.via, metrics.OutcomeError)
		return nil, failed("check the sign-in", err)
	}
	if err := h.logins.forget(ctx, a.client, a.email); err != nil {
		h.log.Warn("reset the sign-in rate limit", "user_id", u.ID, "err", err)
	}
	return u, nil
}

// signInProblem tells a refused credential check as a *signInRefused; other
// errors pass unchanged.
func signInProblem(err error) error {
	var fromLeaf *leaf.SignInError
	switch {
	case errors.As(err, &fromLeaf):
		status, outcome := leafSignInAnswer(fromLeaf)
		return &signInRefused{outcome, outcome, status, fromLeaf.Message, int(fromLeaf.RetryAfter.Seconds())}
	case errors.Is(err, errBadCredentials):
		return &signInRefused{metrics.OutcomeBadCredentials, metrics.OutcomeBadCredentials, http.StatusUnauthorized, msgBadCredentials, 0}
	case errors.Is(err, errInactive):
		return &signInRefused{metrics.OutcomeDisabled, metrics.OutcomeDisabled, http.StatusForbidden, "This account is disabled. Ask your site administrator to enable it.", 0}
	}
	return err
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
	return models.CheckSignIn(u, err, password, func(u *models.User) string { return u.PasswordHash },
		models.SignInRefusals{Unknown: errBadCredentials, BadPassword: errBadCredentials, Inactive: errInactive})
}
