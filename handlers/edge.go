package handlers

import (
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/knot-dev/knot/static"
)

// The edge: what wraps every response before any routing, session or
// sign-in — security headers (so that they are on the cross-origin 403 and
// on every error too), the scheme check on Origin, and the static files,
// which need neither a session nor an identity.

// withSecurityHeaders sets the headers every response carries. HSTS only
// under TLS: a plain-HTTP server (behind a TLS proxy or in tests) must not
// tell browsers anything about HTTPS.
func (h *Handlers) withSecurityHeaders(next http.Handler) http.Handler {
	hsts := h.cfg.Server.TLS.UseTLS
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
		if hsts {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// withOriginScheme refuses a state-changing request whose Origin names this
// host under another scheme. http.CrossOriginProtection compares hosts only,
// so without this a page on http://knot.example could post to
// https://knot.example.
//
// The expected scheme is server.url's (which is https behind a TLS proxy,
// where this server itself sees plain HTTP), and https on a TLS connection.
func (h *Handlers) withOriginScheme(next http.Handler) http.Handler {
	public := "https"
	if u, err := url.Parse(h.cfg.Server.URL); err == nil {
		public = u.Scheme
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if o := r.Header.Get("Origin"); o != "" && o != "null" {
				u, err := url.Parse(o)
				if err != nil || (u.Scheme != public && (r.TLS == nil || u.Scheme != "https")) {
					http.Error(w, "Cross-origin request refused: the page that sent it is not on this server's address.", http.StatusForbidden)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// staticFiles serves the embedded assets, files only: a directory is 404,
// never a listing.
func staticFiles() http.Handler {
	files := http.FileServerFS(static.Files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/static/")
		if st, err := fs.Stat(static.Files, name); err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		http.StripPrefix("/static", files).ServeHTTP(w, r)
	})
}
