package handlers

import (
	"net/http"
	"testing"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/metrics"
)

// Every reason a leaf gives for refusing a sign-in has its own answer; a
// new one that nobody mapped would show people a server error.
func TestEveryLeafRefusalHasAnAnswer(t *testing.T) {
	for refusal, want := range map[leaf.Refusal]struct {
		status  int
		outcome string
	}{
		leaf.BadCredentials: {http.StatusUnauthorized, metrics.OutcomeBadCredentials},
		leaf.Disabled:       {http.StatusForbidden, metrics.OutcomeRefused},
		leaf.Throttled:      {http.StatusTooManyRequests, metrics.OutcomeThrottled},
		leaf.RequestRefused: {http.StatusBadRequest, metrics.OutcomeError},
		leaf.OfflineUnknown: {http.StatusServiceUnavailable, metrics.OutcomeUnavailable},
		leaf.NotLinked:      {http.StatusServiceUnavailable, metrics.OutcomeUnavailable},
	} {
		status, outcome := leafSignInAnswer(&leaf.SignInError{Refusal: refusal})
		if status != want.status || outcome != want.outcome {
			t.Errorf("%v: answered %d %s, want %d %s", refusal, status, outcome, want.status, want.outcome)
		}
	}
}
