package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/server"
)

func TestEveryServerOfAClusterLogsTheSameSetupCode(t *testing.T) {
	cfg := knottest.PostgresConfig(t)
	// Started at once on an empty database, so that they race to make the code.
	const n = 4
	var wg sync.WaitGroup
	logs := make([]*knottest.LogBuffer, n)
	servers := make([]*server.Server, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		c := knottest.ServerDir(t, cfg)
		logs[i] = &knottest.LogBuffer{}
		wg.Go(func() {
			<-start
			servers[i], errs[i] = server.New(context.Background(), c, slog.New(slog.NewTextHandler(logs[i], nil)), server.Options{})
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("server %d: %v", i, errs[i])
		}
		servers[i].Close()
	}
	code := knottest.SetupCodeIn(logs[0].String())
	if code == "" {
		t.Fatalf("server 0 logs no `initial setup code: `: %s", logs[0])
	}
	for i := 1; i < n; i++ {
		if got := knottest.SetupCodeIn(logs[i].String()); got != code {
			t.Errorf("server %d logs code %q, server 0 %q", i, got, code)
		}
	}

	// Restarted, they still agree; setup through one of them ends the code
	// on the other too.
	a := knottest.Start(t, knottest.ServerDir(t, cfg))
	b := knottest.Start(t, knottest.ServerDir(t, cfg))
	for _, srv := range []*knottest.Instance{a, b} {
		if got := knottest.SetupCodeIn(srv.Logs.String()); got != code {
			t.Fatalf("after a restart a server logs code %q, want %q", got, code)
		}
	}
	a.SetupAdmin()
	res := b.Client().PostForm("/initial-system-setup", url.Values{
		"setup_code": {code}, "username": {"mallory"}, "email": {"mallory@example.com"},
		"password": {"longenough"}, "confirm": {"longenough"},
	})
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("setup on the other server after setup = %d, want 404", res.StatusCode)
	}
}
