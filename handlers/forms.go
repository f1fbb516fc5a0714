package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/knot-dev/knot/models"
)

const sessionNotice = "notice"

// readForm reads a url-encoded form of at most limit bytes. Gin's
// PostForm swallows parse errors (a too-large body would read as an empty
// form), so the size is checked here and refused with 413.
func readForm(c *gin.Context, limit int64) error {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	if err := c.Request.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &problem{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("The form is larger than %d KiB; shorten what you entered.", limit>>10)}
		}
		return badRequest("The form could not be read; reload the page and try again.")
	}
	return nil
}

// formInput is an input type that a posted form can fill as well as a
// JSON body: one type per resource, whichever way it arrives.
type formInput interface {
	fromForm(form url.Values)
}

// bind fills in from the request: from a JSON body under /api/, from a
// form otherwise; at most limit bytes either way.
func bind(c *gin.Context, in formInput, limit int64) error {
	if isAPI(c) {
		return readJSON(c, in, limit)
	}
	if err := readForm(c, limit); err != nil {
		return err
	}
	in.fromForm(c.Request.PostForm)
	return nil
}

// byPath loads, with load, the row the :id path parameter names; noun
// names it in the log line of an unexpected failure.
func byPath[T any](h *Handlers, c *gin.Context, noun string, load func(context.Context, *gorm.DB, uint) (*T, error)) (*T, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	row, err := load(c.Request.Context(), h.db, id)
	return row, failed("load the "+noun, err)
}

// toUpdate starts an update: the id that toChange reads from the path (it
// may refuse the change), then in bound from the request within limit,
// then the row as it is now, which load reads and noun names in a failure.
func toUpdate[T any](h *Handlers, c *gin.Context, toChange func(*gin.Context) (uint, error), in formInput, limit int64, noun string, load func(context.Context, *gorm.DB, uint) (*T, error)) (uint, *T, error) {
	id, err := toChange(c)
	if err != nil {
		return 0, nil, err
	}
	if err := bind(c, in, limit); err != nil {
		return 0, nil, err
	}
	cur, err := load(c.Request.Context(), h.db, id)
	if err != nil {
		return 0, nil, failed("load the "+noun, err)
	}
	return id, cur, nil
}

// zonesBox is a form's zones box: the text as typed, to show it again, and
// why it did not parse.
type zonesBox struct{ text, problem string }

// read parses the box: the zones, or nil (which keeps the current ones)
// with the problem kept for problems.
func (z *zonesBox) read(text string) *[]string {
	z.text = text
	zones, msg := models.ParseZones(text)
	if msg != "" {
		z.problem = msg
		return nil
	}
	return &zones
}

// problems is the box's problem as a field message; empty when it parsed,
// so other fields' messages can join it.
func (z *zonesBox) problems() models.FieldErrors {
	errs := models.FieldErrors{}
	if z.problem != "" {
		errs["zones"] = z.problem
	}
	return errs
}

// bodyLimit is the most a request body may hold: jsonLimit for the API,
// formLimit for a form.
func bodyLimit(c *gin.Context, jsonLimit, formLimit int64) int64 {
	if isAPI(c) {
		return jsonLimit
	}
	return formLimit
}
