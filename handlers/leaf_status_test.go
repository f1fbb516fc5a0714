package handlers_test

import (
	"net/http"
	"testing"
)

// A server that is not a leaf has no link to show: its status page, the
// retry and the banner's poll are not there even for an admin, and no
// page links to them or polls.
func TestTheLeafStatusPageIsNotFoundOnAServerThatIsNotALeaf(t *testing.T) {
	cs := startCast(t)
	wantStatus(t, cs.admin.Get("/leaf"), http.StatusNotFound)
	wantStatus(t, cs.admin.Get("/leaf", htmx), http.StatusNotFound)
	wantStatus(t, cs.admin.PostForm("/leaf/retry", nil), http.StatusNotFound)
	wantStatus(t, cs.admin.Get("/leaf/banner", htmx), http.StatusNotFound)
	wantStatus(t, cs.srv.Client().Get("/leaf/banner", htmx), http.StatusNotFound)

	page := cs.admin.Get("/templates")
	wantStatus(t, page, http.StatusOK)
	wantNoBody(t, page, `href="/leaf"`, "/leaf/banner", `id="leaf-link"`)
	wantNoBody(t, cs.srv.Client().Get("/login"), "/leaf/banner")
}
