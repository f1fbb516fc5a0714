package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

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
	switch {
	case errors.Is(err, errBadCredentials):
		return &signInRefused{metrics.OutcomeBadCredentials, metrics.OutcomeBadCredentials, http.StatusUnauthorized, msgBadCredentials, 0}
	case errors.Is(err, errInactive):
		return &signInRefused{metrics.OutcomeDisabled, metrics.OutcomeDisabled, http.StatusForbidden, "This account is disabled. Ask your site administrator to enable it.", 0}
	}
	return err
}
