package handlers

import (
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/alexedwards/scs/v2"

	"github.com/knot-dev/knot/static"
)

// The edge: what wraps every response before any routing, session or
// sign-in — security headers (so that they are on the cross-origin 403 and
// on every error too), the scheme check on Origin, and the static files,
// which need neither a session nor an identity.

// withSecurityHeaders sets the headers every response carries. HSTS only
// under TLS: a plain-HTTP server (behind a TLS proxy or in tests) must not
// tell browsers anything about HTTPS.
//
// The values are built once and shared by every response, which spares each
// request an allocation per header. Sharing is safe because each slice is
// full (length = capacity): Header.Add appends into a new array, and Set
// and Del replace the slice, so no response can change another's.
func (h *Handlers) withSecurityHeaders(next http.Handler) http.Handler {
	headers := [][2]string{
		{"X-Content-Type-Options", "nosniff"},
		{"X-Frame-Options", "DENY"},
		{"Referrer-Policy", "same-origin"},
		{"Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"},
	}
	if h.cfg.Server.TLS.UseTLS {
		headers = append(headers, [2]string{"Strict-Transport-Security", "max-age=31536000"})
	}
	type header struct {
		key   string
		value []string
	}
	shared := make([]header, len(headers))
	for i, kv := range headers {
		shared[i] = header{http.CanonicalHeaderKey(kv[0]), []string{kv[1]}[:1:1]}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		for _, s := range shared {
			hd[s.key] = s.value
		}
		next.ServeHTTP(w, r)
	})
}

// withSessions loads and saves the session around next, except for API
// calls made with a bearer token and no session cookie — what scripts
// send. identify authenticates those by the token alone and no API answer
// writes to the session, so loading and saving one only cost time. They
// get an empty session instead, as scs gives any request without a
// cookie, so that a handler reading it finds nothing rather than
// panicking; a request that also carries the session cookie goes through
// scs as before.
func (h *Handlers) withSessions(next http.Handler) http.Handler {
	loadAndSave := h.sessions.LoadAndSave(next)
	cookie := h.sessions.Cookie.Name
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") || r.Header.Get("Authorization") == "" {
			loadAndSave.ServeHTTP(w, r)
			return
		}
		if _, err := r.Cookie(cookie); err == nil {
			loadAndSave.ServeHTTP(w, r)
			return
		}
		// The same Vary as through scs: the answer to a URL may still
		// depend on the cookie for other callers.
		w.Header().Add("Vary", "Cookie")
		// Load never fails without a token: it makes an empty session
		// without asking the store.
		ctx, _ := h.sessions.Load(r.Context(), "") //nolint:errcheck // see above
		next.ServeHTTP(w, r.WithContext(ctx))
		if st := h.sessions.Status(ctx); st != scs.Unmodified {
			h.log.Error("an API answer to a bearer token changed the session; the change is dropped, as no cookie carries it", "path", r.URL.Path)
		}
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
