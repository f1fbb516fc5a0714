package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A leaf whose token the origin rejects recovers when knot.toml gets a new
// token and knot gets SIGHUP, without a restart; a broken file on the next
// SIGHUP is refused with a logged error, and the leaf keeps running.
func TestSIGHUPReloadsTheLeafsTokenAndRefusesABrokenFile(t *testing.T) {
	origin := knottest.Start(t, knottest.Config(t))
	_, good := origin.SetupAdmin().CreateAPIToken("Leaf Test")
	bad, err := models.GenerateToken()
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "knot.toml")
	write := func(token string) {
		t.Helper()
		err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`[server]
listen = %q
url = "http://%s"
[server.tls]
use_tls = false
[server.sqlite]
path = %q
[server.origin]
server = %q
token = %q
[log]
level = "info"
`, addr, addr, filepath.Join(dir, "data", "knot.db"), origin.URL, token)), 0o600)
		if err != nil {
			t.Fatal(err)
		}
	}
	write(bad)

	logs := &knottest.LogBuffer{}
	done := make(chan error, 1)
	go func() { done <- run([]string{"server", "--config", cfgPath}, logs, logs) }()
	t.Cleanup(func() {
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the leaf did not stop after SIGINT")
		}
	})
	knottest.Eventually(t, "the rejected token in the log", func() bool {
		return strings.Contains(logs.String(), "state=token_rejected") && strings.Contains(logs.String(), "SIGHUP")
	})

	write(good)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	knottest.Eventually(t, "the leaf connected with the new token", func() bool {
		return strings.Contains(logs.String(), "leaf connected to origin")
	})

	if err := os.WriteFile(cfgPath, []byte("[server\nlisten = "), 0o600); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	knottest.Eventually(t, "the broken file refused", func() bool {
		return strings.Contains(logs.String(), "reload refused: the running configuration stays")
	})
	res, err := http.Get("http://" + addr + "/api/ping")
	if err != nil {
		t.Fatalf("the leaf stopped answering after a broken reload: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("ping after a broken reload = %d", res.StatusCode)
	}
}
