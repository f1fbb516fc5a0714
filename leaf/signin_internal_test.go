package leaf

import (
	"net/http"
	"testing"
)

// Only an origin's complaint about the request itself is shown to the
// person signing in without touching the link's status; everything else
// keeps its meaning (token, address, rate limit, verdict).
func TestRequestRefusedTellsTheRequestsFaultFromTheLinks(t *testing.T) {
	for _, tt := range []struct {
		oe   OriginError
		want bool
	}{
		{OriginError{Status: http.StatusRequestEntityTooLarge}, true},
		{OriginError{Status: http.StatusBadRequest, Message: "The request body is larger than 64 KiB."}, true},
		{OriginError{Status: http.StatusUnprocessableEntity}, true},
		{OriginError{Status: http.StatusUnauthorized}, false},
		{OriginError{Status: http.StatusUnauthorized, Code: CodeLoginRefused}, false},
		{OriginError{Status: http.StatusForbidden, Code: CodeLeafNodesDisabled}, false},
		{OriginError{Status: http.StatusConflict, Code: CodeVersionMismatch}, false},
		{OriginError{Status: http.StatusNotFound}, false},
		{OriginError{Status: http.StatusTooManyRequests}, false},
		{OriginError{Status: http.StatusBadGateway}, false},
		{OriginError{}, false},
	} {
		if got := requestRefused(&tt.oe); got != tt.want {
			t.Errorf("requestRefused(%+v) = %v, want %v", tt.oe, got, tt.want)
		}
	}
}
