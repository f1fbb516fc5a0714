// Package config holds knot's typed configuration: defaults, loading from
// knot.toml and KNOT_* environment variables, and validation whose errors name
// the key, the value and what is allowed.
package config

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LeafZone is the zone every leaf node is in, whatever server.zone says.
const LeafZone = "<leaf-node>"

// Config is the whole of knot.toml. The toml tags are the key names users
// write; the environment variable for a key is KNOT_ followed by the key in
// upper case with dots replaced by underscores (server.tls.use_tls becomes
// KNOT_SERVER_TLS_USE_TLS).
type Config struct {
	Server Server `toml:"server"`
	Log    Log    `toml:"log"`
}

type Server struct {
	Listen             string   `toml:"listen"`
	URL                string   `toml:"url"`
	Encrypt            string   `toml:"encrypt"`
	Zone               string   `toml:"zone"`
	AuthIPRateLimiting bool     `toml:"auth_ip_rate_limiting"`
	SetupFromLoopback  bool     `toml:"setup_from_loopback"`
	SessionIdleTimeout Duration `toml:"session_idle_timeout"`
	TokenSweepInterval Duration `toml:"token_sweep_interval"`
	MaxSessionsPerUser int      `toml:"max_sessions_per_user"`
	MaxTokensPerUser   int      `toml:"max_tokens_per_user"`
	TLS                TLS      `toml:"tls"`
	SQLite             SQLite   `toml:"sqlite"`
	Postgres           Postgres `toml:"postgres"`
	Metrics            Metrics  `toml:"metrics"`
	Cluster            Cluster  `toml:"cluster"`
	Origin             Origin   `toml:"origin"`
	UI                 UI       `toml:"ui"`
}

type TLS struct {
	UseTLS   bool   `toml:"use_tls"`
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
}

type SQLite struct {
	Path string `toml:"path"`
}

type Postgres struct {
	Enabled bool   `toml:"enabled"`
	DSN     string `toml:"dsn"`
}

// validate checks the DSN's shape; whether it connects is for start-up to
// find out. The DSN holds a password, so no message repeats it.
func (p *Postgres) validate() (warnings []string, err error) {
	p.DSN = strings.TrimSpace(p.DSN)
	if !p.Enabled {
		if p.DSN != "" {
			warnings = append(warnings, "server.postgres.dsn is set but server.postgres.enabled is false: the SQLite database at server.sqlite.path is used")
		}
		return warnings, nil
	}
	const example = "want a PostgreSQL URL such as postgres://knot:PASSWORD@db.internal:5432/knot?sslmode=require"
	if p.DSN == "" {
		return nil, keyErr("server.postgres.dsn", "", example+" (server.postgres.enabled is true)")
	}
	if strings.Contains(p.DSN, "://") {
		u, err := url.Parse(p.DSN)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return nil, keyErr("server.postgres.dsn", "(hidden)", example)
		}
	} else if !strings.Contains(p.DSN, "=") {
		return nil, keyErr("server.postgres.dsn", "(hidden)", example+", or key=value pairs such as host=db.internal dbname=knot")
	}
	return nil, nil
}

// Metrics is where Prometheus metrics are served; off when Listen is empty.
type Metrics struct {
	Listen string `toml:"listen"`
}

type Cluster struct {
	AllowLeafNodes bool   `toml:"allow_leaf_nodes"`
	LeafLogin      string `toml:"leaf_login"`
}

type Origin struct {
	Server            URLList  `toml:"server"`
	Token             string   `toml:"token"`
	CAFile            string   `toml:"ca_file"`
	SkipVerify        bool     `toml:"skip_verify"`
	HeartbeatInterval Duration `toml:"heartbeat_interval"`
}

type UI struct {
	HideAPITokens bool `toml:"hide_api_tokens"`
}

type Log struct {
	Level string `toml:"level"`
}

// URLList is one URL, or several: in knot.toml a string or an array of
// strings, in the environment a comma-separated list. It is kept as the
// comma-joined text; URLs returns the list.
type URLList string

const urlListAllowed = `want a URL in quotes or an array of them, such as ["https://knot-1.internal", "https://knot-2.internal"]`

// UnmarshalTOML takes a string or an array of strings.
func (l *URLList) UnmarshalTOML(v any) error {
	var list []any
	switch x := v.(type) {
	case string:
		list = []any{x}
	case []any:
		list = x
	default:
		return errors.New(urlListAllowed)
	}
	parts := make([]string, 0, len(list))
	for _, p := range list {
		s, ok := p.(string)
		if !ok {
			return errors.New(urlListAllowed)
		}
		parts = append(parts, s)
	}
	*l = URLList(strings.Join(parts, ","))
	return nil
}

// UnmarshalText takes the comma-separated form of the environment.
func (l *URLList) UnmarshalText(text []byte) error {
	*l = URLList(text)
	return nil
}

// URLs returns the list, without empty entries.
func (l URLList) URLs() []string {
	var out []string
	for _, u := range strings.Split(string(l), ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Duration is a time.Duration written as a Go duration string ("30s", "1h").
type Duration time.Duration

func (d Duration) D() time.Duration { return time.Duration(d) }
func (d Duration) String() string   { return time.Duration(d).String() }

// UnmarshalText reads a Go duration string, from knot.toml or the environment.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(text)))
	if err != nil {
		return errors.New(`want a duration such as "30s" or "1h"`)
	}
	*d = Duration(v)
	return nil
}

// Leaf-login policies (server.cluster.leaf_login).
const (
	LeafLoginOwner = "owner"
	LeafLoginAny   = "any"
)

// Default returns the configuration used for every key the file and the
// environment leave unset.
func Default() Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "knot"
	}
	return Config{
		Server: Server{
			Listen:             ":3000",
			URL:                "https://localhost:3000",
			Zone:               host,
			AuthIPRateLimiting: true,
			SetupFromLoopback:  false,
			SessionIdleTimeout: Duration(2 * time.Hour),
			TokenSweepInterval: Duration(time.Hour),
			MaxSessionsPerUser: 20,
			MaxTokensPerUser:   1000,
			TLS:                TLS{UseTLS: true},
			SQLite:             SQLite{Path: "./data/knot.db"},
			Cluster:            Cluster{AllowLeafNodes: true, LeafLogin: LeafLoginOwner},
			Origin:             Origin{HeartbeatInterval: Duration(30 * time.Second)},
		},
		Log: Log{Level: "info"},
	}
}

// Local returns the configuration of a server that only programs on this
// machine talk to, the tests and the load harnesses: its database under
// dataDir, plain HTTP on a free port of 127.0.0.1, and no sign-in rate
// limits, since such a client signs in many times from one address.
func Local(dataDir string) Config {
	cfg := Default()
	cfg.Server.SQLite.Path = filepath.Join(dataDir, "knot.db")
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Server.URL = "http://127.0.0.1"
	cfg.Server.TLS.UseTLS = false
	cfg.Server.AuthIPRateLimiting = false
	return cfg
}

// IsLeaf reports whether this server runs in leaf node mode: both the origin
// URL and its token are set.
func (c *Config) IsLeaf() bool {
	return c.Server.Origin.Server != "" && c.Server.Origin.Token != ""
}

// DataDir is where knot keeps what it generates: the database, the
// self-signed certificate and the generated encryption key.
func (c *Config) DataDir() string {
	return filepath.Dir(c.Server.SQLite.Path)
}

// ZoneName is the zone this server's templates are filtered for.
func (c *Config) ZoneName() string {
	if c.IsLeaf() {
		return LeafZone
	}
	return c.Server.Zone
}

// EncryptKey decodes server.encrypt. Validate has already checked it, so an
// error here means the key was never filled in.
func (c *Config) EncryptKey() ([]byte, error) {
	return decodeKey(c.Server.Encrypt)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("decodes to %d bytes, want 32", len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("is not base64")
}

// KeyError is a validation error that names the key, the value and what is allowed.
type KeyError struct {
	Key     string
	Value   string
	Allowed string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("%s = %q: %s", e.Key, e.Value, e.Allowed)
}

// MinSessionIdleTimeout is the shortest server.session_idle_timeout: the
// handlers record a session's activity at most once a minute, so anything
// shorter would end the sessions of people who are using the site.
const MinSessionIdleTimeout = time.Minute

func keyErr(key, value, allowed string) error {
	return &KeyError{Key: key, Value: value, Allowed: allowed}
}

// Validate checks every key, normalises a few (the origin URL loses its
// trailing slash) and returns warnings for settings that work but deserve a
// second look.
func (c *Config) Validate() (warnings []string, err error) {
	s := &c.Server
	if err := validateListen(s.Listen); err != nil {
		return nil, keyErr("server.listen", s.Listen, err.Error())
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, keyErr("server.url", s.URL, "want an absolute http:// or https:// URL such as https://knot.internal:3000")
	}
	if s.Encrypt != "" {
		if _, err := decodeKey(s.Encrypt); err != nil {
			return nil, keyErr("server.encrypt", "(hidden)", "the key "+err.Error()+"; generate one with `knot genkey`, or leave it empty to have one generated into the data directory")
		}
	}
	s.Zone = strings.TrimSpace(s.Zone)
	if s.Zone == "" || strings.HasPrefix(s.Zone, "!") || strings.ContainsAny(s.Zone, ",\n") {
		return nil, keyErr("server.zone", s.Zone, "want a non-empty name without a leading '!' or commas")
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		return nil, keyErr("server.tls.cert_file", s.TLS.CertFile, "set both server.tls.cert_file and server.tls.key_file, or neither (a self-signed certificate is then generated)")
	}
	if strings.TrimSpace(s.SQLite.Path) == "" {
		return nil, keyErr("server.sqlite.path", s.SQLite.Path, "want a file path such as ./data/knot.db")
	}
	if err := s.validateLimits(); err != nil {
		return nil, err
	}
	w, err := s.Postgres.validate()
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, w...)
	if s.Metrics.Listen != "" {
		if err := validateListen(s.Metrics.Listen); err != nil {
			return nil, keyErr("server.metrics.listen", s.Metrics.Listen, err.Error()+", or empty to serve no metrics")
		}
	}
	if s.Cluster.LeafLogin != LeafLoginOwner && s.Cluster.LeafLogin != LeafLoginAny {
		return nil, keyErr("server.cluster.leaf_login", s.Cluster.LeafLogin, `want "owner" (only the token's owner) or "any" (every active user)`)
	}
	w, err = c.validateOrigin()
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, w...)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return nil, keyErr("log.level", c.Log.Level, "want one of debug, info, warn, error")
	}
	if s.SetupFromLoopback && c.IsLeaf() {
		warnings = append(warnings, "server.setup_from_loopback is true on a leaf node, where it does nothing: a leaf's users come from the origin and it never shows the initial setup")
	}
	if !s.TLS.UseTLS && u.Scheme == "https" {
		warnings = append(warnings, "server.tls.use_tls is false but server.url starts with https://; put a TLS-terminating proxy in front or the session cookie will not be marked Secure")
	}
	return warnings, nil
}

// validateLimits checks the per-user limits and the durations.
func (s *Server) validateLimits() error {
	if s.MaxTokensPerUser < 1 || s.MaxTokensPerUser > 1_000_000 {
		return keyErr("server.max_tokens_per_user", strconv.Itoa(s.MaxTokensPerUser), "want a whole number from 1 to 1000000")
	}
	if s.MaxSessionsPerUser < 1 {
		return keyErr("server.max_sessions_per_user", strconv.Itoa(s.MaxSessionsPerUser), "want a whole number of at least 1 (signing in once more signs out that user's oldest session)")
	}
	for _, d := range []struct {
		key string
		val Duration
	}{
		{"server.session_idle_timeout", s.SessionIdleTimeout},
		{"server.token_sweep_interval", s.TokenSweepInterval},
		{"server.origin.heartbeat_interval", s.Origin.HeartbeatInterval},
	} {
		if d.val.D() < time.Second || d.val.D() > 30*24*time.Hour {
			return keyErr(d.key, d.val.String(), "want a duration between 1s and 720h, e.g. \"30s\" or \"1h\"")
		}
	}
	if s.SessionIdleTimeout.D() < MinSessionIdleTimeout {
		return keyErr("server.session_idle_timeout", s.SessionIdleTimeout.String(),
			"want at least 1m (and at most 720h), e.g. \"2h\": activity is recorded at most once a minute, so a shorter timeout signs out people while they work")
	}
	return nil
}

func (c *Config) validateOrigin() (warnings []string, err error) {
	o := &c.Server.Origin
	o.Token = strings.TrimSpace(o.Token)
	var clean []string
	for _, raw := range o.Server.URLs() {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil || strings.Contains(raw, "@") {
			// An "@" anywhere reads as a user name to people and to some
			// clients ("https://h/@evil" vs "https://h@evil"): refuse it.
			return nil, keyErr("server.origin.server", raw, "want the origin's URL, e.g. https://knot-server.internal or https://knot-server.internal:3000, or an array of the cluster's server URLs")
		}
		if u.Scheme == "http" {
			warnings = append(warnings, "server.origin.server uses http:// ("+raw+"): the token and every password signed in through this leaf cross the network unencrypted")
		}
		clean = append(clean, strings.TrimRight(u.String(), "/"))
	}
	o.Server = URLList(strings.Join(clean, ","))
	switch {
	case o.Server != "" && o.Token == "":
		warnings = append(warnings, "server.origin.server is set but server.origin.token is empty: leaf mode stays off")
	case o.Server == "" && o.Token != "":
		warnings = append(warnings, "server.origin.token is set but server.origin.server is empty: leaf mode stays off")
	}
	if o.CAFile != "" {
		pemBytes, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, keyErr("server.origin.ca_file", o.CAFile, "cannot read it: "+err.Error())
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pemBytes) {
			return nil, keyErr("server.origin.ca_file", o.CAFile, "holds no PEM certificate")
		}
		if b, _ := pem.Decode(pemBytes); b == nil {
			return nil, keyErr("server.origin.ca_file", o.CAFile, "holds no PEM certificate")
		}
	}
	if o.SkipVerify && c.IsLeaf() {
		warnings = append(warnings, "server.origin.skip_verify = true: the origin's certificate is NOT checked; anyone on the network path can read the token and passwords. Use server.origin.ca_file instead")
	}
	return warnings, nil
}

func validateListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port or :port, e.g. \":3000\" or \"127.0.0.1:3000\"")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("the port must be a number from 0 to 65535")
	}
	return nil
}
