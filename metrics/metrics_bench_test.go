package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/knot-dev/knot/metrics"
)

// BenchmarkMiddleware is what counting and timing costs every request:
// a tiny route through the middleware, from every core at once.
func BenchmarkMiddleware(b *testing.B) {
	for _, bc := range []struct {
		name string
		m    *metrics.Metrics
	}{{"off", nil}, {"on", metrics.New(metrics.Options{})}} {
		b.Run(bc.name, func(b *testing.B) {
			r := router(bc.m)
			r.GET("/api/users/whoami", func(c *gin.Context) { c.Status(http.StatusOK) })
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "/api/users/whoami", nil)
				w := httptest.NewRecorder()
				for pb.Next() {
					r.ServeHTTP(w, req)
				}
			})
		})
	}
}
