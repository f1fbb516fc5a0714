package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// writeConfig writes body to a knot.toml in a fresh temp dir and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "knot.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// load writes body to a temp file and loads it with env as the environment.
func load(t *testing.T, body string, env ...string) (Config, []string, error) {
	t.Helper()
	return Load(writeConfig(t, body), env)
}

// mustLoad is load that fails the test on an error.
func mustLoad(t *testing.T, body string, env ...string) (Config, []string) {
	t.Helper()
	cfg, warnings, err := load(t, body, env...)
	if err != nil {
		t.Fatalf("Load: unexpected error: %v\nfile:\n%s", err, body)
	}
	return cfg, warnings
}

// parseTOML parses body, so a test can ask which keys it sets.
func parseTOML(t *testing.T, body string) toml.MetaData {
	t.Helper()
	var raw map[string]any
	md, err := toml.Decode(body, &raw)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func hostnameOrKnot() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "knot"
	}
	return host
}

// selfSignedPEM returns a PEM-encoded self-signed ECDSA certificate.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "knot-origin.test"},
		DNSNames:              []string{"knot-origin.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func key32(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestDefaults(t *testing.T) {
	for name, body := range map[string]string{
		"empty file":    "",
		"only comments": "# nothing set here\n\n",
		"empty tables":  "[server]\n[server.tls]\n[server.origin]\n[log]\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg, warnings := mustLoad(t, body)
			if len(warnings) != 0 {
				t.Errorf("warnings = %q, want none", warnings)
			}
			checks := []struct {
				what      string
				got, want any
			}{
				{"server.listen", cfg.Server.Listen, ":3000"},
				{"server.url", cfg.Server.URL, "https://localhost:3000"},
				{"server.encrypt", cfg.Server.Encrypt, ""},
				{"server.zone", cfg.Server.Zone, hostnameOrKnot()},
				{"server.auth_ip_rate_limiting", cfg.Server.AuthIPRateLimiting, true},
				{"server.setup_from_loopback", cfg.Server.SetupFromLoopback, false},
				{"server.session_idle_timeout", cfg.Server.SessionIdleTimeout.D(), 2 * time.Hour},
				{"server.token_sweep_interval", cfg.Server.TokenSweepInterval.D(), time.Hour},
				{"server.max_sessions_per_user", cfg.Server.MaxSessionsPerUser, 20},
				{"server.max_tokens_per_user", cfg.Server.MaxTokensPerUser, 1000},
				{"server.tls.use_tls", cfg.Server.TLS.UseTLS, true},
				{"server.tls.cert_file", cfg.Server.TLS.CertFile, ""},
				{"server.tls.key_file", cfg.Server.TLS.KeyFile, ""},
				{"server.sqlite.path", cfg.Server.SQLite.Path, "./data/knot.db"},
				{"server.postgres.enabled", cfg.Server.Postgres.Enabled, false},
				{"server.postgres.dsn", cfg.Server.Postgres.DSN, ""},
				{"server.cluster.allow_leaf_nodes", cfg.Server.Cluster.AllowLeafNodes, true},
				{"server.cluster.leaf_login", cfg.Server.Cluster.LeafLogin, "owner"},
				{"server.origin.server", string(cfg.Server.Origin.Server), ""},
				{"server.origin.token", cfg.Server.Origin.Token, ""},
				{"server.origin.ca_file", cfg.Server.Origin.CAFile, ""},
				{"server.origin.skip_verify", cfg.Server.Origin.SkipVerify, false},
				{"server.origin.heartbeat_interval", cfg.Server.Origin.HeartbeatInterval.D(), 30 * time.Second},
				{"server.ui.hide_api_tokens", cfg.Server.UI.HideAPITokens, false},
				{"log.level", cfg.Log.Level, "info"},
				{"IsLeaf()", cfg.IsLeaf(), false},
				{"ZoneName()", cfg.ZoneName(), hostnameOrKnot()},
				{"DataDir()", cfg.DataDir(), "data"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestLoadWithoutFileUsesDefaults(t *testing.T) {
	cfg, warnings, err := Load("", nil)
	if err != nil {
		t.Fatalf("Load(\"\"): %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	want := Default()
	if cfg != want {
		t.Errorf("Load(\"\") = %+v, want Default() = %+v", cfg, want)
	}
}

// override is what a file and the environment set, and what Load must then give.
type override struct {
	name  string
	body  string
	env   []string
	check func(c Config) (got, want any)
}

func expectOverrides(t *testing.T, tests []override) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustLoad(t, tt.body, tt.env...)
			if got, want := tt.check(cfg); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestFileOverridesDefaults(t *testing.T) {
	expectOverrides(t, []override{
		{"listen", "[server]\nlisten = \"127.0.0.1:8080\"\n", nil,
			func(c Config) (any, any) { return c.Server.Listen, "127.0.0.1:8080" }},
		{"url", "[server]\nurl = \"https://knot.internal:8443\"\n", nil,
			func(c Config) (any, any) { return c.Server.URL, "https://knot.internal:8443" }},
		{"zone", "[server]\nzone = \"eu-west\"\n", nil,
			func(c Config) (any, any) { return c.Server.Zone, "eu-west" }},
		{"zone trimmed", "[server]\nzone = \"  eu-west \"\n", nil,
			func(c Config) (any, any) { return c.Server.Zone, "eu-west" }},
		{"auth_ip_rate_limiting", "[server]\nauth_ip_rate_limiting = false\n", nil,
			func(c Config) (any, any) { return c.Server.AuthIPRateLimiting, false }},
		{"setup_from_loopback", "[server]\nsetup_from_loopback = true\n", nil,
			func(c Config) (any, any) { return c.Server.SetupFromLoopback, true }},
		{"session_idle_timeout", "[server]\nsession_idle_timeout = \"45m\"\n", nil,
			func(c Config) (any, any) { return c.Server.SessionIdleTimeout.D(), 45 * time.Minute }},
		{"token_sweep_interval", "[server]\ntoken_sweep_interval = \"10m\"\n", nil,
			func(c Config) (any, any) { return c.Server.TokenSweepInterval.D(), 10 * time.Minute }},
		{"use_tls", "[server]\nurl = \"http://localhost:3000\"\n[server.tls]\nuse_tls = false\n", nil,
			func(c Config) (any, any) { return c.Server.TLS.UseTLS, false }},
		{"cert and key", "[server.tls]\ncert_file = \"/etc/knot/c.pem\"\nkey_file = \"/etc/knot/k.pem\"\n", nil,
			func(c Config) (any, any) {
				return c.Server.TLS.CertFile + "|" + c.Server.TLS.KeyFile, "/etc/knot/c.pem|/etc/knot/k.pem"
			}},
		{"sqlite path", "[server.sqlite]\npath = \"/var/lib/knot/db.sqlite\"\n", nil,
			func(c Config) (any, any) { return c.Server.SQLite.Path, "/var/lib/knot/db.sqlite" }},
		{"sqlite path moves data dir", "[server.sqlite]\npath = \"/var/lib/knot/db.sqlite\"\n", nil,
			func(c Config) (any, any) { return c.DataDir(), "/var/lib/knot" }},
		{"postgres dsn", "[server.postgres]\ndsn = \"postgres://u@h/db\"\n", nil,
			func(c Config) (any, any) { return c.Server.Postgres.DSN, "postgres://u@h/db" }},
		{"allow_leaf_nodes", "[server.cluster]\nallow_leaf_nodes = false\n", nil,
			func(c Config) (any, any) { return c.Server.Cluster.AllowLeafNodes, false }},
		{"leaf_login any", "[server.cluster]\nleaf_login = \"any\"\n", nil,
			func(c Config) (any, any) { return c.Server.Cluster.LeafLogin, "any" }},
		{"heartbeat", "[server.origin]\nheartbeat_interval = \"1m30s\"\n", nil,
			func(c Config) (any, any) { return c.Server.Origin.HeartbeatInterval.D(), 90 * time.Second }},
		{"heartbeat lower bound", "[server.origin]\nheartbeat_interval = \"1s\"\n", nil,
			func(c Config) (any, any) { return c.Server.Origin.HeartbeatInterval.D(), time.Second }},
		{"heartbeat upper bound", "[server.origin]\nheartbeat_interval = \"720h\"\n", nil,
			func(c Config) (any, any) { return c.Server.Origin.HeartbeatInterval.D(), 720 * time.Hour }},
		{"hide_api_tokens", "[server.ui]\nhide_api_tokens = true\n", nil,
			func(c Config) (any, any) { return c.Server.UI.HideAPITokens, true }},
		{"log level", "[log]\nlevel = \"debug\"\n", nil,
			func(c Config) (any, any) { return c.Log.Level, "debug" }},
		{"dotted keys", "server.listen = \":5000\"\nlog.level = \"warn\"\n", nil,
			func(c Config) (any, any) { return c.Server.Listen + "|" + c.Log.Level, ":5000|warn" }},
		{"inline table", "server = { tls = { use_tls = false }, url = \"http://h\" }\n", nil,
			func(c Config) (any, any) { return c.Server.TLS.UseTLS, false }},
	})
}

// envTestFile is the file the environment overrides in TestEnvOverridesFile.
const envTestFile = `server.listen = ":3500"
server.url = "https://file.example:3500"
server.zone = "file-zone"
server.session_idle_timeout = "3h"
server.tls.use_tls = true
server.origin.server = "https://origin.example"
server.origin.token = "from-file"
server.origin.heartbeat_interval = "10s"
server.ui.hide_api_tokens = false
log.level = "warn"
`

func TestEnvOverridesFile(t *testing.T) {
	expectOverrides(t, []override{
		{"no env keeps file", envTestFile, nil,
			func(c Config) (any, any) { return c.Server.Listen, ":3500" }},
		{"listen", envTestFile, []string{"KNOT_SERVER_LISTEN=:4000"},
			func(c Config) (any, any) { return c.Server.Listen, ":4000" }},
		{"use_tls false", envTestFile, []string{"KNOT_SERVER_TLS_USE_TLS=false"},
			func(c Config) (any, any) { return c.Server.TLS.UseTLS, false }},
		{"use_tls 0", envTestFile, []string{"KNOT_SERVER_TLS_USE_TLS=0"},
			func(c Config) (any, any) { return c.Server.TLS.UseTLS, false }},
		{"bool with spaces", envTestFile, []string{"KNOT_SERVER_UI_HIDE_API_TOKENS= true "},
			func(c Config) (any, any) { return c.Server.UI.HideAPITokens, true }},
		{"origin token", envTestFile, []string{"KNOT_SERVER_ORIGIN_TOKEN=x"},
			func(c Config) (any, any) { return c.Server.Origin.Token, "x" }},
		{"empty env value clears file value", envTestFile, []string{"KNOT_SERVER_ORIGIN_TOKEN="},
			func(c Config) (any, any) { return c.IsLeaf(), false }},
		{"env value containing =", envTestFile, []string{"KNOT_SERVER_ORIGIN_TOKEN=a=b=="},
			func(c Config) (any, any) { return c.Server.Origin.Token, "a=b==" }},
		{"url", envTestFile, []string{"KNOT_SERVER_URL=https://env.example"},
			func(c Config) (any, any) { return c.Server.URL, "https://env.example" }},
		{"duration", envTestFile, []string{"KNOT_SERVER_SESSION_IDLE_TIMEOUT=15m"},
			func(c Config) (any, any) { return c.Server.SessionIdleTimeout.D(), 15 * time.Minute }},
		{"nested duration", envTestFile, []string{"KNOT_SERVER_ORIGIN_HEARTBEAT_INTERVAL=5s"},
			func(c Config) (any, any) { return c.Server.Origin.HeartbeatInterval.D(), 5 * time.Second }},
		{"log level", envTestFile, []string{"KNOT_LOG_LEVEL=error"},
			func(c Config) (any, any) { return c.Log.Level, "error" }},
		{"key not in file", envTestFile, []string{"KNOT_SERVER_CLUSTER_LEAF_LOGIN=any"},
			func(c Config) (any, any) { return c.Server.Cluster.LeafLogin, "any" }},
		{"lower-case name ignored", envTestFile, []string{"knot_server_listen=:4000"},
			func(c Config) (any, any) { return c.Server.Listen, ":3500" }},
		{"unrelated vars ignored", envTestFile, []string{"PATH=/usr/bin", "HOME=/root", "KNOT_NOT_A_KEY=1"},
			func(c Config) (any, any) { return c.Server.Listen, ":3500" }},
		{"last duplicate wins", envTestFile, []string{"KNOT_SERVER_LISTEN=:4000", "KNOT_SERVER_LISTEN=:4001"},
			func(c Config) (any, any) { return c.Server.Listen, ":4001" }},
	})
}

func TestEnvOverridesDefaultsWithoutFile(t *testing.T) {
	cfg, _, err := Load("", []string{"KNOT_SERVER_LISTEN=:4000", "KNOT_SERVER_ORIGIN_SERVER=https://o.example", "KNOT_SERVER_ORIGIN_TOKEN=x"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != ":4000" || !cfg.IsLeaf() {
		t.Errorf("listen = %q, IsLeaf = %v; want :4000, true", cfg.Server.Listen, cfg.IsLeaf())
	}
}

func TestEnvName(t *testing.T) {
	tests := map[string]string{
		"server.tls.use_tls":               "KNOT_SERVER_TLS_USE_TLS",
		"server.listen":                    "KNOT_SERVER_LISTEN",
		"server.origin.token":              "KNOT_SERVER_ORIGIN_TOKEN",
		"server.origin.heartbeat_interval": "KNOT_SERVER_ORIGIN_HEARTBEAT_INTERVAL",
		"log.level":                        "KNOT_LOG_LEVEL",
	}
	for key, want := range tests {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}

// envTestValues gives every key a value unlike its default.
var envTestValues = map[string]string{
	"server.listen":                    ":4000",
	"server.url":                       "https://env.example",
	"server.encrypt":                   base64.StdEncoding.EncodeToString(key32(7)),
	"server.zone":                      "env-zone",
	"server.auth_ip_rate_limiting":     "false",
	"server.setup_from_loopback":       "true",
	"server.session_idle_timeout":      "5m",
	"server.token_sweep_interval":      "6m",
	"server.max_sessions_per_user":     "7",
	"server.max_tokens_per_user":       "25",
	"server.tls.use_tls":               "false",
	"server.tls.cert_file":             "/c.pem",
	"server.tls.key_file":              "/k.pem",
	"server.sqlite.path":               "/tmp/env.db",
	"server.postgres.enabled":          "false",
	"server.postgres.dsn":              "postgres://env",
	"server.metrics.listen":            "127.0.0.1:9100",
	"server.cluster.allow_leaf_nodes":  "false",
	"server.cluster.leaf_login":        "any",
	"server.origin.server":             "https://origin.env",
	"server.origin.token":              "envtoken",
	"server.origin.ca_file":            "",
	"server.origin.skip_verify":        "true",
	"server.origin.heartbeat_interval": "7s",
	"server.ui.hide_api_tokens":        "true",
	"log.level":                        "debug",
}

// Every key can be set through its environment variable.
func TestEveryKeyHasWorkingEnvVar(t *testing.T) {
	keys := Keys()
	if len(keys) != len(envTestValues) {
		t.Fatalf("Keys() has %d keys, this test knows %d: update it (%q)", len(keys), len(envTestValues), keys)
	}
	var env []string
	for _, k := range keys {
		v, ok := envTestValues[k]
		if !ok {
			t.Fatalf("no test value for key %q", k)
		}
		env = append(env, EnvName(k)+"="+v)
	}
	cfg, _, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Server: Server{
			Listen:             ":4000",
			URL:                "https://env.example",
			Encrypt:            envTestValues["server.encrypt"],
			Zone:               "env-zone",
			AuthIPRateLimiting: false,
			SetupFromLoopback:  true,
			SessionIdleTimeout: Duration(5 * time.Minute),
			TokenSweepInterval: Duration(6 * time.Minute),
			MaxSessionsPerUser: 7,
			MaxTokensPerUser:   25,
			TLS:                TLS{UseTLS: false, CertFile: "/c.pem", KeyFile: "/k.pem"},
			SQLite:             SQLite{Path: "/tmp/env.db"},
			Postgres:           Postgres{DSN: "postgres://env"},
			Metrics:            Metrics{Listen: "127.0.0.1:9100"},
			Cluster:            Cluster{AllowLeafNodes: false, LeafLogin: "any"},
			Origin: Origin{Server: "https://origin.env", Token: "envtoken", SkipVerify: true,
				HeartbeatInterval: Duration(7 * time.Second)},
			UI: UI{HideAPITokens: true},
		},
		Log: Log{Level: "debug"},
	}
	if cfg != want {
		t.Errorf("Load from env =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestKeys(t *testing.T) {
	keys := Keys()
	for _, k := range []string{"server.listen", "server.tls.use_tls", "server.origin.token", "log.level"} {
		if !slices.Contains(keys, k) {
			t.Errorf("Keys() lacks %q", k)
		}
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("Keys() lists %q twice", k)
		}
		seen[k] = true
	}
}

// refusal is a value knot.toml may not give key, and what the error must
// say besides naming the key.
type refusal struct {
	key   string
	value string // as written in TOML
	want  []string
}

// expectRefused loads a file that sets each key to its value (as a dotted
// key) and expects a *KeyError for that key.
func expectRefused(t *testing.T, cases []refusal) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.key+" = "+c.value, func(t *testing.T) {
			expectLoadError(t, loadError{body: c.key + " = " + c.value + "\n", wantKey: c.key, want: append([]string{c.key}, c.want...)})
		})
	}
}

// loadError is a knot.toml and environment that Load must refuse.
type loadError struct {
	name    string
	body    string
	env     []string
	wantKey string   // KeyError.Key; empty when the error is not a *KeyError
	want    []string // substrings the error must contain
	notWant []string // substrings it must not contain
}

func expectLoadError(t *testing.T, tt loadError) {
	t.Helper()
	_, warnings, err := load(t, tt.body, tt.env...)
	if err == nil {
		t.Fatalf("Load succeeded (warnings %q), want an error", warnings)
	}
	if warnings != nil {
		t.Errorf("warnings = %q alongside an error, want nil", warnings)
	}
	msg := err.Error()
	for _, w := range tt.want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
	for _, nw := range tt.notWant {
		if strings.Contains(msg, nw) {
			t.Errorf("error %q contains %q, which it must not", msg, nw)
		}
	}
	if tt.wantKey == "" {
		return
	}
	var ke *KeyError
	if !errors.As(err, &ke) {
		t.Fatalf("error %T %q is not a *KeyError", err, msg)
	}
	if ke.Key != tt.wantKey {
		t.Errorf("KeyError.Key = %q, want %q", ke.Key, tt.wantKey)
	}
	if ke.Allowed == "" {
		t.Errorf("KeyError.Allowed is empty: the error should say what is allowed")
	}
}

func TestWrongTOMLTypesAreRefused(t *testing.T) {
	expectRefused(t, []refusal{
		{"server.tls.use_tls", `"yes"`, []string{"yes", "true or false"}},
		{"server.ui.hide_api_tokens", `1`, []string{"true or false"}},
		{"server.listen", `true`, []string{"true", "string"}},
		{"server.listen", `3000`, []string{"3000", "string"}},
		{"log.level", `["info"]`, nil},
		{"server.sqlite.path", `{ x = 1 }`, nil},
		{"server.origin.heartbeat_interval", `30`, []string{"30", "duration"}},
		{"server.origin.server", `3000`, []string{"3000", "array of them"}},
		{"server.origin.server", `["https://a.internal", 3000]`, []string{"https://a.internal", "3000", "array of them"}},
		{"server.max_tokens_per_user", `10.0`, []string{"10", "whole number"}},
		{"server.max_tokens_per_user", `"many"`, []string{"whole number"}},
	})
}

func TestBadAddressesAreRefused(t *testing.T) {
	expectRefused(t, []refusal{
		{"server.listen", `"localhost"`, []string{"localhost", "host:port"}},
		{"server.listen", `""`, nil},
		{"server.listen", `":70000"`, []string{":70000", "port"}},
		{"server.listen", `":http-alt"`, []string{":http-alt", "port"}},
		{"server.listen", `"127.0.0.1:-1"`, []string{"127.0.0.1:-1", "port"}},
		{"server.listen", `":"`, []string{"port"}},
		{"server.metrics.listen", `"nine-one-hundred"`, []string{"nine-one-hundred"}},

		{"server.url", `"localhost:3000"`, []string{"localhost:3000", "http"}},
		{"server.url", `"ftp://knot.internal"`, []string{"ftp://knot.internal"}},
		{"server.url", `"https://"`, []string{"https://"}},
		{"server.url", `"https://:3000"`, []string{"https://:3000"}},
		{"server.url", `"https://h:port"`, []string{"https://h:port"}},
		{"server.url", `"/knot"`, []string{"/knot"}},
	})
}

func TestBadOriginIsRefused(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("this is not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyPEM := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	expectRefused(t, []refusal{
		{"server.origin.server", `"ftp://origin.example"`, []string{"ftp://origin.example"}},
		{"server.origin.server", `"https://origin.example/?a=b"`, []string{"https://origin.example/?a=b"}},
		{"server.origin.server", `"https://origin.example?"`, []string{"https://origin.example?"}},
		{"server.origin.server", `"https://origin.example/#x"`, nil},
		{"server.origin.server", `"https:///knot"`, []string{"https:///knot"}},
		{"server.origin.server", `"https://:3000"`, []string{"https://:3000"}},
		{"server.origin.server", `"origin.example:3000"`, []string{"origin.example:3000"}},
		{"server.origin.server", `"https://u@origin.example"`, nil},
		{"server.origin.server", `"http://0/@"`, nil},
		{"server.origin.server", `"https://origin.example/knot@other.example"`, nil},

		{"server.origin.ca_file", strconv.Quote(missing), []string{missing, "cannot read"}},
		{"server.origin.ca_file", strconv.Quote(notPEM), []string{notPEM, "no PEM certificate"}},
		{"server.origin.ca_file", strconv.Quote(keyPEM), []string{keyPEM, "no PEM certificate"}},
	})
}

func TestBadDurationsAndLimitsAreRefused(t *testing.T) {
	expectRefused(t, []refusal{
		{"server.origin.heartbeat_interval", `"30 seconds"`, []string{"30 seconds", "duration"}},
		{"server.token_sweep_interval", `"60"`, []string{"60"}},
		{"server.origin.heartbeat_interval", `"500ms"`, []string{"500ms", "1s"}},
		{"server.token_sweep_interval", `"0s"`, []string{"0s"}},
		{"server.session_idle_timeout", `"-5m"`, []string{"-5m"}},
		{"server.session_idle_timeout", `"721h"`, []string{"721h", "720h"}},
		// Activity is written at most once a minute, so a shorter idle
		// timeout would sign out people who are using the site.
		{"server.session_idle_timeout", `"30s"`, []string{"30s", "1m"}},
		{"server.max_tokens_per_user", `0`, []string{"1 to 1000000"}},
		{"server.max_sessions_per_user", `0`, []string{"0", "at least 1"}},
	})
}

func TestOtherBadValuesAreRefused(t *testing.T) {
	expectRefused(t, []refusal{
		{"server.zone", `"!eu"`, []string{"!eu", "'!'"}},
		{"server.zone", `"eu,us"`, []string{"eu,us"}},
		{"server.zone", `"   "`, nil},
		{"server.tls.cert_file", `"/etc/knot/cert.pem"`, []string{"/etc/knot/cert.pem", "server.tls.key_file"}},
		{"server.sqlite.path", `""`, nil},
		{"server.sqlite.path", `"  "`, nil},
		{"server.cluster.leaf_login", `"everyone"`, []string{"everyone", "owner", "any"}},
		{"server.cluster.leaf_login", `""`, nil},
		{"server.cluster.leaf_login", `"Owner"`, []string{"Owner"}},
		{"log.level", `"verbose"`, []string{"verbose", "debug", "info", "warn", "error"}},
		{"log.level", `"INFO"`, []string{"INFO"}},
	})
}

func TestSecretsAreNotEchoedWhenRefused(t *testing.T) {
	shortKey := base64.StdEncoding.EncodeToString(key32(9)[:16])
	longKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 48))
	const notBase64 = "sup3r$ecret!key*material"
	for _, tt := range []loadError{
		{name: "wrong type for token", body: "server.origin.token = 918273645\n",
			wantKey: "server.origin.token", want: []string{"server.origin.token", "string"}, notWant: []string{"918273645"}},
		{name: "wrong type for encrypt", body: "server.encrypt = 918273645\n",
			wantKey: "server.encrypt", want: []string{"server.encrypt"}, notWant: []string{"918273645"}},
		{name: "wrong type for dsn", body: "server.postgres.dsn = 918273645\n",
			wantKey: "server.postgres.dsn", want: []string{"server.postgres.dsn"}, notWant: []string{"918273645"}},
		{name: "encrypt not base64", body: "server.encrypt = \"" + notBase64 + "\"\n",
			wantKey: "server.encrypt", want: []string{"server.encrypt", "not base64", "knot genkey"}, notWant: []string{notBase64, "sup3r"}},
		{name: "encrypt too short", body: "server.encrypt = \"" + shortKey + "\"\n",
			wantKey: "server.encrypt", want: []string{"server.encrypt", "16 bytes", "32"}, notWant: []string{shortKey, strings.TrimRight(shortKey, "=")}},
		{name: "encrypt too long", body: "server.encrypt = \"" + longKey + "\"\n",
			wantKey: "server.encrypt", want: []string{"server.encrypt", "48 bytes"}, notWant: []string{longKey}},
		{name: "encrypt bad via env", env: []string{"KNOT_SERVER_ENCRYPT=" + notBase64},
			wantKey: "server.encrypt", want: []string{"server.encrypt"}, notWant: []string{notBase64}},
		{name: "postgres dsn of another scheme", body: "[server.postgres]\nenabled = true\ndsn = \"mysql://u:s3cret@h/db\"\n",
			wantKey: "server.postgres.dsn", want: []string{"server.postgres.dsn", "postgres://"}, notWant: []string{"s3cret"}},
		{name: "postgres dsn neither url nor pairs", body: "[server.postgres]\nenabled = true\ndsn = \"s3cret\"\n",
			wantKey: "server.postgres.dsn", want: []string{"server.postgres.dsn"}, notWant: []string{"s3cret"}},
	} {
		t.Run(tt.name, func(t *testing.T) { expectLoadError(t, tt) })
	}
}

// Errors about one key caused by another name the key that must change.
func TestLoadErrors(t *testing.T) {
	for _, tt := range []loadError{
		{name: "key without cert", body: "[server.tls]\nkey_file = \"/etc/knot/key.pem\"\n",
			wantKey: "server.tls.cert_file", want: []string{"server.tls.cert_file", "server.tls.key_file"}},
		{name: "postgres enabled without dsn", body: "[server.postgres]\nenabled = true\n",
			wantKey: "server.postgres.dsn", want: []string{"server.postgres.dsn", "server.postgres.enabled is true"}},
		{name: "env postgres enabled without dsn", env: []string{"KNOT_SERVER_POSTGRES_ENABLED=true"},
			wantKey: "server.postgres.dsn", want: []string{"server.postgres.dsn"}},
		{name: "env bad listen", env: []string{"KNOT_SERVER_LISTEN=:99999"},
			wantKey: "server.listen", want: []string{"server.listen", ":99999"}},
		{name: "origin bad via env", env: []string{"KNOT_SERVER_ORIGIN_SERVER=ftp://o"},
			wantKey: "server.origin.server", want: []string{"server.origin.server", "ftp://o"}},
	} {
		t.Run(tt.name, func(t *testing.T) { expectLoadError(t, tt) })
	}
}

// A value the environment gets wrong is named by its variable and its key.
func TestBadEnvironmentValuesAreRefused(t *testing.T) {
	for _, tt := range []loadError{
		{name: "bool", env: []string{"KNOT_SERVER_TLS_USE_TLS=nope"}, wantKey: "KNOT_SERVER_TLS_USE_TLS (server.tls.use_tls)",
			want: []string{"KNOT_SERVER_TLS_USE_TLS", "server.tls.use_tls", "nope", "true or false"}},
		{name: "bool overriding a good file", body: "[server.ui]\nhide_api_tokens = true\n", env: []string{"KNOT_SERVER_UI_HIDE_API_TOKENS=yes"},
			wantKey: "KNOT_SERVER_UI_HIDE_API_TOKENS (server.ui.hide_api_tokens)", want: []string{"KNOT_SERVER_UI_HIDE_API_TOKENS", "yes"}},
		{name: "duration", env: []string{"KNOT_SERVER_ORIGIN_HEARTBEAT_INTERVAL=soon"}, wantKey: "KNOT_SERVER_ORIGIN_HEARTBEAT_INTERVAL (server.origin.heartbeat_interval)",
			want: []string{"KNOT_SERVER_ORIGIN_HEARTBEAT_INTERVAL", "soon", "duration"}},
		{name: "whole number", env: []string{"KNOT_SERVER_MAX_TOKENS_PER_USER=lots"}, wantKey: "KNOT_SERVER_MAX_TOKENS_PER_USER (server.max_tokens_per_user)",
			want: []string{"KNOT_SERVER_MAX_TOKENS_PER_USER", "lots", "whole number"}},
	} {
		t.Run(tt.name, func(t *testing.T) { expectLoadError(t, tt) })
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // unknown keys, each must be named in exactly one warning
	}{
		{"typo in key", "[server]\nlisen = \":3000\"\n", []string{"server.lisen"}},
		{"whole unknown table", "[foo]\nbar = 1\n", []string{"foo.bar"}},
		{"unknown top-level key", "colour = \"blue\"\n", []string{"colour"}},
		{"unknown nested key", "[server.tls]\nuse_tls = true\nciphers = \"all\"\n", []string{"server.tls.ciphers"}},
		{"typo in table", "[server.orgin]\nserver = \"https://o\"\n", []string{"server.orgin.server"}},
		{"several", "[server]\nlisen = \":1\"\n[log]\nlevle = \"info\"\nformat = \"json\"\n",
			[]string{"log.format", "log.levle", "server.lisen"}},
		// toml itself matches names case-insensitively; knot.toml does not.
		{"wrong case", "[Server]\nListen = \":4000\"\n", []string{"Server.Listen"}},
		{"wrong case in a known table", "[server]\nLISTEN = \":4000\"\n", []string{"server.LISTEN"}},
		{"wrong case of a dotted key", "server.Listen = \":4000\"\n", []string{"server.Listen"}},
		{"wrong case with the wrong type", "[server]\nListen = 4000\n", []string{"server.Listen"}},
		{"letter that folds to s", "[\"\u017Ferver\"]\nlisten = \":4000\"\n", []string{"\"\u017Ferver\".listen"}},
		{"wrong-case table keeps its unknown keys", "[SERVER.TLS]\nuse_tls = false\nciphers = \"all\"\n",
			[]string{"SERVER.TLS.use_tls", "SERVER.TLS.ciphers"}},
		{"dotted key below a wrong-case table", "[Server]\na.b = 1\n", []string{"Server.a.b"}},
		{"table written as a value", "[server]\ntls = 1\n", []string{"server.tls"}},
		{"known table as an array of tables", "[[server.tls]]\nuse_tls = false\n[[server.tls]]\n", []string{"server.tls"}},
		{"unknown array of tables named once", "[[foo]]\nx = 1\n[[foo]]\ny = 2\n", []string{"foo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.body)
			cfg, warnings, err := Load(path, nil)
			if err != nil {
				t.Fatalf("Load: %v (unknown keys must warn, not fail)", err)
			}
			if len(warnings) != len(tt.want) {
				t.Errorf("warnings = %q, want %d", warnings, len(tt.want))
			}
			for _, key := range tt.want {
				n := 0
				for _, w := range warnings {
					if strings.Contains(w, strconv.Quote(key)) {
						n++
						if !strings.Contains(w, "unknown") || !strings.Contains(w, path) {
							t.Errorf("warning %q should say the key is unknown and name %s", w, path)
						}
					}
				}
				if n != 1 {
					t.Errorf("%d warnings name %q, want 1: %q", n, key, warnings)
				}
			}
			if cfg.Server.Listen != ":3000" {
				t.Errorf("unknown keys changed server.listen to %q", cfg.Server.Listen)
			}
		})
	}
}

// everyKeyFile sets every key knot knows; ENCRYPT and CA_FILE are filled in by the test.
const everyKeyFile = `[server]
listen = "127.0.0.1:3001"
url = "https://knot.internal:3001"
encrypt = "ENCRYPT"
zone = "eu-west"
auth_ip_rate_limiting = false
setup_from_loopback = false
session_idle_timeout = "30m"
token_sweep_interval = "2h"
max_sessions_per_user = 5
max_tokens_per_user = 50

[server.tls]
use_tls = true
cert_file = "/etc/knot/cert.pem"
key_file = "/etc/knot/key.pem"

[server.sqlite]
path = "/var/lib/knot/knot.db"

[server.postgres]
enabled = false
dsn = ""

[server.metrics]
listen = "127.0.0.1:9100"

[server.cluster]
allow_leaf_nodes = false
leaf_login = "any"

[server.origin]
server = "https://origin.internal:3000/"
token = "tok"
ca_file = "CA_FILE"
skip_verify = false
heartbeat_interval = "15s"

[server.ui]
hide_api_tokens = true

[log]
level = "warn"
`

func TestKnownKeysGiveNoWarnings(t *testing.T) {
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caPath, selfSignedPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	body := strings.NewReplacer("ENCRYPT", base64.StdEncoding.EncodeToString(key32(1)), "CA_FILE", caPath).Replace(everyKeyFile)
	cfg, warnings := mustLoad(t, body)
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	if !cfg.IsLeaf() || cfg.Server.Origin.Server != "https://origin.internal:3000" {
		t.Errorf("IsLeaf = %v, origin = %q", cfg.IsLeaf(), cfg.Server.Origin.Server)
	}
	// Every key the loader knows is set above, so a key renamed in the
	// struct but not here shows up as an unknown-key warning or here.
	md := parseTOML(t, body)
	for _, k := range Keys() {
		if !md.IsDefined(strings.Split(k, ".")...) {
			t.Errorf("test file does not set %q", k)
		}
	}
}

func TestMissingConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "knot.toml")
	_, warnings, err := Load(path, nil)
	if err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	if warnings != nil {
		t.Errorf("warnings = %q, want nil", warnings)
	}
	for _, want := range []string{path, "knot scaffold", "does not exist"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestUnreadableConfigFile(t *testing.T) {
	dir := t.TempDir() // a directory exists but cannot be read as a file
	_, _, err := Load(dir, nil)
	if err == nil {
		t.Fatal("Load of a directory succeeded")
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not mention %q", err, dir)
	}
}

func TestInvalidTOMLSyntax(t *testing.T) {
	for name, body := range map[string]string{
		"unterminated string": "[server]\nlisten = \":3000\n",
		"unquoted string":     "[server]\nlisten = localhost\n",
		"unclosed table":      "[server\nlisten = \":3000\"\n",
		"duplicate key":       "[server]\nlisten = \":1\"\nlisten = \":2\"\n",
		"missing value":       "[log]\nlevel =\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, body)
			_, _, err := Load(path, nil)
			if err == nil {
				t.Fatal("Load succeeded on invalid TOML")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not mention %q", err, path)
			}
			if !strings.Contains(err.Error(), "parse") {
				t.Errorf("error %q does not say the file failed to parse", err)
			}
		})
	}
}

func TestScaffoldLoadsCleanly(t *testing.T) {
	cfg, warnings, err := load(t, Scaffold)
	if err != nil {
		t.Fatalf("Scaffold does not load: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("Scaffold gives warnings: %q", warnings)
	}
	// The scaffold documents the defaults: loading it equals loading nothing.
	if want := Default(); cfg != want {
		t.Errorf("Scaffold loads as\n%+v\nwant the defaults\n%+v", cfg, want)
	}
}

func TestScaffoldMentionsEveryKey(t *testing.T) {
	md := parseTOML(t, Scaffold)
	for _, k := range Keys() {
		if md.IsDefined(strings.Split(k, ".")...) {
			continue
		}
		// A key left commented out (zone defaults to the host name) must
		// still be shown to the reader.
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(Scaffold, "# "+leaf+" = ") {
			t.Errorf("Scaffold neither sets nor shows %q", k)
		}
	}
}

// originWithToken is a knot.toml that makes a leaf of the origin at url.
func originWithToken(url string) string {
	return "[server.origin]\nserver = \"" + url + "\"\ntoken = \"t\"\n"
}

func TestOrigin(t *testing.T) {
	const httpWarn = "http://"
	const halfWarn = "leaf mode stays off"
	const skipWarn = "skip_verify"
	tests := []originCase{
		{name: "neither set", body: "",
			wantServer: "", wantLeaf: false},
		{name: "trailing slash stripped", body: originWithToken("https://o.example/"), wantServer: "https://o.example", wantLeaf: true},
		{name: "several trailing slashes stripped", body: originWithToken("https://o.example:3000//"), wantServer: "https://o.example:3000", wantLeaf: true},
		{name: "path kept", body: originWithToken("https://h/knot/"), wantServer: "https://h/knot", wantLeaf: true},
		{name: "port kept", body: originWithToken("https://o.example:3000"), wantServer: "https://o.example:3000", wantLeaf: true},
		{name: "surrounding space trimmed", body: "[server.origin]\nserver = \"  https://o.example/ \"\ntoken = \" t \"\n",
			wantServer: "https://o.example", wantLeaf: true},
		{name: "http warns", body: originWithToken("http://o.example"), wantServer: "http://o.example", wantLeaf: true, wantWarnings: []string{httpWarn}},
		{name: "server without token", body: "[server.origin]\nserver = \"https://o.example\"\n",
			wantServer: "https://o.example", wantLeaf: false, wantWarnings: []string{"server.origin.token is empty"}},
		{name: "token without server", body: "[server.origin]\ntoken = \"t\"\n",
			wantServer: "", wantLeaf: false, wantWarnings: []string{"server.origin.server is empty"}},
		{name: "blank token counts as unset", body: "[server.origin]\nserver = \"https://o.example\"\ntoken = \"   \"\n",
			wantServer: "https://o.example", wantLeaf: false, wantWarnings: []string{halfWarn}},
		{name: "http and half set", body: "[server.origin]\nserver = \"http://o.example\"\n",
			wantServer: "http://o.example", wantLeaf: false, wantWarnings: []string{httpWarn, halfWarn}},
		{name: "skip_verify in leaf mode warns", body: originWithToken("https://o.example") + "skip_verify = true\n",
			wantServer: "https://o.example", wantLeaf: true, wantWarnings: []string{skipWarn}},
		{name: "skip_verify outside leaf mode is quiet", body: "[server.origin]\nskip_verify = true\n",
			wantServer: "", wantLeaf: false},
		{name: "array of servers", body: "[server.origin]\nserver = [\"https://a.internal/\", \"https://b.internal:3000\"]\ntoken = \"t\"\n",
			wantServer: "https://a.internal,https://b.internal:3000", wantLeaf: true},
		{name: "comma-separated servers through env", env: []string{"KNOT_SERVER_ORIGIN_SERVER=https://a.internal, https://b.internal", "KNOT_SERVER_ORIGIN_TOKEN=x"},
			wantServer: "https://a.internal,https://b.internal", wantLeaf: true},
		{name: "leaf through env", body: "[server.origin]\nserver = \"https://o.example/\"\n", env: []string{"KNOT_SERVER_ORIGIN_TOKEN=x"},
			wantServer: "https://o.example", wantLeaf: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectOrigin(t, tt) })
	}
}

type originCase struct {
	name         string
	body         string
	env          []string
	wantServer   string
	wantLeaf     bool
	wantWarnings []string // substrings, one per expected warning
}

func expectOrigin(t *testing.T, tt originCase) {
	t.Helper()
	cfg, warnings := mustLoad(t, tt.body, tt.env...)
	if string(cfg.Server.Origin.Server) != tt.wantServer {
		t.Errorf("origin server = %q, want %q", cfg.Server.Origin.Server, tt.wantServer)
	}
	if cfg.IsLeaf() != tt.wantLeaf {
		t.Errorf("IsLeaf() = %v, want %v", cfg.IsLeaf(), tt.wantLeaf)
	}
	wantZone := hostnameOrKnot()
	if tt.wantLeaf {
		wantZone = LeafZone
	}
	if cfg.ZoneName() != wantZone {
		t.Errorf("ZoneName() = %q, want %q", cfg.ZoneName(), wantZone)
	}
	if len(warnings) != len(tt.wantWarnings) {
		t.Errorf("warnings = %q, want %d", warnings, len(tt.wantWarnings))
	}
	for _, want := range tt.wantWarnings {
		if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, want) }) {
			t.Errorf("no warning contains %q: %q", want, warnings)
		}
	}
	for _, w := range warnings {
		if strings.Contains(w, "\"t\"") || strings.Contains(w, "=x") {
			t.Errorf("warning %q echoes the token", w)
		}
	}
}

func TestLeafZoneOverridesConfiguredZone(t *testing.T) {
	cfg, _ := mustLoad(t, "[server]\nzone = \"eu-west\"\n[server.origin]\nserver = \"https://o\"\ntoken = \"t\"\n")
	if got := cfg.ZoneName(); got != "<leaf-node>" {
		t.Errorf("ZoneName() = %q, want <leaf-node>", got)
	}
	if cfg.Server.Zone != "eu-west" {
		t.Errorf("server.zone = %q, want it kept as eu-west", cfg.Server.Zone)
	}
	cfg, _ = mustLoad(t, "[server]\nzone = \"eu-west\"\n")
	if got := cfg.ZoneName(); got != "eu-west" {
		t.Errorf("ZoneName() = %q, want eu-west", got)
	}
}

func TestPlainHTTPWarning(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		env      []string
		wantWarn bool
	}{
		{"tls on, https url", "", nil, false},
		{"tls off, https url", "", []string{"KNOT_SERVER_TLS_USE_TLS=false"}, true},
		{"tls off, http url", "[server]\nurl = \"http://localhost:3000\"\n[server.tls]\nuse_tls = false\n", nil, false},
		{"tls on, http url", "[server]\nurl = \"http://localhost:3000\"\n", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warnings := mustLoad(t, tt.body, tt.env...)
			got := slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "server.tls.use_tls is false") })
			if got != tt.wantWarn {
				t.Errorf("use_tls warning = %v, want %v (warnings %q)", got, tt.wantWarn, warnings)
			}
		})
	}
}

func TestSetupFromLoopbackOnALeafWarnsThatItDoesNothing(t *testing.T) {
	const leaf = "[server.origin]\nserver = \"https://origin.internal\"\ntoken = \"tok\"\n"
	tests := []struct {
		name     string
		body     string
		wantWarn bool
	}{
		{"on, standalone", "[server]\nsetup_from_loopback = true\n", false},
		{"on, leaf", "[server]\nsetup_from_loopback = true\n" + leaf, true},
		{"off, leaf", leaf, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warnings := mustLoad(t, tt.body)
			got := slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "server.setup_from_loopback") })
			if got != tt.wantWarn {
				t.Errorf("setup_from_loopback warning = %v, want %v (warnings %q)", got, tt.wantWarn, warnings)
			}
		})
	}
}

func TestValidCAFile(t *testing.T) {
	dir := t.TempDir()
	certPEM := selfSignedPEM(t)
	single := filepath.Join(dir, "origin.pem")
	if err := os.WriteFile(single, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(bundle, append(append([]byte("# origin CA\n"), certPEM...), selfSignedPEM(t)...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{single, bundle} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			body := "[server.origin]\nserver = \"https://origin.test\"\ntoken = \"t\"\nca_file = \"" + path + "\"\n"
			cfg, warnings := mustLoad(t, body)
			if len(warnings) != 0 {
				t.Errorf("warnings = %q, want none", warnings)
			}
			if cfg.Server.Origin.CAFile != path {
				t.Errorf("ca_file = %q, want %q", cfg.Server.Origin.CAFile, path)
			}
			if !cfg.IsLeaf() {
				t.Error("IsLeaf() = false, want true")
			}
		})
	}
}

func TestEncryptKey(t *testing.T) {
	// 0xfb/0xff bytes make the std and URL alphabets differ ('+/' vs '-_').
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 11)[:32]
	tests := []struct {
		name string
		enc  *base64.Encoding
	}{
		{"std", base64.StdEncoding},
		{"url", base64.URLEncoding},
		{"raw std", base64.RawStdEncoding},
		{"raw url", base64.RawURLEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.enc.EncodeToString(raw)
			cfg, warnings := mustLoad(t, "[server]\nencrypt = \""+s+"\"\n")
			if len(warnings) != 0 {
				t.Errorf("warnings = %q", warnings)
			}
			got, err := cfg.EncryptKey()
			if err != nil {
				t.Fatalf("EncryptKey(%q): %v", s, err)
			}
			if !bytes.Equal(got, raw) {
				t.Errorf("EncryptKey(%q) = %x, want %x", s, got, raw)
			}
		})
	}
	t.Run("std and url alphabets differ", func(t *testing.T) {
		std, url := base64.StdEncoding.EncodeToString(raw), base64.URLEncoding.EncodeToString(raw)
		if std == url || !strings.ContainsAny(std, "+/") || !strings.ContainsAny(url, "-_") {
			t.Fatalf("test key does not exercise both alphabets: %q %q", std, url)
		}
	})
	t.Run("from env", func(t *testing.T) {
		s := base64.StdEncoding.EncodeToString(key32(0x42))
		cfg, _, err := Load("", []string{"KNOT_SERVER_ENCRYPT=" + s})
		if err != nil {
			t.Fatal(err)
		}
		got, err := cfg.EncryptKey()
		if err != nil || !bytes.Equal(got, key32(0x42)) {
			t.Errorf("EncryptKey() = %x, %v", got, err)
		}
	})
	t.Run("unset", func(t *testing.T) {
		cfg := Default()
		if _, err := cfg.EncryptKey(); err == nil {
			t.Error("EncryptKey() on an empty key succeeded")
		}
	})
	t.Run("wrong length", func(t *testing.T) {
		cfg := Default()
		cfg.Server.Encrypt = base64.StdEncoding.EncodeToString(key32(1)[:31])
		if _, err := cfg.EncryptKey(); err == nil || !strings.Contains(err.Error(), "31 bytes") {
			t.Errorf("EncryptKey() error = %v, want one about 31 bytes", err)
		}
	})
}

func TestKeyErrorFormat(t *testing.T) {
	err := keyErr("server.listen", "nope", "want host:port")
	if got, want := err.Error(), `server.listen = "nope": want host:port`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestDuration(t *testing.T) {
	d := Duration(90 * time.Second)
	if d.D() != 90*time.Second {
		t.Errorf("D() = %v", d.D())
	}
	if d.String() != "1m30s" {
		t.Errorf("String() = %q, want 1m30s", d.String())
	}
}

func TestValidateIsIdempotent(t *testing.T) {
	cfg, _ := mustLoad(t, "[server.origin]\nserver = \"https://h/knot/\"\ntoken = \"t\"\n")
	validatesUnchanged(t, cfg)
}

// validatesUnchanged fails the test unless a loaded cfg passes Validate
// again and comes out as it went in: what Load normalises stays normal.
func validatesUnchanged(t *testing.T, cfg Config) {
	t.Helper()
	again := cfg
	if _, err := again.Validate(); err != nil {
		t.Fatalf("accepted a configuration that does not validate again: %v", err)
	}
	if again != cfg {
		t.Fatalf("validating an accepted configuration changed it:\n%+v\n%+v", cfg, again)
	}
}

func TestUnknownEnvironmentVariablesWarn(t *testing.T) {
	_, warnings, err := Load("", []string{"KNOT_SERVER_LISEN=:4000", "KNOT_SERVER_LISTEN=:4001", "OTHER_VAR=x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "KNOT_SERVER_LISEN") {
		t.Fatalf("warnings = %q, want exactly one naming KNOT_SERVER_LISEN", warnings)
	}
}
