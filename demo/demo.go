// Package demo is `knot demo`: an origin and a leaf on this machine, each on
// a free loopback port with its own data directory, set up through their
// real interfaces (the setup page, the token API), so that someone trying
// leaf mode sees it work in one command.
package demo

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/knot-dev/knot/client"
	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/server"
)

// AdminEmail and AdminUsername are the demo's first administrator.
const (
	AdminEmail    = "admin@example.com"
	AdminUsername = "admin"
)

// Info is what the demo prints once both servers answer.
type Info struct {
	Dir       string
	OriginURL string
	LeafURL   string
	Email     string
	Password  string
}

// Run starts the demo under dir (created if missing; it must not hold an
// earlier demo) and keeps it running until ctx ends. ready, when not nil,
// is called once both servers are set up.
func Run(ctx context.Context, dir string, out io.Writer, log *slog.Logger, ready func(Info)) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("the demo directory %s is not empty; give `knot demo --dir` a new one", dir)
	}
	password, err := newPassword()
	if err != nil {
		return err
	}
	info := Info{Dir: dir, Email: AdminEmail, Password: password}

	originLn, originCfg, err := listenerAndConfig(filepath.Join(dir, "origin"))
	if err != nil {
		return err
	}
	originCfg.Server.Zone = "demo-cluster"
	origin, stopOrigin, err := start(ctx, "origin", originLn, originCfg, log)
	if err != nil {
		return err
	}
	defer stopOrigin()
	info.OriginURL = originCfg.Server.URL

	token, err := setUpOrigin(ctx, origin, info)
	if err != nil {
		return fmt.Errorf("set up the origin: %w", err)
	}

	leafLn, leafCfg, err := listenerAndConfig(filepath.Join(dir, "leaf"))
	if err != nil {
		return err
	}
	leafCfg.Server.Origin.Server = config.URLList(info.OriginURL)
	leafCfg.Server.Origin.Token = token
	leafCfg.Server.Origin.CAFile = server.SelfSignedCertPath(&originCfg)
	if _, err := leafCfg.Validate(); err != nil {
		leafLn.Close()
		return err
	}
	_, stopLeaf, err := start(ctx, "leaf", leafLn, leafCfg, log)
	if err != nil {
		return err
	}
	defer stopLeaf()
	info.LeafURL = leafCfg.Server.URL

	fmt.Fprintf(out, runningText, info.OriginURL, info.LeafURL, info.Email, info.Password)
	if ready != nil {
		ready(info)
	}
	<-ctx.Done()
	stopLeaf()
	stopOrigin()
	fmt.Fprintf(out, "knot demo stopped. Its data is in %s (origin/ and leaf/); delete it when you are done.\n", dir)
	return nil
}

// runningText is what the demo prints once it runs: the origin's and the
// leaf's URL, the admin's email and password.
const runningText = `knot demo is running: a cluster of one and a leaf, on this machine.

  origin (the cluster)      %s
  leaf (your workstation)   %s

  Sign in on either as %s with the password %s
  (the leaf forwards the sign-in to the origin). Both use self-signed
  certificates: your browser asks you to accept each once. Change a
  template on the origin and watch it appear on the leaf; stop with Ctrl-C.

`

// listenerAndConfig holds a free loopback port (kept open, so nothing can
// take it in between) and a configuration for a server on it.
func listenerAndConfig(dataDir string) (net.Listener, config.Config, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, config.Config{}, fmt.Errorf("find a free port: %w", err)
	}
	cfg := config.Default()
	cfg.Server.Listen = ln.Addr().String()
	cfg.Server.URL = "https://" + ln.Addr().String()
	cfg.Server.SQLite.Path = filepath.Join(dataDir, "knot.db")
	if _, err := cfg.Validate(); err != nil {
		ln.Close()
		return nil, cfg, err
	}
	return ln, cfg, nil
}

// start builds the server called name (origin or leaf) from cfg and serves
// it on ln (see serve); without a server, ln is closed.
func start(ctx context.Context, name string, ln net.Listener, cfg config.Config, log *slog.Logger) (*server.Server, func(), error) {
	srv, err := server.New(ctx, cfg, log.With("server", name), server.Options{})
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("start the %s: %w", name, err)
	}
	return srv, serve(ctx, srv, ln), nil
}

// serve runs srv on ln and returns the function that stops it and closes
// its database (calling it twice is fine).
func serve(ctx context.Context, srv *server.Server, ln net.Listener) func() {
	run := srv.Run(ctx, ln)
	return func() {
		run.Stop() //nolint:errcheck // the demo is ending either way
	}
}

// setUpOrigin creates the first admin through the setup page, a template
// to look at, and the leaf's API token through the API, and returns the token.
func setUpOrigin(ctx context.Context, origin *server.Server, info Info) (string, error) {
	cfg := origin.Config()
	pemBytes, err := os.ReadFile(server.SelfSignedCertPath(&cfg))
	if err != nil {
		return "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	c := client.New(info.OriginURL, pool)
	defer c.CloseIdleConnections()

	code, err := origin.SetupCode(ctx)
	if err != nil {
		return "", err
	}
	if err := c.Setup(ctx, code, client.Account{Username: AdminUsername, Email: info.Email, Password: info.Password}); err != nil {
		return "", err
	}
	tpl := map[string]any{"name": "demo-workspace", "description": "A template from the cluster", "active": true, "body": "image: debian:stable\n"}
	if _, err := c.Expect(ctx, http.MethodPost, "/api/templates", tpl, http.StatusCreated, nil); err != nil {
		return "", fmt.Errorf("create the demo template: %w", err)
	}
	token, err := c.CreateToken(ctx, "Demo leaf")
	if err != nil {
		return "", fmt.Errorf("create the leaf's token: %w", err)
	}
	return token, nil
}

// newPassword is 12 random bytes as URL-safe base64: 16 characters.
func newPassword() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
