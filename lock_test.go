package main

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// A second knot process on the same data directory refuses to start,
// naming the database file and the process that holds it — the real
// binary twice, as an operator would start it by mistake.
func TestASecondKnotProcessOnTheSameDatabaseRefusesToStart(t *testing.T) {
	bin := buildKnot(t)
	cfgPath, dbPath := writeConfig(t, "")
	first := startKnot(t, bin, cfgPath)

	// The same file again: each process would listen on a port of its own,
	// so only the database stands in the second one's way.
	out, err := exec.Command(bin, "server", "--config", cfgPath).CombinedOutput()
	if err == nil {
		t.Fatalf("a second knot started on a database in use:\n%s", out)
	}
	for _, want := range []string{dbPath, "pid " + strconv.Itoa(first.cmd.Process.Pid), "knot.lock"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the refusal does not name %q:\n%s", want, out)
		}
	}
}
