package handlers_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/knot-dev/knot/knottest"
)

// A script's bearer call is answered without a session (see withSessions):
// it gets no cookie and the same Vary as before, and a call that carries a
// session cookie as well still goes through the session manager.
func TestABearerCallWithoutACookieIsAnsweredWithoutASession(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	admin := srv.SetupAdmin()
	_, token := admin.CreateAPIToken("script")
	for _, path := range []string{"/api/users/whoami", "/api/templates", "/api/no/such/route"} {
		res := srv.Client().Get(path, "Authorization: Bearer "+token)
		if res.StatusCode >= http.StatusInternalServerError {
			t.Fatalf("bearer GET %s = %d: %s", path, res.StatusCode, res.Body)
		}
		if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("bearer GET %s set cookies %q", path, c)
		}
		if !slices.Contains(res.Header.Values("Vary"), "Cookie") {
			t.Errorf("bearer GET %s: Vary = %q, want Cookie among them", path, res.Header.Values("Vary"))
		}
	}
	wantStatus(t, admin.Get("/api/users/whoami", "Authorization: Bearer "+token), http.StatusOK)
	wantStatus(t, admin.Get("/api/users/whoami", "Authorization: Bearer "+token+"x"), http.StatusUnauthorized)
}
