package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A second knot process on the same data directory refuses to start,
// naming the database file and the process that holds it — the real
// binary twice, as an operator would start it by mistake.
func TestASecondKnotProcessOnTheSameDatabaseRefusesToStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the knot binary; skipped under -short")
	}
	bin := buildKnot(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	dbPath := filepath.Join(dir, "data", "knot.db")
	cfgPath := filepath.Join(dir, "knot.toml")
	body := fmt.Sprintf("[server]\nlisten = %q\nurl = \"http://%s\"\n[server.tls]\nuse_tls = false\n[server.sqlite]\npath = %q\n[log]\nlevel = \"warn\"\n", addr, addr, dbPath)
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	first := startKnot(t, bin, cfgPath, "http://"+addr)

	// The second one would also need the port; give it another, so that
	// only the database stands in its way.
	other := strings.Replace(body, addr, freeAddr(t), 1)
	otherPath := filepath.Join(dir, "other.toml")
	if err := os.WriteFile(otherPath, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "server", "--config", otherPath).CombinedOutput()
	if err == nil {
		t.Fatalf("a second knot started on a database in use:\n%s", out)
	}
	for _, want := range []string{dbPath, "pid " + strconv.Itoa(first.cmd.Process.Pid), "knot.lock"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the refusal does not name %q:\n%s", want, out)
		}
	}
}
