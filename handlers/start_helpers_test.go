package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

// startAdmin is a server whose first admin is set up and signed in.
func startAdmin(tb testing.TB) (*knottest.Instance, *knottest.Client) {
	tb.Helper()
	srv := knottest.Start(tb, knottest.Config(tb))
	return srv, srv.SetupAdmin()
}

// startAdminOnClock is startAdmin with cfg, on a fake clock the test
// moves.
func startAdminOnClock(t *testing.T, cfg config.Config) (*knottest.Instance, *knottest.Client, *knottest.Clock) {
	t.Helper()
	clock := knottest.NewClock()
	srv := knottest.Start(t, cfg, knottest.WithClock(clock))
	return srv, srv.SetupAdmin(), clock
}

// startWithDev is a server with its first admin and a developer
// (dev@example.com, devPassword) who has not signed in yet.
func startWithDev(tb testing.TB) (*knottest.Instance, uint) {
	tb.Helper()
	srv := knottest.Start(tb, knottest.Config(tb))
	srv.SetupAdmin()
	return srv, srv.CreateUser("dev", "dev@example.com", devPassword, models.DeveloperRoleID)
}

// wantTokenRefused fails the test unless token alone gets the one 401
// every bad token gets.
func wantTokenRefused(t *testing.T, srv *knottest.Instance, token, what string) {
	t.Helper()
	if res := whoamiWith(srv, token); res.StatusCode != http.StatusUnauthorized || res.Body != badToken {
		t.Fatalf("%s: whoami with the token = %d %s, want 401 %s", what, res.StatusCode, res.Body, badToken)
	}
}

// route is one method and path of the server's.
type route struct{ method, path string }

// wantRoutesRefused sends each route ("GET /api/tokens") a JSON body as c,
// and wants code with msg in the answer.
func wantRoutesRefused(t *testing.T, c *knottest.Client, code int, msg string, routes ...string) {
	t.Helper()
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		res := c.JSONRequest(method, path, `{"name":"x"}`)
		if res.StatusCode != code || !strings.Contains(res.Body, msg) {
			t.Errorf("%s = %d %.80s, want %d saying %q", r, res.StatusCode, res.Body, code, msg)
		}
	}
}

// wantOneWinner checks the statuses of racing creates: exactly one won
// (win), every other lost (lose).
func wantOneWinner(t *testing.T, codes []int, win, lose int) {
	t.Helper()
	won := 0
	for _, code := range codes {
		switch code {
		case win:
			won++
		case lose:
		default:
			t.Fatalf("unexpected status %d among %v", code, codes)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates succeeded, want exactly 1 (%v)", won, codes)
	}
}
