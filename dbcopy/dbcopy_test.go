package dbcopy_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/dbcopy"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

const (
	devEmail    = "dev@example.com"
	devPassword = "another long passphrase"
)

// startStandalone starts a server on a SQLite file of its own, whatever
// database the suites run on: a standalone server is what gets copied.
func startStandalone(t *testing.T) *knottest.Instance {
	t.Helper()
	cfg := knottest.Config(t)
	cfg.Server.Postgres = config.Postgres{}
	return knottest.Start(t, cfg)
}

// clusterConfig is a server on the PostgreSQL database dsn with key as
// server.encrypt.
func clusterConfig(t *testing.T, dsn, key string) config.Config {
	t.Helper()
	cfg := knottest.Config(t)
	cfg.Server.Postgres = config.Postgres{Enabled: true, DSN: dsn}
	cfg.Server.Encrypt = key
	return cfg
}

type whoami struct {
	ID       uint     `json:"id"`
	Username string   `json:"username"`
	Roles    []string `json:"roles"`
}

func whoamiWithToken(t *testing.T, c *knottest.Client, token string) whoami {
	t.Helper()
	res := c.Get("/api/users/whoami", "Authorization: Bearer "+token)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("whoami with a copied token: status %d: %s", res.StatusCode, res.Body)
	}
	var w whoami
	res.JSON(t, &w)
	return w
}

func rows(rep dbcopy.Report, table string) int64 {
	for _, r := range rep.Copied {
		if r.Table == table {
			return r.Rows
		}
	}
	return -1
}

func TestACopiedStandaloneKeepsWorkingOnPostgreSQL(t *testing.T) {
	dsn := knottest.NewPostgresDatabase(t)
	src := startStandalone(t)
	admin := src.SetupAdmin()
	admin.Created("/api/roles", map[string]any{"name": "Auditors", "permissions": []string{"view_leaf_nodes"}})
	devID := admin.Created("/api/users", map[string]any{
		"username": "dev", "email": devEmail, "password": devPassword, "roles": []string{"Developer", "Auditors"},
	})
	dev := src.Login(devEmail, devPassword)
	adminTokenID, adminToken := admin.CreateAPIToken("ci")
	devTokenID, devToken := dev.CreateAPIToken("laptop")
	templateID := admin.Created("/api/templates", map[string]any{"name": "Go service", "body": "image: golang"})
	admin.Created("/api/templatevars", map[string]any{"name": "REGISTRY", "value": "registry.internal"})
	secretID := admin.Created("/api/templatevars", map[string]any{"name": "DB_PASSWORD", "value": "hunter2", "protected": true})
	usersBefore := admin.Get("/api/users").Body
	key, srcPath, srcURL := src.Cfg.Server.Encrypt, src.Cfg.Server.SQLite.Path, src.URL
	src.Stop()

	rep, err := dbcopy.Copy(context.Background(), dbcopy.Options{SQLitePath: srcPath, PostgresDSN: dsn, Sessions: true})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	for table, want := range map[string]int64{"roles": 3, "users": 2, "user_roles": 3, "system_setup": 1,
		"api_tokens": 2, "templates": 1, "template_vars": 2, "settings": 1} {
		if got := rows(rep, table); got != want {
			t.Errorf("report: %d rows of %s copied, want %d\n%s", got, table, want, rep)
		}
	}
	if rows(rep, "sessions") < 2 {
		t.Errorf("report: %d sessions copied, want the two signed-in browsers\n%s", rows(rep, "sessions"), rep)
	}
	if !rep.KeyCheck || !strings.Contains(rep.String(), "server.encrypt") || !strings.Contains(rep.String(), "encrypt.key") {
		t.Errorf("the report must say to use the standalone's server.encrypt and where to find it:\n%s", rep)
	}

	dst := knottest.Start(t, clusterConfig(t, dsn, key))
	c := dst.Client()
	// Ids, flags, roles and timestamps as the API shows them, before anyone
	// signs in on the new server and moves last_login_at.
	if after := c.Get("/api/users", "Authorization: Bearer "+adminToken).Body; after != usersBefore {
		t.Errorf("the users changed in the copy:\nbefore %s\nafter  %s", usersBefore, after)
	}
	if w := whoamiWithToken(t, c, adminToken); w.Username != knottest.AdminUsername {
		t.Errorf("the admin's token authenticates %+v", w)
	}
	w := whoamiWithToken(t, c, devToken)
	if w.ID != devID || w.Username != "dev" || !strings.Contains(strings.Join(w.Roles, ","), "Auditors") {
		t.Errorf("dev's token authenticates %+v, want user %d with the custom role Auditors", w, devID)
	}

	newAdmin := dst.Login(knottest.AdminEmail, knottest.AdminPassword)
	dst.Login(devEmail, devPassword)

	// The browser session of the standalone carries over: cookies are per
	// host, not port, so the same cookie is sent to the new server.
	moved := dst.Client()
	from, _ := url.Parse(srcURL)
	to, _ := url.Parse(dst.URL)
	moved.HTTP.Jar.SetCookies(to, admin.HTTP.Jar.Cookies(from))
	if res := moved.Get("/api/users/whoami"); res.StatusCode != http.StatusOK {
		t.Errorf("a copied browser session: status %d: %s", res.StatusCode, res.Body)
	}

	// Token ciphers and protected values open under the same key.
	if res := newAdmin.Get(fmt.Sprintf("/api-tokens/%d", adminTokenID)); !strings.Contains(res.Body, adminToken) {
		t.Errorf("the admin's token page does not show the token again: status %d", res.StatusCode)
	}
	if res := newAdmin.Get(fmt.Sprintf("/api/templates/%d", templateID)); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "Go service") {
		t.Errorf("the copied template: status %d: %s", res.StatusCode, res.Body)
	}
	res := newAdmin.Get(fmt.Sprintf("/api/templatevars/%d?reveal=true", secretID))
	var secret struct {
		Value *string `json:"value"`
	}
	res.JSON(t, &secret)
	if secret.Value == nil || *secret.Value != "hunter2" {
		t.Errorf("the protected variable reveals %v: status %d: %s", secret.Value, res.StatusCode, res.Body)
	}
	if res := newAdmin.Get("/api/templatevars"); !strings.Contains(res.Body, "registry.internal") {
		t.Errorf("the plain variable is missing: %s", res.Body)
	}

	// New rows continue after the copied ids instead of colliding with them.
	if id, _ := newAdmin.CreateAPIToken("after the move"); id <= max(adminTokenID, devTokenID) {
		t.Errorf("a new token got id %d, not after the copied ones", id)
	}
	if id := newAdmin.Created("/api/templates", map[string]any{"name": "Rust service", "body": "image: rust"}); id <= templateID {
		t.Errorf("a new template got id %d, not after %d", id, templateID)
	}
	newAdmin.Created("/api/roles", map[string]any{"name": "Reviewers", "permissions": []string{}})
	newAdmin.Created("/api/users", map[string]any{"username": "newcomer", "email": "new@example.com", "password": devPassword})
	newAdmin.Created("/api/templatevars", map[string]any{"name": "REGION", "value": "eu"})

	_, err = dbcopy.Copy(context.Background(), dbcopy.Options{SQLitePath: srcPath, PostgresDSN: dsn})
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "users (3)") {
		t.Errorf("copying into the used database again: %v, want a refusal naming its users", err)
	}
}

func TestAServerWithAnotherKeyRefusesToStartOnACopiedDatabase(t *testing.T) {
	dsn := knottest.NewPostgresDatabase(t)
	src := startStandalone(t)
	src.SetupAdmin()
	srcPath := src.Cfg.Server.SQLite.Path
	src.Stop()
	if _, err := dbcopy.Copy(context.Background(), dbcopy.Options{SQLitePath: srcPath, PostgresDSN: dsn}); err != nil {
		t.Fatalf("copy: %v", err)
	}

	err := knottest.StartRefused(t, clusterConfig(t, dsn, server.NewKey()), "a server with another server.encrypt started on the copied database")
	if !strings.Contains(err.Error(), "server.encrypt") {
		t.Errorf("the refusal does not name server.encrypt: %v", err)
	}
}

func TestCopyRefusesADatabaseAServerHasAlreadyStartedOn(t *testing.T) {
	dsn := knottest.NewPostgresDatabase(t)
	knottest.Start(t, clusterConfig(t, dsn, server.NewKey())).Stop()
	src := startStandalone(t)
	srcPath := src.Cfg.Server.SQLite.Path
	src.Stop()

	_, err := dbcopy.Copy(context.Background(), dbcopy.Options{SQLitePath: srcPath, PostgresDSN: dsn})
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "key check") {
		t.Errorf("copy into a database a server has claimed: %v, want a refusal naming the key check", err)
	}
}

// scsTimeFormat is how scs's sqlite3store hands an expiry to julianday().
const scsTimeFormat = "2006-01-02T15:04:05.999"

func TestSessionsMoveWithTheirExpiryAndExpiredOnesStayBehind(t *testing.T) {
	srcPath := filepath.Join(t.TempDir(), "knot.db")
	db, err := models.OpenSQLite(context.Background(), srcPath)
	if err != nil {
		t.Fatal(err)
	}
	live := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Millisecond)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO sessions (token, data, expiry) VALUES (?, ?, julianday(?))`, []any{"live", []byte("data"), live.Format(scsTimeFormat)}},
		{`INSERT INTO sessions (token, data, expiry) VALUES (?, ?, julianday(?))`, []any{"expired", []byte("old"), time.Now().Add(-time.Hour).UTC().Format(scsTimeFormat)}},
		{`INSERT INTO leaf_state (key, value) VALUES ('last_sync', 'x')`, nil},
		{`INSERT INTO login_throttle (key, tokens, updated_at) VALUES ('ip:127.0.0.1', 3, CURRENT_TIMESTAMP)`, nil},
	} {
		if err := db.Exec(q.sql, q.args...).Error; err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	models.Close(db)

	withSessions := knottest.NewPostgresDatabase(t)
	rep, err := dbcopy.Copy(context.Background(), dbcopy.Options{SQLitePath: srcPath, PostgresDSN: withSessions, Sessions: true})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if rows(rep, "sessions") != 1 {
		t.Errorf("report: %d sessions copied, want the live one\n%s", rows(rep, "sessions"), rep)
	}
	for _, table := range []string{"leaf_state", "login_throttle"} {
		if !strings.Contains(rep.String(), table) {
			t.Errorf("the report does not say %s stayed behind:\n%s", table, rep)
		}
	}
	pg, err := sql.Open("pgx", withSessions)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	var token, data string
	var expiry time.Time
	if err := pg.QueryRow(`SELECT token, data, expiry FROM sessions`).Scan(&token, &data, &expiry); err != nil {
		t.Fatalf("read the copied session: %v", err)
	}
	if token != "live" || data != "data" || expiry.Sub(live).Abs() > time.Millisecond {
		t.Errorf("copied session %q %q expires %v, want \"live\" \"data\" expiring %v", token, data, expiry, live)
	}

	without := knottest.NewPostgresDatabase(t)
	rep, err = dbcopy.Copy(context.Background(), dbcopy.Options{SQLitePath: srcPath, PostgresDSN: without})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if rows(rep, "sessions") != -1 || !strings.Contains(rep.String(), "--sessions") {
		t.Errorf("without Sessions the report must list sessions as not copied:\n%s", rep)
	}
}

func TestCopyRefusesAMissingSourceInsteadOfCreatingAnEmptyOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo", "knot.db")
	_, err := dbcopy.Copy(context.Background(), dbcopy.Options{SQLitePath: path, PostgresDSN: "postgres://knot@127.0.0.1:1/knot"})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("copy from a missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("the copy created %s", filepath.Dir(path))
	}
}

func TestAnUnreachableTargetIsNamedWithoutItsPassword(t *testing.T) {
	srcPath := filepath.Join(t.TempDir(), "knot.db")
	db, err := models.OpenSQLite(context.Background(), srcPath)
	if err != nil {
		t.Fatal(err)
	}
	models.Close(db)
	_, err = dbcopy.Copy(context.Background(), dbcopy.Options{SQLitePath: srcPath, PostgresDSN: "postgres://knot:Sup3rS3cret@127.0.0.1:1/knot?connect_timeout=5"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("copy to a closed port: %v, want an error naming the host", err)
	}
	if strings.Contains(err.Error(), "Sup3rS3cret") {
		t.Errorf("the error repeats the password: %v", err)
	}
}
