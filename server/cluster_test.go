package server_test

// Cluster tests: several real servers on 127.0.0.1 sharing one PostgreSQL
// database. They need KNOT_TEST_POSTGRES_DSN (scripts/test-postgres).

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

// cluster is n servers on one PostgreSQL database and one clock.
type cluster struct {
	cfg     config.Config
	clock   *knottest.Clock
	servers []*knottest.Instance
}

func startCluster(t *testing.T, n int, edit ...func(*config.Config)) *cluster {
	t.Helper()
	cl := &cluster{cfg: knottest.PostgresConfig(t), clock: knottest.NewClock()}
	for _, e := range edit {
		e(&cl.cfg)
	}
	for range n {
		cl.servers = append(cl.servers, knottest.Start(t, knottest.ServerDir(t, cl.cfg), knottest.WithClock(cl.clock)))
	}
	return cl
}

// startLeaf starts a leaf, on the cluster's clock, whose origin is srv
// and whose token is token.
func (cl *cluster) startLeaf(t *testing.T, srv *knottest.Instance, token string) *knottest.Instance {
	t.Helper()
	lcfg := knottest.Config(t)
	lcfg.Server.Postgres = config.Postgres{} // a leaf keeps its own SQLite
	lcfg.Server.Origin.Server = config.URLList(srv.URL)
	lcfg.Server.Origin.Token = token
	if _, err := lcfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return knottest.Start(t, lcfg, knottest.WithClock(cl.clock))
}

// on returns a client for server i sharing c's cookie jar: the servers all
// listen on 127.0.0.1, and cookies do not care about ports, so this is one
// browser talking to a cluster behind a load balancer.
func on(c *knottest.Client, srv *knottest.Instance) *knottest.Client { return c.On(srv.URL) }

func bearer(token string) string { return "Authorization: Bearer " + token }

func TestASessionMadeOnOneServerWorksOnEveryOther(t *testing.T) {
	cl := startCluster(t, 3)
	a, b, c := cl.servers[0], cl.servers[1], cl.servers[2]
	browser := a.SetupAdmin()
	for _, srv := range []*knottest.Instance{b, c} {
		if res := on(browser, srv).Get("/api/users/whoami"); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, knottest.AdminEmail) {
			t.Fatalf("whoami on another server = %d %s", res.StatusCode, res.Body)
		}
	}
	if res := on(browser, b).PostForm("/logout", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out on B = %d", res.StatusCode)
	}
	for i, srv := range cl.servers {
		if res := on(browser, srv).Get("/api/users/whoami"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("after signing out on B, server %d still knows the session: %d", i, res.StatusCode)
		}
	}
}

// Ending a session is a row deleted in the shared database: the other
// servers refuse it on its very next request, with nothing to wait for.
func TestASessionEndedOnOneServerIsRefusedByEveryOtherAtOnce(t *testing.T) {
	cl := startCluster(t, 2)
	a, b := cl.servers[0], cl.servers[1]
	here := a.SetupAdmin()
	there := a.Login(knottest.AdminEmail, knottest.AdminPassword)
	if res := on(there, b).Get("/api/users/whoami"); res.StatusCode != http.StatusOK {
		t.Fatalf("the second browser on B = %d", res.StatusCode)
	}
	if res := on(here, a).PostForm("/profile/sessions/sign-out-others", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out everywhere else on A = %d: %s", res.StatusCode, res.Body)
	}
	if res := on(there, b).Get("/api/users/whoami"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("B still serves the session ended on A: %d", res.StatusCode)
	}
	if res := on(here, b).Get("/api/users/whoami"); res.StatusCode != http.StatusOK {
		t.Fatalf("B refuses the session that stayed: %d", res.StatusCode)
	}
}

func TestATokenWorksOnEveryServerAndItsRevocationReachesAllAtOnce(t *testing.T) {
	cl := startCluster(t, 2)
	a, b := cl.servers[0], cl.servers[1]
	admin := a.SetupAdmin()
	devID := a.CreateUser("dev", "dev@example.com", "dev-password-1", models.DeveloperRoleID)
	dev := b.Login("dev@example.com", "dev-password-1")

	whoami := func(srv *knottest.Instance, token string) int {
		return srv.Client().Get("/api/users/whoami", bearer(token)).StatusCode
	}

	// Made on A, used on B (and A: both now remember it); deleted on B,
	// refused by A on the next request.
	id, token := admin.CreateAPIToken("made on A")
	for _, srv := range []*knottest.Instance{b, a} {
		if got := whoami(srv, token); got != http.StatusOK {
			t.Fatalf("a token made on A, used on %s = %d", srv.URL, got)
		}
	}
	if res := on(admin, b).Do(http.MethodDelete, fmt.Sprintf("/api/tokens/%d", id), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("delete on B = %d %s", res.StatusCode, res.Body)
	}
	if got := whoami(a, token); got != http.StatusUnauthorized {
		t.Fatalf("a token deleted on B, used on A = %d, want 401", got)
	}

	// The owner loses use_api_tokens on A: refused on B at once.
	_, devToken := on(dev, a).CreateAPIToken("dev's")
	if got := whoami(b, devToken); got != http.StatusOK {
		t.Fatalf("dev's token on B = %d", got)
	}
	res := admin.JSONRequest(http.MethodPut, fmt.Sprintf("/api/users/%d", devID), map[string]any{"roles": []string{}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("take dev's roles on A = %d %s", res.StatusCode, res.Body)
	}
	if got := whoami(b, devToken); got != http.StatusForbidden {
		t.Fatalf("a token whose owner lost use_api_tokens on A, used on B = %d, want 403", got)
	}

	// Roles back; used on both again; then the owner is deactivated on B:
	// refused on A at once.
	res = admin.JSONRequest(http.MethodPut, fmt.Sprintf("/api/users/%d", devID), map[string]any{"roles": []string{"Developer"}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("give dev's role back = %d %s", res.StatusCode, res.Body)
	}
	for _, srv := range []*knottest.Instance{a, b} {
		if got := whoami(srv, devToken); got != http.StatusOK {
			t.Fatalf("dev's token with the role back, on %s = %d", srv.URL, got)
		}
	}
	res = on(admin, b).JSONRequest(http.MethodPut, fmt.Sprintf("/api/users/%d", devID), map[string]any{"roles": []string{"Developer"}, "active": false})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("deactivate dev on B = %d %s", res.StatusCode, res.Body)
	}
	if got := whoami(a, devToken); got != http.StatusUnauthorized {
		t.Fatalf("a token whose owner was deactivated on B, used on A = %d, want 401", got)
	}
	if res := on(dev, a).Get("/api/users/whoami"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the deactivated user's browser session on A = %d, want 401", res.StatusCode)
	}
}

func TestSignInLimitsHoldAcrossTheCluster(t *testing.T) {
	cl := startCluster(t, 3, func(c *config.Config) { c.Server.AuthIPRateLimiting = true })
	cl.servers[0].SetupAdmin()
	wrong := url.Values{"email": {knottest.AdminEmail}, "password": {"not the password"}}
	// An address gets 5 attempts at an email; spread over three servers
	// they are still 5.
	for i := range 5 {
		srv := cl.servers[i%3]
		if res := srv.Client().PostForm("/login", wrong); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d on server %d = %d, want 401", i+1, i%3, res.StatusCode)
		}
	}
	for i, srv := range cl.servers {
		if res := srv.Client().PostForm("/login", wrong); res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("attempt 6 on server %d = %d, want 429: the servers do not share the limit", i, res.StatusCode)
		}
	}
	// Those failures are that address's: the owner at another address
	// signs in on any server.
	right := url.Values{"email": {knottest.AdminEmail}, "password": {knottest.AdminPassword}}
	for i, srv := range cl.servers {
		if res := srv.ClientFrom("127.0.0.2").PostForm("/login", right); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("the owner from another address on server %d = %d, want 303", i, res.StatusCode)
		}
	}
}

func TestTheExpirySweepRunsOnEveryServerWithoutDoubleCounting(t *testing.T) {
	cl := startCluster(t, 3)
	admin := cl.servers[0].SetupAdmin()
	const tokens = 12
	for i := range tokens {
		admin.CreateAPIToken(fmt.Sprintf("t%d", i))
	}
	cl.clock.Advance(models.TokenLifetime + time.Minute)
	var wg sync.WaitGroup
	deleted := make([]int64, len(cl.servers))
	errs := make([]error, len(cl.servers))
	for i, srv := range cl.servers {
		wg.Go(func() { deleted[i], errs[i] = srv.Server.SweepTokens(context.Background()) })
	}
	wg.Wait()
	var total int64
	for i := range cl.servers {
		if errs[i] != nil {
			t.Fatalf("sweep on server %d: %v", i, errs[i])
		}
		total += deleted[i]
	}
	if total != tokens {
		t.Fatalf("the servers' sweeps deleted %v, %d in all; want %d", deleted, total, tokens)
	}
}

func TestFiveServersStartedAtOnceOnAnEmptyDatabaseAllComeUp(t *testing.T) {
	cfg := knottest.PostgresConfig(t)
	const n = 5
	var wg sync.WaitGroup
	servers := make([]*server.Server, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		c := knottest.ServerDir(t, cfg)
		wg.Go(func() {
			<-start
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			servers[i], errs[i] = server.New(context.Background(), c, log, server.Options{})
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("server %d: %v", i, errs[i])
			continue
		}
		if err := models.Ping(context.Background(), servers[i].DB()); err != nil {
			t.Errorf("server %d cannot reach the database: %v", i, err)
		}
		servers[i].Close()
	}
}

func TestAServerWithAnotherEncryptionKeyRefusesToJoin(t *testing.T) {
	cl := startCluster(t, 1)
	cl.servers[0].SetupAdmin()
	other := knottest.ServerDir(t, cl.cfg)
	other.Server.Encrypt = server.NewKey()
	if err := knottest.StartRefused(t, other, "a server with another key started"); !strings.Contains(err.Error(), "server.encrypt") {
		t.Fatalf("a server with another key said something unclear: %v", err)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	srv := knottest.Start(t, knottest.Config(t))
	c := srv.Client()
	for _, path := range []string{"/healthz", "/readyz"} {
		res := c.Get(path)
		if res.StatusCode != http.StatusOK || strings.TrimSpace(res.Body) != `{"status":"ok"}` {
			t.Fatalf("%s = %d %s", path, res.StatusCode, res.Body)
		}
		if res.Header.Get("Set-Cookie") != "" {
			t.Fatalf("%s set a cookie: probes must not make sessions", path)
		}
	}
}

// witness is a server on its own PostgreSQL database and what its users
// made before the database goes away: a session (browser), an API token,
// and a client without a session (script).
type witness struct {
	srv             *knottest.Instance
	browser, script *knottest.Client
	token           string
}

func startWitness(t *testing.T, dsn, tokenName string) witness {
	t.Helper()
	cfg := knottest.Config(t)
	cfg.Server.Postgres = config.Postgres{Enabled: true, DSN: dsn}
	cfg.Server.Encrypt = server.NewKey()
	w := witness{srv: knottest.Start(t, cfg)}
	w.browser = w.srv.SetupAdmin()
	_, w.token = w.browser.CreateAPIToken(tokenName)
	w.script = w.srv.Client()
	return w
}

// awaitReady waits for /readyz to pass again after what.
func (w witness) awaitReady(t *testing.T, what string) {
	t.Helper()
	knottest.Eventually(t, "readiness after "+what, func() bool {
		return w.script.Get("/readyz").StatusCode == http.StatusOK
	})
}

// wantToken checks that the token made before the outage works after it.
func (w witness) wantToken(t *testing.T, after string) {
	t.Helper()
	if res := w.script.Get("/api/users/whoami", bearer(w.token)); res.StatusCode != http.StatusOK {
		t.Fatalf("the token after %s = %d %s", after, res.StatusCode, res.Body)
	}
}

// PostgreSQL goes away mid-test (every connection dropped, new ones
// refused): knot stays up, answers 503 with a clear message where it needs
// the database, says so on /readyz, and recovers by itself when the
// database is back, with nothing lost.
func TestTheClusterRidesOutADatabaseOutage(t *testing.T) {
	dsn, err := url.Parse(knottest.NewPostgresDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := knottest.NewProxy(t, dsn.Host)
	dsn.Host = proxy.Addr()
	w := startWitness(t, dsn.String(), "survives")
	srv, browser, script, token := w.srv, w.browser, w.script, w.token

	proxy.Cut()
	checks := []struct {
		name string
		do   func() *knottest.Response
	}{
		{"a page", func() *knottest.Response { return browser.Get("/templates") }},
		{"an API call by session", func() *knottest.Response { return browser.Get("/api/users/whoami") }},
		{"an API call by token", func() *knottest.Response { return script.Get("/api/templates", bearer(token)) }},
		{"a sign-in", func() *knottest.Response {
			return srv.Client().PostForm("/login", url.Values{"email": {knottest.AdminEmail}, "password": {knottest.AdminPassword}})
		}},
	}
	for _, ch := range checks {
		res := ch.do()
		if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(res.Body, "database is unavailable") {
			t.Fatalf("%s while the database is down = %d %s", ch.name, res.StatusCode, res.Body)
		}
	}
	if res := script.Get("/readyz"); res.StatusCode != http.StatusServiceUnavailable || strings.Contains(res.Body, "127.0.0.1") {
		t.Fatalf("/readyz while the database is down = %d %s", res.StatusCode, res.Body)
	}
	if res := script.Get("/healthz"); res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz while the database is down = %d: the process is up", res.StatusCode)
	}

	proxy.Restore()
	w.awaitReady(t, "the database is back")
	if res := browser.Get("/api/users/whoami"); res.StatusCode != http.StatusOK {
		t.Fatalf("the session after recovery = %d %s", res.StatusCode, res.Body)
	}
	w.wantToken(t, "recovery")
	if _, tok := browser.CreateAPIToken("after"); tok == "" {
		t.Fatal("no token created after recovery")
	}
}

func TestALeafWorksThroughAnyServerAndEveryServerListsIt(t *testing.T) {
	cl := startCluster(t, 2)
	a, b := cl.servers[0], cl.servers[1]
	admin := a.SetupAdmin()
	res := admin.JSONRequest(http.MethodPost, "/api/templates", map[string]any{"name": "made-on-a", "active": true, "body": "image: a"})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create template on A = %d %s", res.StatusCode, res.Body)
	}
	_, token := admin.CreateAPIToken("Leaf Test")

	lf := cl.startLeaf(t, b, token)
	knottest.AwaitLeaf(t, lf.Server.Leaf(), "the leaf's first sync through B", func() bool {
		return lf.Server.Leaf().Status().State == "connected"
	})
	user := lf.Login(knottest.AdminEmail, knottest.AdminPassword)
	if page := user.Get("/api/templates"); page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "made-on-a") {
		t.Fatalf("the leaf's templates (through B) = %d %s", page.StatusCode, page.Body)
	}
	for i, srv := range cl.servers {
		page := on(admin, srv).Get("/leaf-nodes")
		if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, knottest.AdminUsername) || !strings.Contains(page.Body, "online") {
			t.Fatalf("the Leaf Nodes page on server %d does not list the leaf connected to B: %d", i, page.StatusCode)
		}
	}
}

// A change made on one server of the cluster reaches a leaf whose feed is
// open on another: the servers carry it between them (LISTEN/NOTIFY).
func TestAChangeOnOneServerReachesALeafOnAnother(t *testing.T) {
	cl := startCluster(t, 2)
	a, b := cl.servers[0], cl.servers[1]
	admin := a.SetupAdmin()
	_, token := admin.CreateAPIToken("Leaf Test")
	lf := cl.startLeaf(t, b, token)
	knottest.AwaitLeaf(t, lf.Server.Leaf(), "the leaf's link through B", func() bool { return lf.Server.Leaf().Status().Healthy() })

	res := admin.JSONRequest(http.MethodPost, "/api/templates", map[string]any{"name": "made-on-a-later", "active": true, "body": "image: a"})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create template on A = %d %s", res.StatusCode, res.Body)
	}
	knottest.AwaitLeaf(t, lf.Server.Leaf(), "the template made on A on the leaf connected to B", func() bool {
		list, err := models.ClusterTemplates(context.Background(), lf.Server.DB())
		if err != nil {
			return false
		}
		for _, ct := range list {
			if ct.Name == "made-on-a-later" {
				return true
			}
		}
		return false
	})
}

// The PostgreSQL server itself stops and starts again (not a proxy: the
// real thing, with every connection dropped and its shared memory gone):
// knot answers 503 meanwhile and recovers by itself, nothing lost.
func TestTheClusterRidesOutAPostgreSQLRestart(t *testing.T) {
	pg := knottest.StartOwnPostgres(t)
	w := startWitness(t, pg.DSN, "outlives the restart")
	browser, script, token := w.browser, w.script, w.token

	pg.Stop()
	if res := browser.Get("/api/users/whoami"); res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(res.Body, "database is unavailable") {
		t.Fatalf("a session call with PostgreSQL stopped = %d %s", res.StatusCode, res.Body)
	}
	if res := script.Get("/api/templates", bearer(token)); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a token call with PostgreSQL stopped = %d %s", res.StatusCode, res.Body)
	}
	if res := script.Get("/readyz"); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with PostgreSQL stopped = %d", res.StatusCode)
	}

	pg.Start()
	w.awaitReady(t, "PostgreSQL restarted")
	knottest.Eventually(t, "the session after the restart", func() bool {
		return browser.Get("/api/users/whoami").StatusCode == http.StatusOK
	})
	w.wantToken(t, "the restart")
	browser.CreateAPIToken("after the restart")
}

// Each server keeps the template list it answered; a change on another
// server is in the next answer all the same.
func TestTemplateListsFollowChangesMadeOnAnotherServer(t *testing.T) {
	cl := startCluster(t, 2)
	a, b := cl.servers[0], cl.servers[1]
	admin := a.SetupAdmin()
	_, token := admin.CreateAPIToken("lists")
	list := func(srv *knottest.Instance) string {
		res := srv.Client().Get("/api/templates", bearer(token))
		if res.StatusCode != http.StatusOK {
			t.Fatalf("list on %s = %d %s", srv.URL, res.StatusCode, res.Body)
		}
		return res.Body
	}
	if got := list(b); got != "[]" {
		t.Fatalf("B's first list = %s", got)
	}
	res := admin.JSONRequest(http.MethodPost, "/api/templates", map[string]any{"name": "first", "active": true, "body": "image: one"})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create on A = %d %s", res.StatusCode, res.Body)
	}
	var created struct {
		ID uint `json:"id"`
	}
	res.JSON(t, &created)
	if got := list(b); !strings.Contains(got, `"image: one"`) {
		t.Fatalf("B's list after a create on A = %s", got)
	}
	res = admin.JSONRequest(http.MethodPut, fmt.Sprintf("/api/templates/%d", created.ID), map[string]any{"body": "image: two"})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("edit on A = %d %s", res.StatusCode, res.Body)
	}
	if got := list(b); !strings.Contains(got, `"image: two"`) {
		t.Fatalf("B's list after an edit on A = %s", got)
	}
}
