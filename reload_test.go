package main

import (
	"fmt"
	"net/http"
	"os"
	"syscall"
	"testing"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
)

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

	leafConfig := func(token string) string {
		return fmt.Sprintf("[server.origin]\nserver = %q\ntoken = %q\n", origin.URL, token)
	}
	cfgPath, dbPath := writeConfig(t, leafConfig(bad))

	leaf := runServer(cfgPath)
	t.Cleanup(func() {
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		leaf.wait(t)
	})
	addr := leaf.logs.awaitListening(t, leaf.stopped)
	leaf.logs.awaitText(t, "state=token_rejected", leaf.stopped)
	leaf.logs.awaitText(t, "SIGHUP", leaf.stopped)

	if err := os.WriteFile(cfgPath, []byte(configText(dbPath, leafConfig(good))), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	leaf.logs.awaitText(t, "leaf connected to origin", leaf.stopped)

	if err := os.WriteFile(cfgPath, []byte("[server\nlisten = "), 0o600); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	leaf.logs.awaitText(t, "reload refused: the running configuration stays", leaf.stopped)
	res, err := http.Get("http://" + addr + "/api/ping")
	if err != nil {
		t.Fatalf("the leaf stopped answering after a broken reload: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("ping after a broken reload = %d", res.StatusCode)
	}
}
