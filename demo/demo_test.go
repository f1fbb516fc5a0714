package demo_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/demo"
	"github.com/knot-dev/knot/knottest"
)

// One command gives an origin and a leaf set up through their real
// interfaces: the printed credentials sign in on the leaf (forwarded to the
// origin), the origin's template shows on the leaf, and stopping says where
// the data is.
func TestTheDemoRunsAnOriginAndALeafThatWorkTogether(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	out := &knottest.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan demo.Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, dir, out, slog.New(slog.NewTextHandler(io.Discard, nil)), func(i demo.Info) { ready <- i })
	}()
	var info demo.Info
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("the demo stopped before it was ready: %v\n%s", err, out.String())
	case <-time.After(60 * time.Second):
		t.Fatal("the demo did not come up")
	}
	for _, want := range []string{info.OriginURL, info.LeafURL, info.Email, info.Password} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("the demo's output lacks %q:\n%s", want, out.String())
		}
	}

	pemBytes, err := os.ReadFile(filepath.Join(dir, "leaf", "knot-selfsigned.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer browser.CloseIdleConnections()
	res, err := browser.PostForm(info.LeafURL+"/login", url.Values{"email": {info.Email}, "password": {info.Password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("signing in on the leaf with the printed credentials = %d", res.StatusCode)
	}
	knottest.Eventually(t, "the origin's template on the leaf", func() bool {
		res, err := browser.Get(info.LeafURL + "/api/templates")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode == http.StatusOK && strings.Contains(string(b), "demo-workspace")
	})

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("the demo ended with %v", err)
	}
	if !strings.Contains(out.String(), "Its data is in "+dir) {
		t.Fatalf("stopping does not say where the data is:\n%s", out.String())
	}
}

func TestTheDemoRefusesADirectoryInUse(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "something"), []byte("x"), 0o600)
	err := demo.Run(context.Background(), dir, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("demo in a used directory: %v", err)
	}
}
