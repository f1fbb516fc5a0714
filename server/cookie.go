package server

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
)

// SessionCookieName is the session cookie's name for a server whose public
// URL is serverURL. Browsers keep cookies per host, not per port, so two
// knot servers on one machine (an origin and its leaf, say) would sign each
// other out if they shared a name. Derived from the URL's scheme, host and
// port, the name differs between them, while the servers of one cluster,
// which share one public server.url behind their load balancer, keep
// sharing sessions.
func SessionCookieName(serverURL string) string {
	key := strings.ToLower(serverURL)
	if u, err := url.Parse(serverURL); err == nil {
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
		}
		key = strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
	}
	sum := sha256.Sum256([]byte(key))
	return "knot_session_" + hex.EncodeToString(sum[:4])
}
