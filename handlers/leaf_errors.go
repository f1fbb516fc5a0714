package handlers

import (
	"net/http"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/metrics"
)

// leafSignInAnswer is how a sign-in the leaf refused is answered: the
// HTTP status and the metrics outcome (also the log's reason). The leaf
// says why it refused; the status is the web's business.
func leafSignInAnswer(e *leaf.SignInError) (status int, outcome string) {
	switch e.Refusal {
	case leaf.BadCredentials:
		return http.StatusUnauthorized, metrics.OutcomeBadCredentials
	case leaf.Disabled:
		return http.StatusForbidden, metrics.OutcomeRefused
	case leaf.Throttled:
		return http.StatusTooManyRequests, metrics.OutcomeThrottled
	case leaf.OfflineUnknown, leaf.NotLinked:
		return http.StatusServiceUnavailable, metrics.OutcomeUnavailable
	case leaf.RequestRefused:
		return http.StatusBadRequest, metrics.OutcomeError
	default:
		return http.StatusInternalServerError, metrics.OutcomeError
	}
}
