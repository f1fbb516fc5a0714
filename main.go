// Command knot is a self-hosted control plane for development environments.
//
//	knot server --config knot.toml   start the server (also: go run . --config knot.toml)
//	knot version                     print the version
//	knot genkey                      print a new encryption key for server.encrypt
//	knot scaffold                    print a commented example knot.toml
//	knot setup-code --config F       print the initial setup code again
//	knot db copy --from F --to DSN   copy a standalone's SQLite database into an empty PostgreSQL one
//	knot demo                        an origin and a leaf on this machine, ready to try
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
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/dbcopy"
	"github.com/knot-dev/knot/demo"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

const usage = `knot — a self-hosted control plane for development environments

Usage:
  knot [server] --config knot.toml   start the server
  knot version                       print the version
  knot genkey                        print a new key for server.encrypt
  knot scaffold                      print a commented example knot.toml
  knot setup-code --config knot.toml
                                     print the one-time code the initial setup page asks
                                     for (the server also logs it at every start until then)
  knot db copy --from ./data/knot.db --to DSN [--sessions]
                                     copy a standalone server's SQLite database into an
                                     empty PostgreSQL database, to grow into a cluster
  knot demo [--dir DIR]              try leaf mode on one machine: an origin and a leaf
                                     on two free loopback ports, set up and ready
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
	case "setup-code":
		return setupCode(args, stdout, stderr)
	case "db":
		return db(args, stdout, stderr)
	case "demo":
		return runDemo(args, stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
	default:
		return fmt.Errorf("unknown command %q; run `knot --help`", cmd)
	}
	return nil
}

func serve(args []string, stderr io.Writer) error {
	fs := flagSet("server", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	path := fs.String("config", "knot.toml", "path to knot.toml")
	if ok, err := parse(fs, args); !ok {
		return err
	}

	cfg, warnings, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	// A soft memory limit keeps a server on a workstation small: the
	// garbage collector works harder as the heap nears it, instead of
	// letting it double first. GOMEMLIMIT, when set, wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	level := new(slog.LevelVar)
	setLevel(level, cfg.Log.Level)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
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
	// Not ctx: the jobs stop at Close, after Serve has drained the
	// requests that may still hand them work.
	srv.Start(context.Background())

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on server.listen %s: %w", cfg.Server.Listen, err)
	}
	log.Info("knot started", "version", server.Version, "listen", ln.Addr().String(), "url", cfg.Server.URL,
		"tls", cfg.Server.TLS.UseTLS, "zone", cfg.ZoneName(), "leaf", cfg.IsLeaf())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnHUP(ctx, hup, *path, srv, level, log)
	err = srv.Serve(ctx, ln)
	log.Info("knot stopped")
	return err
}

// setupCode runs `knot setup-code`: the code alone on stdout, for scripts,
// and where to enter it on stderr.
func setupCode(args []string, stdout, stderr io.Writer) error {
	fs := flagSet("setup-code", stderr)
	path := fs.String("config", "knot.toml", "path to the server's knot.toml")
	if ok, err := parse(fs, args); !ok {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("setup-code: unexpected argument %q; usage: knot setup-code --config knot.toml", fs.Arg(0))
	}
	cfg, warnings, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "knot: warning:", w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := server.SetupCode(ctx, cfg)
	base := strings.TrimRight(cfg.Server.URL, "/")
	if errors.Is(err, models.ErrSetupDone) {
		return fmt.Errorf("setup is already complete: the first admin exists, so no setup code is needed any more; sign in at %s/login", base)
	}
	if err != nil {
		return fmt.Errorf("setup-code: %w", err)
	}
	fmt.Fprintln(stdout, code)
	fmt.Fprintf(stderr, "Enter it at %s/initial-system-setup to create the first admin.\n", base)
	return nil
}

// runDemo runs `knot demo` until Ctrl-C.
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flagSet("demo", stderr)
	dir := fs.String("dir", "", "where the two servers keep their data (default: a new temporary directory)")
	if ok, err := parse(fs, args); !ok {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "knot-demo-")
		if err != nil {
			return err
		}
		*dir = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Only trouble is logged: the demo prints what matters itself.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return demo.Run(ctx, *dir, stdout, log, nil)
}

// db runs `knot db copy`; copy is the only db command so far.
func db(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "copy" {
		return errors.New("usage: knot db copy --from ./data/knot.db --to postgres://knot@db.internal:5432/knot [--sessions]")
	}
	fs := flagSet("db copy", stderr)
	from := fs.String("from", "", "the standalone server's SQLite database (its server.sqlite.path)")
	to := fs.String("to", "", "the empty PostgreSQL database to copy into (a URL or key=value DSN; the password may come from PGPASSWORD)")
	sessions := fs.Bool("sessions", false, "copy signed-in browser sessions too")
	if ok, err := parse(fs, args[1:]); !ok {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("db copy: unexpected argument %q", fs.Arg(0))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := dbcopy.Copy(ctx, dbcopy.Options{SQLitePath: *from, PostgresDSN: *to, Sessions: *sessions})
	if err != nil {
		return fmt.Errorf("db copy: %w", err)
	}
	fmt.Fprint(stdout, rep)
	return nil
}

// flagSet is a subcommand's flags; their errors and help go to stderr.
func flagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args into fs. ok is false when the command is to stop there
// with err: a bad flag, or nil once -h has printed the help.
func parse(fs *flag.FlagSet, args []string) (ok bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return false, nil
	}
	return err == nil, err
}

// defaultMemoryLimit is the soft limit without GOMEMLIMIT (see serve).
const defaultMemoryLimit = 40 << 20

func setLevel(v *slog.LevelVar, level string) {
	var l slog.Level
	l.UnmarshalText([]byte(level)) //nolint:errcheck // config.Validate allowed only valid levels
	v.Set(l)
}

// reloadOnHUP re-reads knot.toml on every SIGHUP: the log level and a
// leaf's origin settings (a new token, another origin list) take effect at
// once. A file that does not load is refused with a logged error, and the
// running configuration stays.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, path string, srv *server.Server, level *slog.LevelVar, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		cfg, warnings, err := config.Load(path, os.Environ())
		if err != nil {
			log.Error("reload refused: the running configuration stays", "config", path, "err", err)
			continue
		}
		for _, w := range warnings {
			log.Warn(w)
		}
		notes, err := srv.Reload(cfg)
		for _, n := range notes {
			log.Warn("reload: " + n)
		}
		if err != nil {
			log.Error("reload refused: the running configuration stays", "config", path, "err", err)
			continue
		}
		setLevel(level, cfg.Log.Level)
		log.Info("configuration reloaded", "config", path, "log_level", cfg.Log.Level)
	}
}
