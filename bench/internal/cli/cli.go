// Package cli holds what the bench harnesses' command lines share: one way
// to refuse a bad flag, the comma-separated list of scenarios, and the
// context a run goes by.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Prog is a harness's name, the prefix of everything it says on stderr.
type Prog string

// Fail says "prog: ..." on stderr and exits 2, the status of a bad
// command line: the flags are checked before anything starts, so there
// is nothing to clean up.
func (p Prog) Fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, string(p)+": "+format+"\n", args...)
	os.Exit(2)
}

// FailIf fails with the message when bad holds. The checks run one after
// another, so the first refused flag is the one reported.
func (p Prog) FailIf(bad bool, format string, args ...any) {
	if bad {
		p.Fail(format, args...)
	}
}

// InRange fails unless lo ≤ v ≤ hi, saying "-flag v: want lo to hi": the
// bounds keep a typo from starting an hour-long run.
func InRange[T ~int | ~int64](p Prog, flag string, v, lo, hi T) {
	p.FailIf(v < lo || v > hi, "%s %d: want %d to %d", flag, v, lo, hi)
}

// Scenarios reads list, the comma-separated value of flag, as a set of
// scenario names, each of which must be one of names. An empty list is
// nil: every scenario runs.
func (p Prog) Scenarios(flag, list string, names []string) map[string]bool {
	if list == "" {
		return nil
	}
	set := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(names, s) {
			p.Fail("%s: no scenario %q; there are %s", flag, s, strings.Join(names, ", "))
		}
		set[s] = true
	}
	return set
}

// RunContext is the context a run goes by: done at ^C or SIGTERM, so that
// the harness still removes its temp files and stops what it started, and
// after timeout. cancel releases both.
func RunContext(timeout time.Duration) (ctx context.Context, cancel context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	return ctx, func() {
		cancelTimeout()
		stop()
	}
}
