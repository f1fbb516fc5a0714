package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/webctx"
)

const sessionUserID = "user_id"

// securityHeaders sets headers every response should carry.
func (h *Handlers) securityHeaders(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
	c.Next()
}

// identify works out who the request acts for and puts the identity and the
// server facts into the request context. A session whose user was
// deactivated or deleted is destroyed here, so it stops working at once.
func (h *Handlers) identify(c *gin.Context) {
	ctx := webctx.WithApp(c.Request.Context(), h.appInfo())
	if uid := h.sessions.GetInt(ctx, sessionUserID); uid > 0 {
		ident, err := models.LoadIdentity(ctx, h.db, uint(uid))
		switch {
		case err == nil && ident.Active:
			ctx = webctx.WithIdentity(ctx, ident)
		case err == nil || errors.Is(err, models.ErrNotFound):
			h.sessions.Destroy(ctx) //nolint:errcheck // the request goes on unauthenticated either way
		default:
			h.log.Error("load signed-in user", "user_id", uid, "err", err)
			h.fail(c, http.StatusInternalServerError, "Something went wrong loading your account; try again.")
			return
		}
	}
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

func (h *Handlers) appInfo() webctx.App {
	return webctx.App{
		Version:       h.version,
		Zone:          h.cfg.ZoneName(),
		HideAPITokens: h.cfg.Server.UI.HideAPITokens,
		Leaf:          h.cfg.IsLeaf(),
	}
}

// requireSetup sends every page to the initial setup until the first admin
// exists, and hides the setup page for good afterwards.
func (h *Handlers) requireSetup(c *gin.Context) {
	done, err := h.isSetupDone(c)
	if err != nil {
		h.log.Error("check initial setup", "err", err)
		h.fail(c, http.StatusInternalServerError, "The database could not be read; check the server log.")
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

// isHTMX reports whether the request came from htmx and wants a fragment.
// It is the one place that tells a browser's page load from a partial swap.
// A history-restore request comes from htmx but replaces the whole page
// (the user went back to a URL htmx had replaced), so it gets the page.
func isHTMX(c *gin.Context) bool {
	return c.GetHeader("HX-Request") == "true" && c.GetHeader("HX-History-Restore-Request") != "true"
}
