package knottest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumEnv names the environment variable that tells the browser tests
// where Chromium is: a path, or a command name looked up on PATH
// (KNOT_CHROMIUM=chromium-browser). Unset, they use DefaultChromium.
const ChromiumEnv = "KNOT_CHROMIUM"

// DefaultChromium is where Debian and Ubuntu install Chromium.
const DefaultChromium = "/usr/bin/chromium"

// ChromiumPath is the Chromium the browser tests run: $KNOT_CHROMIUM, or
// DefaultChromium.
func ChromiumPath() string {
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p
	}
	return DefaultChromium
}

// browserLifetime bounds a test browser however a test goes wrong; tests
// should bound their own steps more tightly (about 30s).
const browserLifetime = 2 * time.Minute

// Browser starts a headless Chromium with a fresh profile and returns a
// chromedp context for one tab in it. The browser is closed, and its profile
// removed, when the test ends. Without Chromium (see ChromiumPath) the test
// is skipped, except under CI (the CI environment variable is set), where a
// missing browser must fail rather than pass silently.
func Browser(t testing.TB) context.Context {
	t.Helper()
	chromium, err := exec.LookPath(ChromiumPath())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser tests need Chromium (set %s to its path): %v", ChromiumEnv, err)
		}
		t.Skipf("no Chromium: %v; install it or set %s to run the browser tests (they fail instead of skipping when CI is set)", err, ChromiumEnv)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // containers and CI runners rarely allow Chromium's sandbox
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Nothing but the server under test: no updates, sync or QUIC probes
		// that would slow tests down or reach out of the machine.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	life, cancelLife := context.WithTimeout(context.Background(), browserLifetime)
	alloc, cancelAlloc := chromedp.NewExecAllocator(life, opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	// Cleanups run last-in first-out: the tab, then the browser (whose
	// cancel waits for the process to exit), then the profile directory.
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelLife()
	})
	// Start the browser now, so that a launch failure is reported as such
	// and not as the first step of the test failing.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// BrowserFor is Browser with the test's steps bounded by d, which should
// be well under the browser's own lifetime.
func BrowserFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(Browser(t), d)
	t.Cleanup(cancel)
	return ctx
}
