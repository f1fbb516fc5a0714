package htmx_test

import (
	"net/http/httptest"
	"testing"

	"github.com/knot-dev/knot/htmx"
)

func TestARequestIsAnHTMXSwapOnlyWhenHTMXSaysSoAndIsNotRestoringHistory(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    bool
	}{
		{"plain browser load", nil, false},
		{"htmx swap", map[string]string{"HX-Request": "true"}, true},
		{"history restore wants the whole page", map[string]string{"HX-Request": "true", "HX-History-Restore-Request": "true"}, false},
		{"anything but true is not htmx", map[string]string{"HX-Request": "1"}, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		if got := htmx.IsRequest(r); got != tc.want {
			t.Errorf("%s: IsRequest = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestResponseHeadersAreTheOnesHTMXObeys(t *testing.T) {
	w := httptest.NewRecorder()
	htmx.Redirect(w, "/templates")
	htmx.Retarget(w, "#token-form", "outerHTML")
	htmx.Trigger(w, "tokens-changed")
	htmx.Vary(w)
	for k, want := range map[string]string{
		"HX-Redirect": "/templates", "HX-Retarget": "#token-form", "HX-Reswap": "outerHTML",
		"HX-Trigger": "tokens-changed", "Vary": "HX-Request",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("HX-Boosted", "true")
	r.Header.Set("HX-Target", "main")
	if !htmx.IsBoosted(r) || htmx.Target(r) != "main" {
		t.Errorf("IsBoosted = %v, Target = %q; want true, main", htmx.IsBoosted(r), htmx.Target(r))
	}
}
