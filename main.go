// Command knot is a self-hosted control plane for development environments.
//
//	knot server --config knot.toml   start the server (also: go run . --config knot.toml)
//	knot version                     print the version
//	knot genkey                      print a new encryption key for server.encrypt
//	knot scaffold                    print a commented example knot.toml
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/server"
)

const usage = `knot — a self-hosted control plane for development environments

Usage:
  knot [server] --config knot.toml   start the server
  knot version                       print the version
  knot genkey                        print a new key for server.encrypt
  knot scaffold                      print a commented example knot.toml
  knot --help                        show this help

Every knot.toml key may also be set from the environment, e.g. KNOT_SERVER_LISTEN=:8443.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "knot:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	cmd := "server"
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "-help" || !strings.HasPrefix(args[0], "-")) {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "server":
		return serve(args, stderr)
	case "version":
		fmt.Fprintln(stdout, "knot", server.Version)
	case "genkey":
		fmt.Fprintln(stdout, server.NewKey())
	case "scaffold":
		fmt.Fprint(stdout, config.Scaffold)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
	default:
		return fmt.Errorf("unknown command %q; run `knot --help`", cmd)
	}
	return nil
}

func serve(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	path := fs.String("config", "knot.toml", "path to knot.toml")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	cfg, warnings, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log.Level, stderr)
	for _, w := range warnings {
		log.Warn(w)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, err := server.New(ctx, cfg, log, server.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Close(); err != nil {
			log.Error("close", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on server.listen %s: %w", cfg.Server.Listen, err)
	}
	log.Info("knot started", "version", server.Version, "listen", ln.Addr().String(), "url", cfg.Server.URL,
		"tls", cfg.Server.TLS.UseTLS, "zone", cfg.ZoneName(), "leaf", cfg.IsLeaf())
	err = srv.Serve(ctx, ln)
	log.Info("knot stopped")
	return err
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level)) //nolint:errcheck // config.Validate allowed only valid levels
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
