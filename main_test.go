package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knot-dev/knot/config"
)

func TestCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"version"}, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "knot ") {
		t.Fatalf("version: %q %v", out.String(), err)
	}

	out.Reset()
	if err := run([]string{"genkey"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out.String()))
	if err != nil || len(key) != 32 {
		t.Fatalf("genkey printed %q: %d bytes, %v", out.String(), len(key), err)
	}
	first := out.String()
	out.Reset()
	run([]string{"genkey"}, &out, &errOut)
	if out.String() == first {
		t.Fatal("genkey printed the same key twice")
	}

	out.Reset()
	if err := run([]string{"scaffold"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "knot.toml")
	os.WriteFile(path, out.Bytes(), 0o600)
	if _, warnings, err := config.Load(path, nil); err != nil || len(warnings) != 0 {
		t.Fatalf("scaffold does not parse back cleanly: %v %v", err, warnings)
	}

	for _, help := range [][]string{{"--help"}, {"help"}, {"server", "--help"}} {
		out.Reset()
		errOut.Reset()
		if err := run(help, &out, &errOut); err != nil {
			t.Fatalf("%v: %v", help, err)
		}
		text := out.String() + errOut.String()
		for _, cmd := range []string{"server", "version", "genkey", "scaffold", "setup-code"} {
			if !strings.Contains(text, cmd) {
				t.Errorf("%v does not list %s", help, cmd)
			}
		}
	}

	if err := run([]string{"frobnicate"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "--help") {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestMissingConfigIsAClearError(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"server", "--config", filepath.Join(t.TempDir(), "nope.toml")}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "nope.toml") || !strings.Contains(err.Error(), "knot scaffold") {
		t.Fatalf("err = %v", err)
	}
}

func TestRepoKnotTomlIsValid(t *testing.T) {
	_, warnings, err := config.Load("knot.toml", nil)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("knot.toml: %v %v", err, warnings)
	}
}
