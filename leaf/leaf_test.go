package leaf_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

// pair is an origin with a self-signed certificate and a leaf that trusts
// it through server.origin.ca_file, both on 127.0.0.1, sharing one clock.
type pair struct {
	t      *testing.T
	clock  *knottest.Clock
	origin *knottest.Instance
	admin  *knottest.Client // signed in on the origin
	token  string
	tokID  float64
	leaf   *knottest.Instance
	lcfg   config.Config
}

type pairOpts struct {
	origin func(*config.Config)
	leaf   func(*config.Config)
}

func startPair(t *testing.T, o pairOpts) *pair {
	t.Helper()
	p := &pair{t: t, clock: knottest.NewClock()}
	ocfg := knottest.Config(t)
	ocfg.Server.TLS.UseTLS = true
	ocfg.Server.URL = "https://127.0.0.1"
	ocfg.Server.Zone = "origin-zone"
	if o.origin != nil {
		o.origin(&ocfg)
	}
	p.origin = knottest.Start(t, ocfg, knottest.WithClock(p.clock))
	p.admin = p.origin.SetupAdmin()

	for _, tpl := range []struct {
		name  string
		zones []string
	}{
		{"everywhere", nil},
		{"leaf-only", []string{"<leaf-node>"}},
		{"never-on-leaf", []string{"!<leaf-node>"}},
		{"origin-zone-only", []string{"origin-zone"}},
	} {
		res := p.admin.JSONRequest(http.MethodPost, "/api/templates", map[string]any{
			"name": tpl.name, "description": "the " + tpl.name + " template", "zones": tpl.zones, "active": true, "body": "image: " + tpl.name,
		})
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("create template %s on origin: %d %s", tpl.name, res.StatusCode, res.Body)
		}
	}
	p.token, p.tokID = createToken(t, p.admin, "Leaf Test")

	p.lcfg = knottest.Config(t)
	p.lcfg.Server.Origin.Server = config.URLList(p.origin.URL + "/")
	p.lcfg.Server.Origin.Token = p.token
	p.lcfg.Server.Origin.CAFile = server.SelfSignedCertPath(&p.origin.Cfg)
	// The tests drive syncs themselves; the loop's own heartbeat stays out of the way.
	p.lcfg.Server.Origin.HeartbeatInterval = config.Duration(time.Hour)
	if o.leaf != nil {
		o.leaf(&p.lcfg)
	}
	if _, err := p.lcfg.Validate(); err != nil {
		t.Fatalf("leaf config: %v", err)
	}
	p.leaf = knottest.Start(t, p.lcfg, knottest.WithClock(p.clock))
	// The leaf's loop syncs once at start; wait for it, so that it cannot
	// land in the middle of a test that moves the clock. After it the loop
	// sleeps for the hour-long heartbeat (or backs off on failure, which
	// leaves the state as it is).
	p.await("the leaf's first sync", func() bool {
		return !strings.HasPrefix(p.status().Message, "Connecting")
	})
	return p
}

// createToken makes an API token as c's user and returns it with its id
// as a float64, the type the leaf tests' ids have (they come from JSON).
func createToken(t *testing.T, c *knottest.Client, name string) (string, float64) {
	t.Helper()
	id, tok := c.CreateAPIToken(name)
	return tok, float64(id)
}

func (p *pair) sync() error {
	p.t.Helper()
	return p.leaf.Server.Leaf().Sync(context.Background())
}

func (p *pair) mustSync() {
	p.t.Helper()
	if err := p.sync(); err != nil {
		p.t.Fatalf("sync: %v", err)
	}
}

func (p *pair) status() leaf.Status { return p.leaf.Server.Leaf().Status() }

// await waits until cond holds, checking it at each of the leaf's status
// updates.
func (p *pair) await(what string, cond func() bool) {
	p.t.Helper()
	knottest.AwaitLeaf(p.t, p.leaf.Server.Leaf(), what, cond)
}

// originVariables is the origin's answer to a leaf's fetch of the
// variables with token (query is "" or "?protected=false").
func (p *pair) originVariables(token, query string) string {
	p.t.Helper()
	res := p.origin.Client().Get(leaf.PathTemplateVars+query, "Authorization: Bearer "+token)
	if res.StatusCode != http.StatusOK {
		p.t.Fatalf("templatevars = %d %s", res.StatusCode, res.Body)
	}
	return res.Body
}

func signIn(c *knottest.Client, email, password string) *knottest.Response {
	return c.PostForm("/login", url.Values{"email": {email}, "password": {password}})
}

type tpl struct {
	Name   string   `json:"name"`
	Zones  []string `json:"zones"`
	Body   string   `json:"body"`
	Source string   `json:"source"`
}

// getJSON GETs path, failing the test unless it answers 200, and decodes
// the answer.
func getJSON[T any](t *testing.T, c *knottest.Client, path string) T {
	t.Helper()
	res := c.Get(path)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, res.StatusCode, res.Body)
	}
	var out T
	res.JSON(t, &out)
	return out
}

func templateNames(t *testing.T, c *knottest.Client) map[string]tpl {
	t.Helper()
	list := getJSON[[]tpl](t, c, "/api/templates")
	out := map[string]tpl{}
	for _, x := range list {
		out[x.Name] = x
	}
	return out
}

func TestLeafSignInIsForwardedToTheOrigin(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.mustSync()

	// A leaf never offers the initial setup, even with no users, and never
	// serves its API unauthenticated.
	anon := p.leaf.Client()
	if res := anon.Get("/initial-system-setup"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("leaf setup page = %d, want 404", res.StatusCode)
	}
	if strings.Contains(p.leaf.Logs.String(), "initial setup code") {
		t.Fatal("a leaf logs an initial setup code")
	}
	if res := anon.Get("/templates"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("leaf /templates signed out = %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, path := range []string{"/api/users/whoami", "/api/templates", "/api/tokens", "/api/leaf/status"} {
		if res := anon.Get(path); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("leaf GET %s signed out = %d, want 401", path, res.StatusCode)
		}
	}

	if res := signIn(p.leaf.Client(), knottest.AdminEmail, "wrong password"); res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Body, "The email or password is incorrect.") {
		t.Fatalf("wrong password on leaf = %d", res.StatusCode)
	}
	c := p.leaf.Client()
	if res := signIn(c, knottest.AdminEmail, knottest.AdminPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in on leaf = %d %s", res.StatusCode, res.Body)
	}
	var me struct {
		Username    string   `json:"username"`
		Email       string   `json:"email"`
		Roles       []string `json:"roles"`
		Permissions []string `json:"permissions"`
	}
	c.Get("/api/users/whoami").JSON(t, &me)
	if me.Username != knottest.AdminUsername || me.Email != knottest.AdminEmail || !slices.Contains(me.Roles, "Admin") || !slices.Contains(me.Permissions, models.PermManageUsers) {
		t.Fatalf("leaf whoami = %+v, want the origin's admin with the origin's permissions", me)
	}
	// The local copy carries no origin password hash. (Its own, for offline
	// use, is made after the answer.)
	p.leaf.Server.Leaf().WaitBackground()
	var u models.User
	p.leaf.Server.DB().Where("email = ?", knottest.AdminEmail).First(&u)
	if u.PasswordHash != "" || u.OriginUserID == nil || u.OfflinePasswordHash == "" {
		t.Fatalf("leaf user row: hash %q origin id %v offline set %v", u.PasswordHash, u.OriginUserID, u.OfflinePasswordHash != "")
	}
	var originHash string
	p.origin.Server.DB().Raw("SELECT password_hash FROM users WHERE email = ?", knottest.AdminEmail).Scan(&originHash)
	if u.OfflinePasswordHash == originHash {
		t.Fatal("the leaf stored the origin's password hash")
	}
	if page := c.Get("/templates"); !strings.Contains(page.Body, "leaf node") {
		t.Fatal("leaf pages do not say they are a leaf")
	}
}

func TestLeafLoginPolicy(t *testing.T) {
	t.Run("owner", func(t *testing.T) {
		p := startPair(t, pairOpts{})
		p.origin.CreateUser("dev", "dev@example.com", "devpassword", models.DeveloperRoleID)
		res := signIn(p.leaf.Client(), "dev@example.com", "devpassword")
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "only accepts the owner") {
			t.Fatalf("second user under owner = %d", res.StatusCode)
		}
		if res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("owner sign-in = %d", res.StatusCode)
		}
	})
	t.Run("any", func(t *testing.T) {
		p := startPair(t, pairOpts{origin: func(c *config.Config) { c.Server.Cluster.LeafLogin = config.LeafLoginAny }})
		p.origin.CreateUser("dev", "dev@example.com", "devpassword", models.DeveloperRoleID)
		c := p.leaf.Client()
		if res := signIn(c, "dev@example.com", "devpassword"); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("second user under any = %d %s", res.StatusCode, res.Body)
		}
		var me struct {
			Permissions []string `json:"permissions"`
		}
		c.Get("/api/users/whoami").JSON(t, &me)
		if !slices.Equal(me.Permissions, []string{models.PermUseAPITokens}) {
			t.Fatalf("developer's permissions on the leaf = %v, want the origin's", me.Permissions)
		}
		// An inactive origin user cannot sign in through the leaf.
		p.origin.Server.DB().Model(&models.User{}).Where("email = ?", "dev@example.com").Update("active", false)
		if res := signIn(p.leaf.Client(), "dev@example.com", "devpassword"); res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "disabled") {
			t.Fatalf("inactive origin user = %d", res.StatusCode)
		}
	})
}

func TestLeafTemplatesFollowZones(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.mustSync()
	c := p.leaf.Login(knottest.AdminEmail, knottest.AdminPassword)

	onLeaf := templateNames(t, c)
	for _, want := range []string{"everywhere", "leaf-only"} {
		if onLeaf[want].Source != "cluster" {
			t.Errorf("leaf lacks cluster template %s (got %+v)", want, onLeaf)
		}
	}
	for _, never := range []string{"never-on-leaf", "origin-zone-only"} {
		if _, ok := onLeaf[never]; ok {
			t.Errorf("leaf shows %s", never)
		}
	}
	onOrigin := templateNames(t, p.admin)
	for _, want := range []string{"everywhere", "never-on-leaf", "origin-zone-only"} {
		if _, ok := onOrigin[want]; !ok {
			t.Errorf("origin lacks %s", want)
		}
	}
	if _, ok := onOrigin["leaf-only"]; ok {
		t.Error("origin shows the <leaf-node> template")
	}
	page := c.Get("/templates").Body
	if !strings.Contains(page, "leaf-only") || !strings.Contains(page, "cluster") {
		t.Fatal("leaf templates page lacks the cluster template and its badge")
	}

	// An edit on the origin reaches the leaf at the next sync; an unchanged
	// list is revalidated with the ETag (304) and keeps the cache.
	var id float64
	var list []struct {
		ID   float64 `json:"id"`
		Name string  `json:"name"`
	}
	p.admin.Get("/api/templates?all_zones=true").JSON(t, &list)
	for _, x := range list {
		if x.Name == "everywhere" {
			id = x.ID
		}
	}
	res := p.admin.JSONRequest(http.MethodPut, "/api/templates/"+ftoa(id), map[string]any{
		"name": "everywhere", "description": "edited", "zones": []string{}, "active": true, "body": "image: edited",
	})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("edit on origin: %d %s", res.StatusCode, res.Body)
	}
	p.mustSync()
	if got := templateNames(t, c)["everywhere"].Body; got != "image: edited" {
		t.Fatalf("leaf body after origin edit = %q", got)
	}
	etag, _, _ := models.ClusterSyncState(context.Background(), p.leaf.Server.DB())
	p.clock.Advance(time.Minute)
	p.mustSync()
	etag2, last, _ := models.ClusterSyncState(context.Background(), p.leaf.Server.DB())
	if etag == "" || etag2 != etag || !last.Equal(p.clock.Now()) {
		t.Fatalf("revalidation: etag %q → %q, last sync %v (now %v)", etag, etag2, last, p.clock.Now())
	}
	if len(templateNames(t, c)) != 2 {
		t.Fatal("revalidated cache lost templates")
	}

	// Cluster templates are read-only on the leaf.
	var leafList []struct {
		ID     float64 `json:"id"`
		Source string  `json:"source"`
	}
	c.Get("/api/templates").JSON(t, &leafList)
	for _, x := range leafList {
		if x.Source != "cluster" {
			continue
		}
		one := c.Get("/api/templates/" + ftoa(x.ID) + "?source=cluster")
		if one.StatusCode != http.StatusOK || !strings.Contains(one.Body, `"source":"cluster"`) {
			t.Fatalf("GET a cluster template by id = %d %s", one.StatusCode, one.Body)
		}
		if res := c.Do(http.MethodDelete, "/api/templates/"+ftoa(x.ID)+"?source=cluster", nil); res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "read-only") {
			t.Fatalf("DELETE a cluster template on the leaf = %d", res.StatusCode)
		}
		if res := c.JSONRequest(http.MethodPut, "/api/templates/"+ftoa(x.ID)+"?source=cluster", map[string]any{"description": "x"}); res.StatusCode != http.StatusForbidden {
			t.Fatalf("PUT a cluster template on the leaf = %d", res.StatusCode)
		}
	}
}

func TestLeafKeepsWorkingWhileTheOriginIsAway(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.mustSync()
	if res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("first sign-in = %d", res.StatusCode)
	}
	p.leaf.Server.Leaf().WaitBackground() // the offline copy of the password
	addr := p.origin.Addr()
	p.origin.Stop()
	p.clock.Advance(5 * time.Minute)

	if err := p.sync(); err == nil {
		t.Fatal("sync with the origin down succeeded")
	}
	st := p.status()
	if st.State != leaf.StateUnreachable || st.NextRetry.IsZero() || st.LastSync.IsZero() {
		t.Fatalf("status with origin down = %+v", st)
	}

	// The earlier user can still sign in with the same password...
	c := p.leaf.Client()
	if res := signIn(c, knottest.AdminEmail, knottest.AdminPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("offline sign-in = %d %s", res.StatusCode, res.Body)
	}
	// ...but not with another password, and nobody else can.
	if res := signIn(p.leaf.Client(), knottest.AdminEmail, "not the password"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("offline wrong password = %d", res.StatusCode)
	}
	if res := signIn(p.leaf.Client(), "stranger@example.com", "whatever1"); res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(res.Body, "last 14 days") {
		t.Fatalf("offline unknown user = %d", res.StatusCode)
	}

	// The banner says so, and the cached templates are still there.
	page := c.Get("/templates")
	if !strings.Contains(page.Body, `id="leaf-banner"`) || !strings.Contains(page.Body, "unreachable") || !strings.Contains(page.Body, "as of "+st.LastSync.UTC().Format("2006-01-02 15:04 MST")) {
		t.Fatalf("leaf page lacks the unreachable banner with the cache's age")
	}
	if names := templateNames(t, c); names["leaf-only"].Source != "cluster" {
		t.Fatalf("cached templates gone while the origin is down: %v", names)
	}
	var status struct {
		State    string  `json:"state"`
		Message  string  `json:"message"`
		Since    *string `json:"since"`
		LastSync *string `json:"last_sync"`
	}
	c.Get("/api/leaf/status").JSON(t, &status)
	if status.State != "unreachable" || status.Since == nil || status.LastSync == nil || status.Message == "" {
		t.Fatalf("/api/leaf/status = %+v", status)
	}

	// After 14 days the offline sign-in window closes.
	p.clock.Advance(14 * 24 * time.Hour)
	if res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("offline sign-in after 14 days = %d", res.StatusCode)
	}

	// The origin comes back on the same address: everything recovers.
	// Rewind before the restart, not after: the origin sweeps expired
	// tokens as it starts, and a sweep at +14 days would race the rewind
	// and delete the leaf's token.
	p.clock.Advance(-14 * 24 * time.Hour) // keep the token inside its 14 days
	p.origin = knottest.Start(t, p.origin.Cfg, knottest.WithClock(p.clock), knottest.WithAddr(addr))
	p.mustSync()
	if st := p.status(); st.State != leaf.StateConnected {
		t.Fatalf("status after the origin returned = %+v", st)
	}
	if page := c.Get("/templates"); strings.Contains(page.Body, `id="leaf-banner"`) {
		t.Fatal("banner still shown after reconnecting")
	}
}

func TestLeafStatusWhenTheOriginSaysNo(t *testing.T) {
	t.Run("leaf nodes disabled", func(t *testing.T) {
		p := startPair(t, pairOpts{origin: func(c *config.Config) { c.Server.Cluster.AllowLeafNodes = false }})
		if err := p.sync(); err == nil {
			t.Fatal("sync succeeded with leaf nodes disabled")
		}
		if st := p.status(); st.State != leaf.StateLeafNodesDisabled || !strings.Contains(st.Message, "allow_leaf_nodes") {
			t.Fatalf("status = %+v", st)
		}
		// The origin answers exactly that, never a bare 404.
		res := p.origin.Client().Get(leaf.PathHello, "Authorization: Bearer "+p.token)
		var body struct {
			Error string `json:"error"`
		}
		res.JSON(t, &body)
		if res.StatusCode != http.StatusForbidden || body.Error != leaf.DisabledMessage {
			t.Fatalf("origin answer = %d %q", res.StatusCode, body.Error)
		}
		// The visitor's banner says why; its details are for people signed in.
		if res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword); res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(res.Body, "Leaf nodes are disabled on the cluster") {
			t.Fatalf("sign-in with leaf nodes disabled = %d", res.StatusCode)
		}
	})
	t.Run("token deleted", func(t *testing.T) {
		p := startPair(t, pairOpts{})
		p.mustSync()
		if res := p.admin.Do(http.MethodDelete, "/api/tokens/"+ftoa(p.tokID), nil); res.StatusCode != http.StatusOK {
			t.Fatalf("delete token: %d", res.StatusCode)
		}
		if err := p.sync(); err == nil {
			t.Fatal("sync succeeded with a deleted token")
		}
		if st := p.status(); st.State != leaf.StateTokenRejected || !strings.Contains(st.Message, "server.origin.token") {
			t.Fatalf("status = %+v", st)
		}
		// Visitors who are not signed in get the short banner; the token
		// and its settings are for the leaf's administrator.
		if page := p.leaf.Client().Get("/login"); !strings.Contains(page.Body, "its administrator needs to fix its settings") || strings.Contains(page.Body, "server.origin.token") {
			t.Fatal("login page lacks the short token-rejected banner")
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		p := startPair(t, pairOpts{leaf: func(c *config.Config) { c.Server.Origin.CAFile = "" }})
		if err := p.sync(); err == nil {
			t.Fatal("sync succeeded against an untrusted certificate")
		}
		if st := p.status(); st.State != leaf.StateUntrustedCertificate || !strings.Contains(st.Message, "server.origin.ca_file") {
			t.Fatalf("status = %+v", st)
		}
	})
}

func TestHeartbeatsKeepTheTokenAlive(t *testing.T) {
	p := startPair(t, pairOpts{})
	for day := range 15 {
		p.clock.Advance(24 * time.Hour)
		if err := p.sync(); err != nil {
			t.Fatalf("day %d: %v", day+1, err)
		}
	}
	if st := p.status(); st.State != leaf.StateConnected {
		t.Fatalf("after 15 days of heartbeats: %+v", st)
	}
	// Without heartbeats the same token lapses after 14 days.
	p.clock.Advance(15 * 24 * time.Hour)
	if err := p.sync(); err == nil || p.status().State != leaf.StateTokenRejected {
		t.Fatalf("after 15 silent days: %v %+v", err, p.status())
	}
}

func TestOriginListsItsLeaves(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.mustSync()
	page := p.admin.Get("/leaf-nodes")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, knottest.AdminUsername) || !strings.Contains(page.Body, "online") {
		t.Fatalf("leaf nodes page = %d", page.StatusCode)
	}
	p.clock.Advance(time.Hour)
	if page := p.admin.Get("/leaf-nodes"); !strings.Contains(page.Body, "offline") {
		t.Fatal("a silent leaf still shows online")
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestLocalTemplatesStayOnTheLeaf(t *testing.T) {
	p := startPair(t, pairOpts{})
	p.mustSync()
	c := p.leaf.Login(knottest.AdminEmail, knottest.AdminPassword)
	res := c.JSONRequest(http.MethodPost, "/api/templates", map[string]any{
		"name": "my-local", "description": "only here", "zones": []string{}, "active": true, "body": "image: local",
	})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create local template on the leaf: %d %s", res.StatusCode, res.Body)
	}
	onLeaf := templateNames(t, c)
	if onLeaf["my-local"].Source != "local" || onLeaf["leaf-only"].Source != "cluster" {
		t.Fatalf("leaf list = %+v, want my-local (local) beside leaf-only (cluster)", onLeaf)
	}
	if _, ok := templateNames(t, p.admin)["my-local"]; ok {
		t.Fatal("a leaf's local template reached the origin")
	}
	// A sync replaces the cluster copies and leaves local templates alone.
	p.mustSync()
	if templateNames(t, c)["my-local"].Source != "local" {
		t.Fatal("a sync removed the leaf's local template")
	}
}

func TestOriginRateLimitsReachTheLeaf(t *testing.T) {
	p := startPair(t, pairOpts{origin: func(c *config.Config) { c.Server.AuthIPRateLimiting = true }})
	p.mustSync()
	const wrong = "wr0ng-Passw0rd"
	var last *knottest.Response
	for range 6 {
		last = signIn(p.leaf.Client(), knottest.AdminEmail, wrong)
	}
	if last.StatusCode != http.StatusTooManyRequests || !strings.Contains(last.Body, "Too many sign-in attempts. Try again in") || last.Header.Get("Retry-After") == "" {
		t.Fatalf("sixth wrong sign-in through the leaf = %d, want 429 with Retry-After", last.StatusCode)
	}
	// The origin logs each refusal and the throttling with the email, the
	// leaf's address and the leaf's token; nobody logs the password.
	logs := p.origin.Logs.String()
	for _, want := range []string{
		`msg="sign-in refused" via=leaf email=admin@example.com client=127.0.0.1 reason=bad_credentials leaf_token_id=` + ftoa(p.tokID),
		`msg="sign-in throttled" via=leaf email=admin@example.com client=127.0.0.1 reason=throttled leaf_token_id=` + ftoa(p.tokID),
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the origin's log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, wrong) || strings.Contains(p.leaf.Logs.String(), wrong) {
		t.Fatal("a password is in a log")
	}
	// What is not an address never goes to the origin.
	asked := strings.Count(logs, "via=leaf")
	if res := signIn(p.leaf.Client(), "admin@example.com\x00x", wrong); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a NUL in the email on the leaf = %d, want 401", res.StatusCode)
	}
	if strings.Count(p.origin.Logs.String(), "via=leaf") != asked {
		t.Fatal("the leaf sent a malformed email to the origin")
	}
	// Being limited is the origin saying no, not the origin being away: no
	// offline fallback, and the leaf stays connected.
	if st := p.status(); st.State != leaf.StateConnected {
		t.Fatalf("rate limiting marked the origin unreachable: %+v", st)
	}
}

func TestLeafDeactivationOutlastsTheNextSignIn(t *testing.T) {
	p := startPair(t, pairOpts{})
	c := p.leaf.Login(knottest.AdminEmail, knottest.AdminPassword)
	p.leaf.Server.DB().Model(&models.User{}).Where("email = ?", knottest.AdminEmail).Update("active", false)
	if res := c.Get("/api/users/whoami"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("deactivated on the leaf, session = %d", res.StatusCode)
	}
	res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "disabled on this leaf") {
		t.Fatalf("sign-in after deactivation on the leaf = %d", res.StatusCode)
	}
}

func TestOfflinePasswordIsForgottenWhenTheOriginSaysNo(t *testing.T) {
	p := startPair(t, pairOpts{})
	if res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("first sign-in = %d", res.StatusCode)
	}
	// The password changes on the origin; the old one is refused there...
	hash, _ := models.HashPassword("a brand new password")
	p.origin.Server.DB().Model(&models.User{}).Where("email = ?", knottest.AdminEmail).Update("password_hash", hash)
	if res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old password with the origin up = %d", res.StatusCode)
	}
	// ...so with the origin away it must not open the leaf either.
	p.origin.Stop()
	if res := signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword); res.StatusCode == http.StatusSeeOther {
		t.Fatal("a password the origin refused still signs in offline")
	}
}

func TestConcurrentSignInsWhileTheOriginIsDown(t *testing.T) {
	p := startPair(t, pairOpts{})
	signIn(p.leaf.Client(), knottest.AdminEmail, knottest.AdminPassword)
	p.leaf.Server.Leaf().WaitBackground()
	p.origin.Stop()
	svc := p.leaf.Server.Leaf()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			pw := knottest.AdminPassword
			if i%2 == 1 {
				pw = "wrong password"
			}
			svc.SignIn(context.Background(), knottest.AdminEmail, pw) //nolint:errcheck // the race detector is the assertion
		})
	}
	wg.Go(func() { svc.Sync(context.Background()) }) //nolint:errcheck // expected to fail: the origin is down
	wg.Wait()
	if st := p.status(); st.State != leaf.StateUnreachable || st.NextRetry.IsZero() {
		t.Fatalf("status after concurrent failures = %+v", st)
	}
}

func TestProtectedValuesReachOnlyVerifiedManagers(t *testing.T) {
	p := startPair(t, pairOpts{})
	for _, v := range []map[string]any{
		{"name": "PLAIN", "value": "plain-value"},
		{"name": "SECRET", "value": "s3cret-value", "protected": true},
	} {
		if res := p.admin.JSONRequest(http.MethodPost, "/api/templatevars", v); res.StatusCode != http.StatusCreated {
			t.Fatalf("create %v: %d %s", v["name"], res.StatusCode, res.Body)
		}
	}
	p.origin.CreateUser("dev", "dev@example.com", "devpassword", models.DeveloperRoleID)
	dev := p.origin.Login("dev@example.com", "devpassword")
	devToken, _ := createToken(t, dev, "dev's script")

	fetch := p.originVariables
	if body := fetch(p.token, ""); !strings.Contains(body, "s3cret-value") {
		t.Fatalf("the admin's verified leaf did not get the protected value: %s", body)
	}
	for name, body := range map[string]string{
		"a developer's token":         fetch(devToken, ""),
		"a leaf that does not verify": fetch(p.token, "?protected=false"),
	} {
		if strings.Contains(body, "s3cret") || strings.Contains(body, "SECRET") || !strings.Contains(body, "plain-value") {
			t.Errorf("%s got %s, want the plain variable only", name, body)
		}
	}
}

// A token whose owner may read protected values is not enough to fetch
// them all in one request: they go only to a leaf that said hello with
// that token, and every hand-over is logged like a reveal — who, which
// leaf, which variables, never the values.
func TestProtectedValuesGoOnlyToARegisteredLeafAndEachHandOverIsLogged(t *testing.T) {
	p := startPair(t, pairOpts{})
	for _, v := range []map[string]any{
		{"name": "PLAIN", "value": "plain-value"},
		{"name": "DB_PASSWORD", "value": "s3cret-db", "protected": true},
		{"name": "API_KEY", "value": "s3cret-api", "protected": true},
		{"name": "HOME_ONLY", "value": "s3cret-home", "protected": true, "restricted": true},
	} {
		if res := p.admin.JSONRequest(http.MethodPost, "/api/templatevars", v); res.StatusCode != http.StatusCreated {
			t.Fatalf("create %v: %d %s", v["name"], res.StatusCode, res.Body)
		}
	}
	script, scriptID := createToken(t, p.admin, "admin's script")
	fetch := func(token string) string { return p.originVariables(token, "") }
	// A script with the admin's token is no leaf: the protected values are
	// left out, exactly as for a caller who may not have them.
	if body := fetch(script); strings.Contains(body, "s3cret") || strings.Contains(body, "DB_PASSWORD") || !strings.Contains(body, "plain-value") {
		t.Fatalf("a token that never said hello got %s, want the plain variable only", body)
	}
	// (The pair's own leaf, told of the new variables, may fetch them
	// meanwhile: that hand-over names its own token.)
	handOver := `msg="protected variables sent to a leaf" by=1 username=admin token_id=` + ftoa(scriptID) + " "
	if strings.Contains(p.origin.Logs.String(), handOver) {
		t.Fatal("a hand-over to the script was logged though nothing protected was sent")
	}
	// Once it says hello, as the leaf client always does first, it is a
	// registered leaf and gets them.
	hello := p.origin.Client().Get(leaf.PathHello, "Authorization: Bearer "+script, leaf.HeaderLeafURL+": https://laptop.example:3000")
	if hello.StatusCode != http.StatusOK {
		t.Fatalf("hello = %d %s", hello.StatusCode, hello.Body)
	}
	if body := fetch(script); !strings.Contains(body, "s3cret-db") || !strings.Contains(body, "s3cret-api") || strings.Contains(body, "s3cret-home") {
		t.Fatalf("the registered leaf got %s, want both unrestricted protected values", body)
	}
	logs := p.origin.Logs.String()
	want := handOver + `leaf_url=https://laptop.example:3000 variables="[API_KEY DB_PASSWORD]"`
	if !strings.Contains(logs, want) {
		t.Fatalf("the origin's log lacks %q:\n%s", want, logs)
	}
	if strings.Contains(logs, "s3cret") {
		t.Fatal("a protected value is in the log")
	}
}

func TestHeartbeatRefreshesTheOwnersPermissions(t *testing.T) {
	p := startPair(t, pairOpts{})
	c := p.leaf.Login(knottest.AdminEmail, knottest.AdminPassword)
	// On the origin the admin loses the Admin role and becomes a Developer.
	db := p.origin.Server.DB()
	db.Exec("INSERT INTO user_roles (user_id, role_id) SELECT id, ? FROM users WHERE email = ?", models.DeveloperRoleID, knottest.AdminEmail)
	db.Exec("DELETE FROM user_roles WHERE role_id = ? AND user_id = (SELECT id FROM users WHERE email = ?)", models.AdminRoleID, knottest.AdminEmail)
	p.mustSync()
	var me struct {
		Roles       []string `json:"roles"`
		Permissions []string `json:"permissions"`
	}
	c.Get("/api/users/whoami").JSON(t, &me)
	if !slices.Equal(me.Roles, []string{"Developer"}) || !slices.Equal(me.Permissions, []string{models.PermUseAPITokens}) {
		t.Fatalf("after a heartbeat the owner on the leaf has %v %v, want the origin's Developer", me.Roles, me.Permissions)
	}
}
