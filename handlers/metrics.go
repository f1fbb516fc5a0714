package handlers

import (
	"net/http"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/metrics"
)

// leafSignInOutcome is the metrics outcome of a sign-in a leaf refused. The
// leaf's answer carries only a status and a message for people, so the
// status decides: matching messages would break when one is reworded.
func leafSignInOutcome(e *leaf.SignInError) string {
	switch e.Status {
	case http.StatusUnauthorized:
		return metrics.OutcomeBadCredentials
	case http.StatusForbidden:
		return metrics.OutcomeRefused
	case http.StatusTooManyRequests:
		return metrics.OutcomeThrottled
	case http.StatusServiceUnavailable:
		return metrics.OutcomeUnavailable
	default:
		return metrics.OutcomeError
	}
}
