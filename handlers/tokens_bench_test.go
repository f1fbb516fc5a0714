package handlers_test

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkTokenPage renders the API Tokens page of a user with 1,000
// tokens through the real stack (session, router, templ): the page the ratio
// harness times. bytes/page is the body the browser downloads.
//
//	go test ./handlers -run '^$' -bench TokenPage -benchmem
func BenchmarkTokenPage(b *testing.B) {
	srv, uid := startWithDev(b)
	seedTokens(b, srv, uid, 1000, func(i int) string { return fmt.Sprintf("bench token %04d", i) })
	dev := srv.Login("dev@example.com", devPassword)
	var size int
	for b.Loop() {
		res := dev.Get("/api-tokens")
		if res.StatusCode != http.StatusOK {
			b.Fatalf("GET /api-tokens = %d: %.300s", res.StatusCode, res.Body)
		}
		size = len(res.Body)
	}
	b.ReportMetric(float64(size), "bytes/page")
}
