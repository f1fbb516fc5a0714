package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
)

const sessionNotice = "notice"

// parseForm reads a url-encoded form of at most limit bytes. Gin's
// PostForm swallows parse errors (a too-large body would read as an empty
// form), so the size is checked here and answered with 413.
func (h *Handlers) parseForm(c *gin.Context, limit int64) bool {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	if err := c.Request.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is larger than %d KiB; shorten what you entered.", limit>>10))
			return false
		}
		h.fail(c, http.StatusBadRequest, "The form could not be read; reload the page and try again.")
		return false
	}
	return true
}

// setNotice keeps a one-time message for the next page this browser shows.
func (h *Handlers) setNotice(c *gin.Context, msg string) {
	h.sessions.Put(c.Request.Context(), sessionNotice, msg)
}

// popNotice takes the one-time message, if any.
func (h *Handlers) popNotice(c *gin.Context) string {
	return h.sessions.PopString(c.Request.Context(), sessionNotice)
}

// renderForm re-shows a form with its messages: htmx swaps only 2xx
// answers, so the fragment goes back with 200; a full page says what went
// wrong in its status.
func (h *Handlers) renderForm(c *gin.Context, status int, fragment, page templ.Component) {
	if isHTMX(c) {
		h.render(c, http.StatusOK, fragment)
		return
	}
	h.render(c, status, page)
}

// formErrors turns a refusal from models into the messages a form shows
// beside its fields ("" is the form as a whole) and the status for a
// full-page answer. ok is false for any other error.
func formErrors(err error) (errs models.FieldErrors, status int, ok bool) {
	var fe models.FieldErrors
	var conflict *models.ConflictError
	var forbidden *models.ForbiddenError
	switch {
	case errors.As(err, &fe):
		return fe, http.StatusUnprocessableEntity, true
	case errors.As(err, &conflict):
		return models.FieldErrors{conflict.Field: conflict.Message}, http.StatusConflict, true
	case errors.As(err, &forbidden):
		return models.FieldErrors{forbidden.Field: forbidden.Message}, http.StatusForbidden, true
	}
	return nil, 0, false
}
