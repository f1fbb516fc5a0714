package knottest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// OwnPostgres is a PostgreSQL server of the test's own, started with
// scripts/test-postgres, that the test may stop and start again — what the
// shared test server, used by every other test at once, must never do.
type OwnPostgres struct {
	t      testing.TB
	script string
	dir    string
	// DSN reaches its "postgres" database.
	DSN string
}

// StartOwnPostgres starts one. It needs the PostgreSQL server binaries; like
// every PostgreSQL test it skips without KNOT_TEST_POSTGRES_DSN (and fails
// under CI when that is missing).
func StartOwnPostgres(t testing.TB) *OwnPostgres {
	t.Helper()
	PostgresDSN(t)
	script := filepath.Join(moduleRoot(t), "scripts", "test-postgres")
	out, err := exec.Command(script, "start").Output()
	if err != nil {
		t.Fatalf("start a PostgreSQL of the test's own: %v %s", err, exitStderr(err))
	}
	p := &OwnPostgres{t: t, script: script}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, "'")
		switch k {
		case "KNOT_TEST_POSTGRES_DSN":
			p.DSN = v
		case "KNOT_TEST_PGDATA":
			p.dir = v
		}
	}
	if p.DSN == "" || p.dir == "" {
		t.Fatalf("scripts/test-postgres start printed no DSN or directory: %s", out)
	}
	t.Cleanup(func() { exec.Command(script, "stop", p.dir).Run() }) //nolint:errcheck // best effort
	return p
}

// Stop stops the server, keeping its data.
func (p *OwnPostgres) Stop() { p.run("pause") }

// Start starts it again on the same port.
func (p *OwnPostgres) Start() { p.run("resume") }

func (p *OwnPostgres) run(cmd string) {
	p.t.Helper()
	if err := exec.Command(p.script, cmd, p.dir).Run(); err != nil {
		p.t.Fatalf("scripts/test-postgres %s: %v %s", cmd, err, exitStderr(err))
	}
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// moduleRoot is the directory holding go.mod, above the test's package.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
