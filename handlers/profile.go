package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
	"github.com/knot-dev/knot/webctx"
)

// The profile is every signed-in user's own page: their account, their
// password and their sessions. It needs no permission, and everything on
// it is scoped to the signed-in user.

func (h *Handlers) profilePage(c *gin.Context) error {
	d, err := h.profileData(c)
	if err != nil {
		return failed("load your sessions", err)
	}
	// A sign-in over the cap sets both; the sessions card says it already.
	if d.Notice = h.popNotice(c); d.Notice == d.Sessions.Capped {
		d.Notice = ""
	}
	h.render(c, http.StatusOK, views.ProfilePage(d))
	return nil
}

func (h *Handlers) profileData(c *gin.Context) (views.ProfileData, error) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	sessions, err := h.profileSessions(c)
	return views.ProfileData{
		Username: me.Username, Email: me.Email, Roles: me.Roles,
		Password: views.ProfilePasswordForm{Leaf: h.leaf != nil},
		Sessions: sessions,
	}, err
}

func (h *Handlers) profileSessions(c *gin.Context) (views.ProfileSessions, error) {
	ctx := c.Request.Context()
	list, err := models.ListUserSessions(ctx, h.db, webctx.Identity(ctx).ID, h.sessionWindow())
	return views.ProfileSessions{
		Sessions: list,
		Current:  h.sessions.GetString(ctx, sessionID),
		Now:      h.now(),
		Max:      h.cfg.Server.MaxSessionsPerUser,
		Capped:   h.sessions.GetString(ctx, sessionCapped),
	}, err
}

// msgLeafPassword answers a password change on a leaf, whose users'
// passwords are the origin's.
const msgLeafPassword = "This server is a leaf node: your password is your cluster account's. Change it on the cluster."

// profilePassword changes the signed-in user's own password. The current
// password is required and draws on the same rate limits as signing in,
// so a session left open is no way to guess it. On success every other
// session of the user ends and this one gets a new token.
func (h *Handlers) profilePassword(c *gin.Context) error {
	if err := readForm(c, maxFormBytes); err != nil {
		return err
	}
	if h.leaf != nil {
		return forbidden(msgLeafPassword)
	}
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	client := c.ClientIP()
	ok, wait, err := h.logins.allow(ctx, client, me.Email)
	if err != nil {
		return failed("check the sign-in rate limit", err)
	}
	if !ok {
		secs := int(wait.Seconds())
		c.Header("Retry-After", fmt.Sprint(secs))
		h.log.Info("password change throttled", "user_id", me.ID, "client", client)
		return withForm(&problem{http.StatusTooManyRequests, fmt.Sprintf("Too many attempts. Try again in %d seconds.", secs), "current"}, h.passwordFormAgain)
	}
	f := c.Request.PostForm
	err = models.ChangeOwnPassword(ctx, h.db, me.ID, f.Get("current"), f.Get("password"), f.Get("confirm"), h.now())
	var fe models.FieldErrors
	if errors.As(err, &fe) && fe["current"] != "" {
		h.log.Info("password change refused: wrong current password", "user_id", me.ID, "client", client)
	}
	if err != nil {
		return withForm(failed("change your password", err), h.passwordFormAgain)
	}
	if err := h.logins.forget(ctx, client, me.Email); err != nil {
		h.log.Warn("reset the sign-in rate limit", "user_id", me.ID, "err", err)
	}
	ended, err := h.endOtherSessions(c)
	if err != nil {
		h.log.Error("end the other sessions after a password change", "user_id", me.ID, "err", err)
		status, _ := serverProblem(err, "")
		return &problem{status: status, msg: "Your password was changed, but your other sessions could not be signed out: use “Sign out everywhere else” on your profile."}
	}
	h.log.Info("password changed by its owner", "user_id", me.ID, "other_sessions_ended", ended)
	h.setNotice(c, "Your password was changed, and you were signed out everywhere else.")
	h.redirect(c, "/profile")
	return nil
}

// endOtherSessions ends every session of the signed-in user but this one,
// which gets a new token: whoever may have copied this browser's cookie is
// locked out too.
func (h *Handlers) endOtherSessions(c *gin.Context) (int64, error) {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	sid := h.sessions.GetString(ctx, sessionID)
	ended, err := models.EndUserSessions(ctx, h.db, me.ID, sid)
	if err != nil {
		return 0, err
	}
	if err := h.sessions.RenewToken(ctx); err != nil {
		h.log.Warn("renew the session token after a password change", "user_id", me.ID, "err", err)
	} else if err := models.RenewUserSession(ctx, h.db, sid, h.sessions.Deadline(ctx)); err != nil {
		h.log.Warn("record the renewed session", "user_id", me.ID, "err", err)
	}
	return ended, nil
}

// passwordFormAgain re-shows the password form with errs beside its
// fields: the fragment for htmx, else the whole page with status.
func (h *Handlers) passwordFormAgain(c *gin.Context, status int, errs models.FieldErrors) {
	form := views.ProfilePasswordForm{Errors: errs}
	if isHTMX(c) {
		h.render(c, http.StatusOK, views.ProfilePasswordEditor(form))
		return
	}
	d, err := h.profileData(c)
	if err != nil {
		h.answerError(c, failed("load your sessions", err))
		return
	}
	d.Password = form
	h.render(c, status, views.ProfilePage(d))
}

// profileSignOutOthers ends every session of the signed-in user but this one.
func (h *Handlers) profileSignOutOthers(c *gin.Context) error {
	ctx := c.Request.Context()
	me := webctx.Identity(ctx)
	ended, err := models.EndUserSessions(ctx, h.db, me.ID, h.sessions.GetString(ctx, sessionID))
	if err != nil {
		return failed("sign out your other sessions", err)
	}
	h.log.Info("signed out everywhere else", "user_id", me.ID, "ended", ended)
	const msg = "You were signed out everywhere else."
	if !isHTMX(c) {
		h.setNotice(c, msg)
		h.redirect(c, "/profile")
		return nil
	}
	s, err := h.profileSessions(c)
	if err != nil {
		return failed("load your sessions", err)
	}
	s.Notice = msg
	h.render(c, http.StatusOK, views.ProfileSessionList(s))
	return nil
}
