package leaf_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/models"
)

// Tests of the live link: the leaf holds the origin's change feed open, so
// changes arrive without a heartbeat (the pair's heartbeat is an hour).

func clusterTemplate(t *testing.T, p *pair, name string) (models.ClusterTemplate, bool) {
	t.Helper()
	list, err := models.ClusterTemplates(context.Background(), p.leaf.Server.DB())
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range list {
		if ct.Name == name {
			return ct, true
		}
	}
	return models.ClusterTemplate{}, false
}

func createTemplate(t *testing.T, c *knottest.Client, name, body string) float64 {
	t.Helper()
	return float64(c.Created("/api/templates", map[string]any{"name": name, "active": true, "body": body}))
}

func TestOriginChangesReachTheLeafWithoutWaitingForAHeartbeat(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.await("the leaf's link", func() bool { return p.status().Healthy() })

	id := createTemplate(t, p.admin, "live", "image: one")
	p.await("a template created on the origin on the leaf", func() bool {
		ct, ok := clusterTemplate(t, p, "live")
		return ok && ct.Body == "image: one"
	})
	res := p.admin.JSONRequest(http.MethodPut, fmt.Sprintf("/api/templates/%d", int(id)), map[string]any{"name": "live", "active": true, "body": "image: two"})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("edit: %d %s", res.StatusCode, res.Body)
	}
	p.await("the edit on the leaf", func() bool {
		ct, ok := clusterTemplate(t, p, "live")
		return ok && ct.Body == "image: two"
	})
	if res := p.admin.Do(http.MethodDelete, fmt.Sprintf("/api/templates/%d", int(id)), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("delete: %d %s", res.StatusCode, res.Body)
	}
	p.await("the deletion on the leaf", func() bool {
		_, ok := clusterTemplate(t, p, "live")
		return !ok
	})

	res = p.admin.JSONRequest(http.MethodPost, "/api/templatevars", map[string]any{"name": "LIVE_VAR", "value": "v1"})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create variable: %d %s", res.StatusCode, res.Body)
	}
	p.await("a variable created on the origin on the leaf", func() bool {
		var n int64
		p.leaf.Server.DB().Raw(`SELECT COUNT(*) FROM cluster_variables WHERE name = 'LIVE_VAR'`).Scan(&n)
		return n == 1
	})
}

func TestAChangeMadeWhileTheLeafWasDownArrivesAfterReconnectWithoutAResync(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.await("the leaf's link", func() bool { return p.status().Healthy() && p.leaf.Server.Leaf().Cursor() > 0 })
	p.leaf.Stop()
	createTemplate(t, p.admin, "while-away", "image: away")

	p.leaf = knottest.Start(t, p.lcfg, knottest.WithClock(p.clock))
	p.await("the change made while the leaf was down", func() bool {
		_, ok := clusterTemplate(t, p, "while-away")
		return ok
	})
	if strings.Contains(p.leaf.Logs.String(), "resyncing everything") {
		t.Fatal("the leaf resynced instead of resuming from its cursor")
	}
}

func TestALeafWhoseCursorTheOriginNoLongerHoldsResyncs(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.await("the leaf's link", func() bool { return p.status().Healthy() && p.leaf.Server.Leaf().Cursor() > 0 })
	p.leaf.Stop()
	for _, name := range []string{"gone-1", "gone-2", "gone-3"} {
		createTemplate(t, p.admin, name, "image: "+name)
	}
	// The origin forgets all but its newest change: the leaf's cursor is
	// now older than anything it holds.
	if _, err := models.PruneChanges(context.Background(), p.origin.Server.DB(), 1); err != nil {
		t.Fatal(err)
	}
	p.leaf = knottest.Start(t, p.lcfg, knottest.WithClock(p.clock))
	p.await("every change after a resync", func() bool {
		for _, name := range []string{"gone-1", "gone-2", "gone-3"} {
			if _, ok := clusterTemplate(t, p, name); !ok {
				return false
			}
		}
		return true
	})
	if !strings.Contains(p.leaf.Logs.String(), "resyncing everything") {
		t.Fatal("the leaf caught up without the resync its stale cursor needs")
	}
}

func TestAStoppedOriginIsNoticedWithoutWaitingForAHeartbeat(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.await("the leaf's link", func() bool { return p.status().Healthy() })
	p.origin.Stop()
	p.await("the leaf noticing", func() bool { return !p.status().Healthy() })
	if st := p.status(); st.State != leaf.StateUnreachable {
		t.Fatalf("status after the origin stopped = %+v", st)
	}
}

func TestTheLeafFailsOverToTheNextOriginServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "https://" + ln.Addr().String()
	ln.Close() // nothing answers there
	p := startPair(t, pairOpts{leaf: func(c *config.Config) {
		c.Server.Origin.Server = config.URLList(dead + "," + string(c.Server.Origin.Server))
	}})
	p.await("the leaf on the second origin server", func() bool { return p.status().Healthy() })
	if got := p.leaf.Server.Leaf().Origin(); got != p.origin.URL {
		t.Fatalf("the leaf is on %s, want %s", got, p.origin.URL)
	}
	if !strings.Contains(p.status().Message, p.origin.URL) {
		t.Fatalf("the status does not say which origin it is on: %q", p.status().Message)
	}
}

// A sign-in the origin refuses for its own shape (here a 20,000-character
// password, six times longer once JSON escapes its control characters) is
// answered as such, and nobody can flip a healthy leaf's status by sending
// one.
func TestAnOversizedPasswordLeavesTheLinkConnected(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.await("the leaf's link", func() bool { return p.status().Healthy() })
	password := strings.Repeat("\x01", 20000)
	res := signIn(p.leaf.Client(), knottest.AdminEmail, password)
	if res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusBadRequest {
		t.Fatalf("oversized password = %d, want 401 or 400", res.StatusCode)
	}
	if st := p.status(); !st.Healthy() {
		t.Fatalf("an oversized password flipped the leaf's status: %+v", st)
	}
	if res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the right password after it = %d", res.StatusCode)
	}
}

func leafNodesRow(t *testing.T, p *pair) string {
	t.Helper()
	page := p.admin.Get("/leaf-nodes")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("leaf nodes page = %d", page.StatusCode)
	}
	i := strings.Index(page.Body, "<tbody>")
	if i < 0 {
		return ""
	}
	return page.Body[i:]
}

// The origin's Leaf Nodes page shows a leaf online exactly while its feed
// is open, and keeps a leaf whose token was deleted, saying so.
func TestTheLeafNodesPageFollowsTheFeed(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.origin.AwaitLeafRecord(t, "the leaf online", func() bool { return strings.Contains(leafNodesRow(t, p), ">online<") })
	p.leaf.Stop()
	// No clock moves: closing the feed is enough.
	p.origin.AwaitLeafRecord(t, "the stopped leaf offline", func() bool { return strings.Contains(leafNodesRow(t, p), ">offline<") })

	p.leaf = knottest.Start(t, p.lcfg, knottest.WithClock(p.clock))
	p.origin.AwaitLeafRecord(t, "the leaf online again", func() bool { return strings.Contains(leafNodesRow(t, p), ">online<") })
	if res := p.admin.Do(http.MethodDelete, "/api/tokens/"+ftoa(p.tokID), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("delete token: %d", res.StatusCode)
	}
	p.origin.AwaitLeafRecord(t, "the leaf listed as token deleted", func() bool {
		row := leafNodesRow(t, p)
		return strings.Contains(row, ">token deleted<") && strings.Contains(row, knottest.AdminUsername)
	})
	p.await("the leaf noticing its token is gone", func() bool { return p.status().State == leaf.StateTokenRejected })
}

// A leaf the origin turns away because leaf nodes are disabled is offline
// at once, even when a server that died with its feed open left it marked
// online.
func TestARefusedLeafIsOfflineAtOnce(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.origin.AwaitLeafRecord(t, "the leaf online", func() bool { return strings.Contains(leafNodesRow(t, p), ">online<") })
	p.leaf.Stop()
	addr := p.origin.Addr()
	p.origin.Stop()
	cfg := p.origin.Cfg
	src := models.Source{SQLitePath: cfg.Server.SQLite.Path}
	if cfg.Server.Postgres.Enabled {
		src = models.Source{PostgresDSN: cfg.Server.Postgres.DSN}
	}
	db, err := models.Open(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	// What a crash mid-feed leaves behind.
	db.Exec(`UPDATE leaf_nodes SET feed_conn = 'crashed'`)
	models.Close(db)

	cfg.Server.Cluster.AllowLeafNodes = false
	p.origin = knottest.Start(t, cfg, knottest.WithClock(p.clock), knottest.WithAddr(addr))
	p.admin.Base = p.origin.URL
	if !strings.Contains(leafNodesRow(t, p), ">online<") {
		t.Fatal("the crash record is not there to be cleared: the test proves nothing")
	}
	p.leaf = knottest.Start(t, p.lcfg, knottest.WithClock(p.clock))
	p.origin.AwaitLeafRecord(t, "the refused leaf offline", func() bool { return strings.Contains(leafNodesRow(t, p), ">offline<") })
	// The origin records the refusal before it answers: the leaf learns of
	// it a moment later.
	p.await("the leaf told leaf nodes are disabled", func() bool { return p.status().State == leaf.StateLeafNodesDisabled })
}

// Offline sign-in is for an origin that is away. Once the origin has said
// no to this leaf (its token was deleted), nobody signs in offline, not even
// someone who signed in here before, and the refusal names no origin.
func TestNoOfflineSignInAfterTheOriginSaidNo(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.await("the leaf's link", func() bool { return p.status().Healthy() })
	if res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("first sign-in = %d", res.StatusCode)
	}
	if res := p.admin.Do(http.MethodDelete, "/api/tokens/"+ftoa(p.tokID), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("delete token: %d", res.StatusCode)
	}
	p.await("the leaf noticing", func() bool { return p.status().State == leaf.StateTokenRejected })
	res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword)
	if res.StatusCode == http.StatusSeeOther {
		t.Fatal("signed in offline although the origin rejected the leaf's token")
	}
	if strings.Contains(res.Body, p.origin.Addr()) {
		t.Fatal("the sign-in refusal shows visitors the origin's address")
	}
}

// The leaf's offline copy of a password is made after the sign-in is
// answered, and is never a weaker bcrypt than the origin's.
func TestTheOfflinePasswordCopyIsNoWeakerThanTheOrigins(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.await("the leaf's link", func() bool { return p.status().Healthy() })
	// The admin's hash on the origin at a higher cost than knot's own.
	hash, err := models.HashPasswordCost(knottest.AdminPassword, 11)
	if err != nil {
		t.Fatal(err)
	}
	p.origin.Server.DB().Model(&models.User{}).Where("email = ?", knottest.AdminEmail).Update("password_hash", hash)
	if res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", res.StatusCode)
	}
	p.leaf.Server.Leaf().WaitBackground()
	var u models.User
	p.leaf.Server.DB().Where("email = ?", knottest.AdminEmail).First(&u)
	if got := models.PasswordCost(u.OfflinePasswordHash); got < 11 {
		t.Fatalf("the offline copy's cost is %d, the origin's 11", got)
	}
	if !models.CheckPassword(u.OfflinePasswordHash, knottest.AdminPassword) {
		t.Fatal("the offline copy does not match the password")
	}
}

// The origin killed (no graceful shutdown: its connections just vanish,
// as the proxy in between drops them) is noticed without a heartbeat.
func TestAKilledOriginIsNoticedWithoutWaitingForAHeartbeat(t *testing.T) {
	var proxy *knottest.Proxy
	p := startPair(t, pairOpts{leaf: func(c *config.Config) {
		u := strings.TrimSuffix(string(c.Server.Origin.Server), "/")
		proxy = knottest.NewProxy(t, strings.TrimPrefix(u, "https://"))
		c.Server.Origin.Server = config.URLList("https://" + proxy.Addr())
	}})
	p.await("the leaf's link through the proxy", func() bool { return p.status().Healthy() })
	proxy.Cut()
	p.await("the leaf noticing", func() bool { return !p.status().Healthy() })
	proxy.Restore()
	p.await("the leaf back", func() bool { return p.status().Healthy() })
}
