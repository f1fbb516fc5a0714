package handlers

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/htmx"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/views"
)

// render writes a templ component with status.
func (h *Handlers) render(c *gin.Context, status int, comp templ.Component) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	htmx.Vary(c.Writer)
	c.Status(status)
	if err := comp.Render(c.Request.Context(), c.Writer); err != nil {
		h.log.Error("render page", "path", c.Request.URL.Path, "err", err)
	}
}

// redirect sends the browser to target: HX-Redirect for htmx, 303 otherwise.
func (h *Handlers) redirect(c *gin.Context, target string) {
	if isHTMX(c) {
		htmx.Redirect(c.Writer, target)
		c.AbortWithStatus(http.StatusOK)
		return
	}
	c.Redirect(http.StatusSeeOther, target)
	c.Abort()
}

// fail answers an error: JSON {"error": msg} under /api/, an error page otherwise.
func (h *Handlers) fail(c *gin.Context, status int, msg string) {
	if isAPI(c) {
		c.AbortWithStatusJSON(status, gin.H{"error": msg})
		return
	}
	h.render(c, status, views.ErrorPage(status, msg))
	c.Abort()
}

// msgUnavailable is what people see while the database cannot be reached.
const msgUnavailable = "The database is unavailable; try again shortly."

// serverProblem is the status and message for an unexpected error: 503
// while the database cannot be reached (nothing was changed, and the same
// request will work once it is back), otherwise 500 with msg.
func serverProblem(err error, msg string) (int, string) {
	if models.IsUnavailable(err) {
		return http.StatusServiceUnavailable, msgUnavailable
	}
	return http.StatusInternalServerError, msg
}

// failErr answers an unexpected error with serverProblem's status.
func (h *Handlers) failErr(c *gin.Context, err error, msg string) {
	if h.clientGone(c, msg, err) {
		return
	}
	status, msg := serverProblem(err, msg)
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "5")
	}
	h.fail(c, status, msg)
}

func (h *Handlers) notFound(c *gin.Context) {
	h.fail(c, http.StatusNotFound, "There is nothing at this address.")
}

// setNotice keeps a one-time message for the next page this browser shows.
func (h *Handlers) setNotice(c *gin.Context, msg string) {
	h.sessions.Put(c.Request.Context(), sessionNotice, msg)
}

// popNotice takes the one-time message, if any.
func (h *Handlers) popNotice(c *gin.Context) string {
	return h.sessions.PopString(c.Request.Context(), sessionNotice)
}
