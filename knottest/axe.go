package knottest

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, the accessibility checker (see
// testdata/README.md for its version and licence). It is embedded here,
// in a package only tests import, so that it never ships in knot.
//
//go:embed testdata/axe.min.js
var axeSource string

// AxeViolation is one rule a page breaks, as axe-core reports it.
type AxeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeRun checks the whole document. Only violations come back: the
// "incomplete" results (say, text over a gradient) would need a person.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help,
	nodes: v.nodes.map(n => ({target: n.target, failureSummary: n.failureSummary || ""}))
})))`

// Axe runs axe-core on the page the tab shows now. The checker is
// evaluated through DevTools, which the page's Content-Security-Policy
// does not govern, so the page needs no change to be checked.
func Axe(ctx context.Context) ([]AxeViolation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		return nil, fmt.Errorf("look for axe-core: %w", err)
	}
	if !loaded {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
			return nil, fmt.Errorf("load axe-core: %w", err)
		}
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]AxeViolation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("run axe-core: %w", err)
	}
	return v, nil
}

// Theme is a colour theme to check a page in.
type Theme string

const (
	Light Theme = "light"
	Dark  Theme = "dark"
)

// Themes are both of knot's themes.
var Themes = []Theme{Light, Dark}

// UseTheme shows the page in theme the way a visitor's system preference
// would (prefers-color-scheme), with no theme of its own chosen in the
// Theme select, so that the stylesheet's media query is what is checked; the
// select's data-theme copies of the colours are held to the same values
// by a test of their own.
func UseTheme(theme Theme) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: string(theme)}},
		})
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Evaluate[chromedp.Void](`delete document.documentElement.dataset.theme; try { localStorage.removeItem("knot-theme") } catch (e) {}`)(ctx, t)
	}
}

// CheckA11y fails the test for every rule axe-core finds the page
// breaking, in each theme, naming the page with what.
func CheckA11y(t testing.TB, ctx context.Context, what string) {
	t.Helper()
	for _, theme := range Themes {
		if err := chromedp.Do(ctx, UseTheme(theme)); err != nil {
			t.Fatalf("%s: switch to the %s theme: %v", what, theme, err)
		}
		violations, err := Axe(ctx)
		if err != nil {
			t.Fatalf("%s (%s theme): %v", what, theme, err)
		}
		for _, v := range violations {
			t.Errorf("%s (%s theme): %s", what, theme, v)
		}
	}
	if err := chromedp.Do(ctx, UseTheme(Light)); err != nil {
		t.Fatalf("%s: back to the light theme: %v", what, err)
	}
}

// String names the rule, its impact, what it asks for, and the first few
// elements that break it with axe's account of why.
func (v AxeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s, %s] %s", v.ID, v.Impact, v.Help)
	const shown = 3
	for i, n := range v.Nodes {
		if i == shown {
			fmt.Fprintf(&b, "\n\t… and %d more", len(v.Nodes)-shown)
			break
		}
		fmt.Fprintf(&b, "\n\t%v: %s", n.Target, strings.ReplaceAll(n.Summary, "\n", " "))
	}
	return b.String()
}
