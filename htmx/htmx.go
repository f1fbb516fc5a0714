// Package htmx holds the request and response headers of htmx
// (https://htmx.org/reference/#headers) in one place, so that handlers ask
// "is this a partial swap?" and say "redirect there" without spelling
// header names.
package htmx

import "net/http"

// Request headers htmx sends.
const (
	HeaderRequest        = "HX-Request"
	HeaderHistoryRestore = "HX-History-Restore-Request"
	HeaderBoosted        = "HX-Boosted"
	HeaderTarget         = "HX-Target"
)

// Response headers htmx obeys.
const (
	HeaderRedirect = "HX-Redirect"
	HeaderRetarget = "HX-Retarget"
	HeaderReswap   = "HX-Reswap"
	HeaderTrigger  = "HX-Trigger"
)

// IsRequest reports whether htmx made the request and will swap a
// fragment. A history-restore request comes from htmx too, but it replaces
// the whole page (the user went back to a URL htmx had replaced), so it is
// answered like a plain browser load.
func IsRequest(r *http.Request) bool {
	return r.Header.Get(HeaderRequest) == "true" && r.Header.Get(HeaderHistoryRestore) != "true"
}

// IsBoosted reports whether the request came from a boosted link or form
// (hx-boost): htmx wants a whole page then, swapped into the body.
func IsBoosted(r *http.Request) bool {
	return r.Header.Get(HeaderBoosted) == "true"
}

// Target is the id of the element htmx will swap the answer into, if any.
func Target(r *http.Request) string {
	return r.Header.Get(HeaderTarget)
}

// Redirect tells htmx to load url as a full page. The answer's status
// must be 2xx: htmx ignores headers on a 3xx it never sees.
func Redirect(w http.ResponseWriter, url string) {
	w.Header().Set(HeaderRedirect, url)
}

// Retarget swaps the answer into the element selector names instead of the
// request's target, the way swap says (outerHTML, innerHTML, …).
func Retarget(w http.ResponseWriter, selector, swap string) {
	w.Header().Set(HeaderRetarget, selector)
	if swap != "" {
		w.Header().Set(HeaderReswap, swap)
	}
}

// Trigger fires event on the page once the answer is swapped in.
func Trigger(w http.ResponseWriter, event string) {
	w.Header().Set(HeaderTrigger, event)
}

// Vary marks an answer that differs between htmx and plain requests, so
// that caches keep the page and the fragment apart.
func Vary(w http.ResponseWriter) {
	w.Header().Add("Vary", HeaderRequest)
}
