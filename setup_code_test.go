package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
)

func TestSetupCodePrintsTheCodeTheServerLogsUntilSetupIsDone(t *testing.T) {
	path, _ := writeConfig(t, "")
	var out, errOut bytes.Buffer
	// Before any server has started: the command makes the code.
	if err := run([]string{"setup-code", "--config", path}, &out, &errOut); err != nil {
		t.Fatalf("setup-code on a fresh database: %v (%s)", err, errOut.String())
	}
	code := strings.TrimSpace(out.String())
	if code == "" || !strings.Contains(errOut.String(), "/initial-system-setup") {
		t.Fatalf("setup-code printed %q, and %q on stderr", out.String(), errOut.String())
	}

	cfg, _, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := knottest.Start(t, cfg)
	if logged := knottest.SetupCodeIn(srv.Logs.String()); logged != code {
		t.Fatalf("the server logs code %q, setup-code printed %q", logged, code)
	}
	// Beside the running server, which holds the data directory's lock.
	out.Reset()
	errOut.Reset()
	if err := run([]string{"setup-code", "--config", path}, &out, &errOut); err != nil {
		t.Fatalf("setup-code beside a running server: %v", err)
	}
	if got := strings.TrimSpace(out.String()); got != code {
		t.Fatalf("setup-code beside the server printed %q, the log says %q", got, code)
	}

	srv.SetupAdmin()
	out.Reset()
	err = run([]string{"setup-code", "--config", path}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "setup is already complete") || out.Len() != 0 {
		t.Fatalf("setup-code after setup: %v, printed %q; want an error saying setup is already complete", err, out.String())
	}
}

func TestSetupCodeOnALeafSaysThereIsNoSetup(t *testing.T) {
	path, _ := writeConfig(t, "[server.origin]\nserver = \"https://origin.internal\"\ntoken = \"tok\"\n")
	var out, errOut bytes.Buffer
	err := run([]string{"setup-code", "--config", path}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "leaf node") || out.Len() != 0 {
		t.Fatalf("setup-code on a leaf: %v, printed %q", err, out.String())
	}
}
