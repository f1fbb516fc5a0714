package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
)

// brokenLinks is a failed link in each state, its message as the leaf
// writes it: the origin's address and the setting to change.
func brokenLinks(now time.Time) []leaf.Status {
	var out []leaf.Status
	for _, state := range []leaf.State{leaf.StateUnreachable, leaf.StateTokenRejected, leaf.StateLeafNodesDisabled, leaf.StateUntrustedCertificate, leaf.StateVersionMismatch} {
		out = append(out, leaf.Status{
			State:     state,
			Message:   "The origin https://origin.example:8443 says no (server.origin.token).",
			Since:     now.Add(-3 * time.Minute),
			LastSync:  now.Add(-5 * time.Minute),
			NextRetry: now.Add(2 * time.Second),
		})
	}
	return out
}

// The banner is polled and also shown without JavaScript, so a countdown
// would be false a moment after it was written.
func TestTheDetailedBannerHasNoCountdown(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for _, st := range brokenLinks(now) {
		text, level := leafBanner(st)
		if strings.Contains(text, "Next retry in") || strings.Contains(text, "seconds") || !strings.Contains(text, "Retrying automatically.") {
			t.Errorf("%s: banner = %q", st.State, text)
		}
		if !strings.Contains(text, "https://origin.example:8443") || !strings.Contains(text, "as of 2026-11-02 08:55 UTC") {
			t.Errorf("%s: banner lacks the details signed-in people need: %q", st.State, text)
		}
		if want := map[bool]string{true: "warn", false: "error"}[st.State == leaf.StateUnreachable]; level != want {
			t.Errorf("%s: level %q, want %q", st.State, level, want)
		}
	}
	if text, _ := leafBanner(leaf.Status{State: leaf.StateConnected}); text != "" {
		t.Errorf("a healthy link has a banner: %q", text)
	}
}

func TestVisitorsBannerNamesNoAddressSettingOrTime(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	fix := "This leaf is not connected to its cluster: its administrator needs to fix its settings."
	want := map[leaf.State]string{
		leaf.StateUnreachable:          "This leaf cannot reach its cluster; people who signed in here before can still sign in.",
		leaf.StateLeafNodesDisabled:    "Leaf nodes are disabled on the cluster: ask its administrator.",
		leaf.StateTokenRejected:        fix,
		leaf.StateUntrustedCertificate: fix,
		leaf.StateVersionMismatch:      fix,
	}
	for _, st := range brokenLinks(now) {
		if got := leafBannerPublic(st); got != want[st.State] {
			t.Errorf("%s: visitors' banner = %q, want %q", st.State, got, want[st.State])
		}
	}
	starting := leaf.Status{State: leaf.StateUnreachable, Message: "Connecting to the origin https://origin.example:8443…", Since: now}
	if got := leafBannerPublic(starting); got != "This leaf is connecting to its cluster." {
		t.Errorf("while connecting, visitors' banner = %q", got)
	}
	if text, _ := leafBanner(starting); strings.Contains(text, "Retrying") || strings.Contains(text, "Since") {
		t.Errorf("while connecting, nothing has failed yet, but the banner = %q", text)
	}
	if got := leafBannerPublic(leaf.Status{State: leaf.StateConnected}); got != "" {
		t.Errorf("a healthy link has a visitors' banner: %q", got)
	}
}
