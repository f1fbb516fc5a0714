package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

// Passwords of the users cast creates.
const (
	devPassword    = "devpassword"
	nobodyPassword = "nobodypassword"
)

// cast is a running server with a signed-in client for each kind of user.
type cast struct {
	srv      *knottest.Instance
	admin    *knottest.Client
	dev      *knottest.Client
	nobody   *knottest.Client // signed in, no role at all
	devID    uint
	nobodyID uint
}

func startCast(t *testing.T) *cast {
	t.Helper()
	srv := knottest.Start(t, knottest.Config(t))
	c := &cast{srv: srv, admin: srv.SetupAdmin()}
	c.devID = srv.CreateUser("dev", "dev@example.com", devPassword, models.DeveloperRoleID)
	c.nobodyID = srv.CreateUser("nobody", "nobody@example.com", nobodyPassword)
	c.dev = srv.Login("dev@example.com", devPassword)
	c.nobody = srv.Login("nobody@example.com", nobodyPassword)
	return c
}

// adminID is the id SetupAdmin's user gets on an empty database.
const adminID = 1

func wantStatus(t *testing.T, res *knottest.Response, code int) {
	t.Helper()
	if res.StatusCode != code {
		t.Fatalf("%s %s = %d, want %d; body: %.600s", res.Request.Method, res.Request.URL.Path, res.StatusCode, code, res.Body)
	}
}

func wantBody(t *testing.T, res *knottest.Response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(res.Body, p) {
			t.Fatalf("%s %s: body lacks %q; body: %.1500s", res.Request.Method, res.Request.URL.Path, p, res.Body)
		}
	}
}

func wantNoBody(t *testing.T, res *knottest.Response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(res.Body, p) {
			t.Fatalf("%s %s: body should not contain %q", res.Request.Method, res.Request.URL.Path, p)
		}
	}
}

// apiError returns the "error" of a JSON error answer, failing the test if
// the answer is not one.
func apiError(t *testing.T, res *knottest.Response) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	res.JSON(t, &body)
	if body.Error == "" {
		t.Fatalf("%s %s = %d without an error message: %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, res.Body)
	}
	return body.Error
}

// wantAPIError checks the status and that the error message contains msg.
func wantAPIError(t *testing.T, res *knottest.Response, code int, msg string) {
	t.Helper()
	wantStatus(t, res, code)
	if got := apiError(t, res); !strings.Contains(got, msg) {
		t.Fatalf("%s %s error = %q, want it to contain %q", res.Request.Method, res.Request.URL.Path, got, msg)
	}
}

// htmx is the header htmx sends with every request it makes.
const htmx = "HX-Request: true"

// formRefusal is a form the server refuses: the field the message stands
// beside, the message, and the status of the full-page answer.
type formRefusal struct {
	name  string
	form  url.Values
	field string
	msg   string
	code  int
}

// wantFormRefused posts tc.form to path as a page and through htmx: the
// page answers tc.code with the message beside its field, the fragment 200
// with the message. It returns both answers for the checks a form adds.
func wantFormRefused(t *testing.T, c *knottest.Client, path string, tc formRefusal) (page, frag *knottest.Response) {
	t.Helper()
	page = c.PostForm(path, tc.form)
	wantStatus(t, page, tc.code)
	wantBody(t, page, `id="`+tc.field+`-error"`, htmlEscape(tc.msg))
	frag = c.PostForm(path, tc.form, htmx)
	wantStatus(t, frag, http.StatusOK)
	wantBody(t, frag, htmlEscape(tc.msg))
	return page, frag
}

func path(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// isFragment reports whether a response is an htmx fragment, not a page.
func isFragment(res *knottest.Response) bool {
	lower := strings.ToLower(res.Body)
	return !strings.Contains(lower, "<html") && !strings.Contains(lower, "<!doctype")
}

// variesOnHTMX reports whether an answer says it differs between a page
// load and an htmx swap (other Vary values, like the session's Cookie, may
// stand beside it).
func variesOnHTMX(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, part := range strings.Split(v, ",") {
			if strings.TrimSpace(part) == "HX-Request" {
				return true
			}
		}
	}
	return false
}
