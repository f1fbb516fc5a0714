package server_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/models"
	"github.com/knot-dev/knot/server"
)

// The sweep runs on the server's clock: moving that clock past a token's
// lifetime and the sweep interval deletes the token, with no real wait.
func TestTheTokenSweepRunsWhenTheServersClockReachesIt(t *testing.T) {
	clk := knottest.NewClock()
	srv := knottest.Start(t, knottest.Config(t), knottest.WithTimersOn(clk))
	id, _ := srv.SetupAdmin().CreateAPIToken("left unused")
	tokens := func() (n int64) {
		if err := srv.Server.DB().Raw(`SELECT COUNT(*) FROM api_tokens WHERE id = ?`, id).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	if tokens() != 1 {
		t.Fatal("the new token is not stored")
	}
	// Two tickers: the sweep's and the change feed's poll.
	knottest.AwaitTimers(t, clk, 2)
	done := srv.Server.Sweeps()
	clk.Advance(models.TokenLifetime + srv.Cfg.Server.TokenSweepInterval.D() + time.Second)
	srv.AwaitSweeps(t, done+1)
	if tokens() != 0 {
		t.Error("the sweep after the token's lifetime left it in place")
	}
}

// A server that was built but never started runs no jobs, and closes.
func TestAServerNeverStartedClosesCleanly(t *testing.T) {
	clk := knottest.NewClock()
	cfg := knottest.Config(t)
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler), server.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if n := clk.Pending(); n != 0 {
		t.Errorf("a server that was not started armed %d timers", n)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}

// Run serves until Stop; Stop drains, closes the database, and can be
// called again.
func TestARunningServerAnswersUntilStoppedAndStopsOnce(t *testing.T) {
	srv, err := server.New(context.Background(), knottest.Config(t), slog.New(slog.DiscardHandler), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	run := srv.Run(context.Background(), ln)
	res, err := http.Get("http://" + ln.Addr().String() + "/api/ping")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("ping while running = %d", res.StatusCode)
	}
	if err := run.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := run.Stop(); err != nil {
		t.Fatalf("a second stop: %v", err)
	}
	if err := srv.DB().Exec("SELECT 1").Error; err == nil {
		t.Fatal("the database is still open after Stop")
	}
}
