package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/webctx"
)

// A handler's body reads decode → call the model → respond, and returns
// whatever error stopped it. handle turns that error into the answer, the
// one place that chooses statuses, for a page and for the API alike:
//
//	models.ErrNotFound       404
//	models.FieldErrors       422, with the message beside each field
//	*models.ConflictError    409
//	*models.ForbiddenError   403
//	*problem                 the status the handler named (bad body, …)
//	anything else            500 (503 while the database is away), logged once
//
// A page request whose error was wrapped by withForm gets its form again,
// with what the user typed and the messages beside the fields.
func (h *Handlers) handle(fn func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			h.answerError(c, err)
		}
	}
}

// problem is a refusal the handler itself decides: a body that is not
// JSON, a form too large, an address that names nothing.
type problem struct {
	status int
	msg    string
	// field, if any, is the form field the message belongs beside.
	field string
}

func (p *problem) Error() string { return p.msg }

func badRequest(msg string) error { return &problem{status: http.StatusBadRequest, msg: msg} }
func forbidden(msg string) error  { return &problem{status: http.StatusForbidden, msg: msg} }
func notFoundError(msg string) error {
	return &problem{status: http.StatusNotFound, msg: msg}
}

// failure is an unexpected error while doing what: the person is told
// what failed and to try again; the log gets the cause.
type failure struct {
	what string
	err  error
}

func (f *failure) Error() string { return f.what + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// failed wraps err (nil stays nil) with what was being done.
func failed(what string, err error) error {
	if err == nil {
		return nil
	}
	return &failure{what, err}
}

// formAnswer shows a form again with status and the messages beside its
// fields ("" is the form as a whole), keeping what the person typed.
type formAnswer func(c *gin.Context, status int, errs models.FieldErrors)

// formError carries the form to show again when err stops a page's form.
type formError struct {
	err  error
	show formAnswer
}

func (f *formError) Error() string { return f.err.Error() }
func (f *formError) Unwrap() error { return f.err }

// withForm attaches a form to err (nil stays nil); see formError.
func withForm(err error, show formAnswer) error {
	if err == nil {
		return nil
	}
	return &formError{err, show}
}

// formFor is the formAnswer of a form that is its own fragment in an htmx
// swap and part of a whole page otherwise.
func (h *Handlers) formFor(view func(models.FieldErrors) (fragment, page templ.Component)) formAnswer {
	return func(c *gin.Context, status int, errs models.FieldErrors) {
		fragment, page := view(errs)
		h.renderForm(c, status, fragment, page)
	}
}

// refusal is the status, message and field messages of an error a person
// can act on, and false for anything else.
func refusal(err error) (status int, msg string, fields models.FieldErrors, ok bool) {
	var fe models.FieldErrors
	var conflict *models.ConflictError
	var denied *models.ForbiddenError
	switch {
	case errors.As(err, &fe):
		return http.StatusUnprocessableEntity, fe.Error(), fe, true
	case errors.As(err, &conflict):
		return http.StatusConflict, conflict.Message, fieldsOf(conflict.Field, conflict.Message), true
	case errors.As(err, &denied):
		return http.StatusForbidden, denied.Message, fieldsOf(denied.Field, denied.Message), true
	}
	return 0, "", nil, false
}

func fieldsOf(field, msg string) models.FieldErrors {
	return models.FieldErrors{field: msg}
}

// answerError answers err; see handle.
func (h *Handlers) answerError(c *gin.Context, err error) {
	if h.clientGone(c, "answer the request", err) {
		return
	}
	var form *formError
	if !isAPI(c) && errors.As(err, &form) {
		if status, errs := h.formProblem(c, err); status != 0 {
			form.show(c, status, errs)
			c.Abort()
			return
		}
	}
	if status, msg, fields, ok := refusal(err); ok {
		if !isAPI(c) {
			h.fail(c, status, msg)
			return
		}
		if _, whole := fields[""]; whole && len(fields) == 1 {
			fields = models.FieldErrors{}
		}
		c.AbortWithStatusJSON(status, gin.H{"error": msg, "fields": fields})
		return
	}
	var p *problem
	var f *failure
	switch {
	case errors.As(err, &p):
		h.fail(c, p.status, p.msg)
	case errors.Is(err, models.ErrNotFound):
		h.notFound(c)
	case errors.As(err, &f):
		h.serverError(c, f.what, f.err)
	default:
		h.serverError(c, "answer this request", err)
	}
}

// formProblem is the status and messages a form shows for err: a refusal's
// own, or for an unexpected failure (logged here) a message for the whole
// form, so that nothing typed is lost while the database is away. It is 0
// for errors a form cannot help with (a bad body, nothing at the address).
func (h *Handlers) formProblem(c *gin.Context, err error) (int, models.FieldErrors) {
	if status, _, errs, ok := refusal(err); ok {
		return status, errs
	}
	var p *problem
	if errors.As(err, &p) && p.field != "" {
		return p.status, models.FieldErrors{p.field: p.msg}
	}
	var f *failure
	if !errors.As(err, &f) || errors.Is(err, models.ErrNotFound) {
		return 0, nil
	}
	status, msg := h.unexpected(c, f.what, f.err)
	return status, models.FieldErrors{"": msg}
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

// saved answers a create or an update that worked: the API gets status and
// body as JSON; a browser is sent to next with notice shown there once.
func (h *Handlers) saved(c *gin.Context, status int, body any, notice, next string) error {
	if isAPI(c) {
		c.JSON(status, body)
		return nil
	}
	h.setNotice(c, notice)
	h.redirect(c, next)
	return nil
}

// change is a create or an update, as its answers word it: what failed,
// what the log says was done, what the person is told, the API's status.
type change struct {
	verb, done, told string
	status           int
}

var (
	creating = change{"create", "created", "created", http.StatusCreated}
	updating = change{"update", "updated", "saved", http.StatusOK}
)

// kind is how the answers to a change name a resource's rows: noun in the
// log and in a failure, next where a browser goes afterwards, and describe
// a row's name for the notice, its API body and its log attributes.
type kind[T any] struct {
	noun, next string
	describe   func(*T) (name string, body any, log []any)
}

// save ends a create or an update: store runs unless the input already
// failed (err); a failure shows form again with what was typed, a success
// is logged with who did it and answered by saved.
func save[T any](h *Handlers, c *gin.Context, ch change, k kind[T], err error, form formAnswer, store func() (*T, error)) error {
	var row *T
	if err == nil {
		row, err = store()
	}
	if err != nil {
		return withForm(failed(ch.verb+" the "+k.noun, err), form)
	}
	name, body, attrs := k.describe(row)
	h.log.Info(k.noun+" "+ch.done, append(attrs, "by", webctx.Identity(c.Request.Context()).ID)...)
	return h.saved(c, ch.status, body, name+" "+ch.told+".", k.next)
}

// deleted answers a delete that worked (or found nothing left to delete:
// what the person wanted is true either way). The API gets
// {"id","deleted":true}; htmx gets 200 with an empty body, so the row swaps
// out (a 204 is not swapped); a plain form goes to next with notice.
func (h *Handlers) deleted(c *gin.Context, id uint, notice, next string) error {
	switch {
	case isAPI(c):
		c.JSON(http.StatusOK, gin.H{"id": id, "deleted": true})
	case isHTMX(c), c.Request.Method == http.MethodDelete:
		// DELETE comes from htmx or a script, never from a plain form.
		c.Status(http.StatusOK)
	default:
		h.setNotice(c, notice)
		h.redirect(c, next)
	}
	return nil
}

// page answers a GET that serves a whole page to a browser and, to htmx,
// just the fragment that changes.
func (h *Handlers) page(c *gin.Context, fragment, whole templ.Component) error {
	return h.answer(c, nil, fragment, whole)
}

// answer answers a read in the form the request asks for: under /api/ the
// JSON body returns (called only then), to htmx the fragment (when there
// is one), to a browser the whole page.
func (h *Handlers) answer(c *gin.Context, body func() any, fragment, whole templ.Component) error {
	switch {
	case isAPI(c) && body != nil:
		c.JSON(http.StatusOK, body())
	case isHTMX(c) && fragment != nil:
		h.render(c, http.StatusOK, fragment)
	default:
		h.render(c, http.StatusOK, whole)
	}
	return nil
}

// pathID reads the :id parameter; an id that is not a positive number
// names nothing, so it is ErrNotFound.
func pathID(c *gin.Context) (uint, error) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || id == 0 {
		return 0, models.ErrNotFound
	}
	return uint(id), nil
}

// listed answers the list a load returned with err (a failure to do what):
// as JSON under /api/, otherwise as the page, with the notice the last
// action left (an API call never takes it).
func listed[T, J any](h *Handlers, c *gin.Context, what string, list []T, err error, toJSON func(*T) J, page func(notice string) templ.Component) error {
	if err != nil {
		return failed(what, err)
	}
	if isAPI(c) {
		c.JSON(http.StatusOK, mapSlice(list, toJSON))
		return nil
	}
	h.render(c, http.StatusOK, page(h.popNotice(c)))
	return nil
}

// serverError logs err and answers 500 (503 while the database is away)
// with a message that says what to do.
func (h *Handlers) serverError(c *gin.Context, what string, err error) {
	if h.clientGone(c, what, err) {
		return
	}
	status, msg := h.unexpected(c, what, err)
	h.fail(c, status, msg)
}

// unexpected logs err as the failure to do what, and gives the status and
// the message a person sees: 503 with Retry-After while the database
// cannot be reached (the same request will work once it is back), else 500.
func (h *Handlers) unexpected(c *gin.Context, what string, err error) (int, string) {
	h.log.Error(what, "path", c.Request.URL.Path, "err", err)
	status, msg := serverProblem(err, "Something went wrong while trying to "+what+"; try again, and check the server log if it keeps failing.")
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "5")
	}
	return status, msg
}

// noStore keeps a response that carries a secret (a full token, a
// protected value) out of every cache, the browser's back/forward and
// disk caches included.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
}
