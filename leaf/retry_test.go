package leaf_test

import (
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/leaf"
)

// The leaf's backoff runs on its clock: after a failed attempt it waits
// for the clock, not for the wall, and once the clock has moved past the
// longest backoff it tries again and connects to the origin that is back.
func TestTheLeafRetriesWhenItsClockSaysSo(t *testing.T) {
	origin := knottest.Start(t, knottest.Config(t))
	token, _ := createToken(t, origin.SetupAdmin(), "Retry Test")
	addr, ocfg := origin.Addr(), origin.Cfg
	origin.Stop()

	lcfg := knottest.Config(t)
	lcfg.Server.Origin.Server = config.URLList(origin.URL)
	lcfg.Server.Origin.Token = token
	if _, err := lcfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clk := knottest.NewClock()
	lf := knottest.Start(t, lcfg, knottest.WithTimersOn(clk))
	// Two timers: the token sweep's ticker, and the backoff after the
	// first attempt found nobody at the origin's address.
	knottest.AwaitTimers(t, clk, 2)
	st := lf.Server.Leaf().Status()
	if st.State != leaf.StateUnreachable || strings.HasPrefix(st.Message, "Connecting") {
		t.Fatalf("after a failed first attempt the status is %s %q", st.State, st.Message)
	}
	if wait := st.NextRetry.Sub(clk.Now()); wait <= 0 || wait > 30*time.Second {
		t.Fatalf("the next retry is %s away on the leaf's clock, want within the backoff", wait)
	}

	knottest.Start(t, ocfg, knottest.WithAddr(addr))
	clk.Advance(30 * time.Second)
	knottest.AwaitLeaf(t, lf.Server.Leaf(), "the leaf to reconnect", func() bool { return lf.Server.Leaf().Status().Healthy() })
}
