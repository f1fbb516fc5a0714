package knottest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where the browser tests expect Chromium.
const ChromiumPath = "/usr/bin/chromium"

// browserLifetime bounds a test browser however a test goes wrong; tests
// should bound their own steps more tightly (about 30s).
const browserLifetime = 2 * time.Minute

// Browser starts a headless Chromium with a fresh profile and returns a
// chromedp context for one tab in it. The browser is closed, and its profile
// removed, when the test ends. Without /usr/bin/chromium the test is skipped,
// except under CI (the CI environment variable is set), where a missing
// browser must fail rather than pass silently.
func Browser(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser tests need Chromium at %s: %v", ChromiumPath, err)
		}
		t.Skipf("no Chromium at %s; install it to run the browser tests (they fail instead of skipping when CI is set)", ChromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
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
