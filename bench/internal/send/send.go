// Package send makes the bench harnesses' one-off HTTP requests (seeding,
// signing in, health checks); the load itself comes from their own loops
// or wrk.
package send

import (
	"context"
	"io"
	"net/http"
	"strings"
)

// Do sends one request with body (nil for none) of contentType ("" for
// none) and extra headers given as "Key: value" lines, and returns the
// response, whose body the caller closes.
func Do(ctx context.Context, c *http.Client, method, url, contentType string, body io.Reader, headers ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return c.Do(req)
}
