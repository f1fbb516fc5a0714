package server_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knot-dev/knot/config"
	"github.com/knot-dev/knot/knottest"
	"github.com/knot-dev/knot/server"
)

func TestSessionSurvivesARestart(t *testing.T) {
	cfg := knottest.Config(t)
	first := knottest.Start(t, cfg)
	c := first.SetupAdmin()
	first.Stop()

	second := knottest.Start(t, cfg)
	c.Base = second.URL
	res := c.Get("/api/users/whoami")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, knottest.AdminEmail) {
		t.Fatalf("whoami after restart = %d %s", res.StatusCode, res.Body)
	}
}

func TestSelfSignedCertificateIsGeneratedOnceAndReused(t *testing.T) {
	cfg := knottest.Config(t)
	cfg.Server.TLS.UseTLS = true
	cfg.Server.URL = "https://knot.internal:3000"
	first := knottest.Start(t, cfg)
	certPath := server.SelfSignedCertPath(&first.Cfg)
	pem1, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatalf("certificate not written into the data dir: %v", err)
	}
	// The server answers over TLS with that certificate.
	res := first.Client().Get("/api/ping")
	if res.StatusCode != http.StatusOK || res.TLS == nil {
		t.Fatalf("TLS ping = %d", res.StatusCode)
	}
	if got := res.TLS.PeerCertificates[0].Raw; !bytes.Equal(got, mustDER(t, pem1)) {
		t.Fatal("server did not present the generated certificate")
	}
	cert, _ := x509.ParseCertificate(mustDER(t, pem1))
	for _, name := range []string{"knot.internal", "localhost"} {
		if err := cert.VerifyHostname(name); err != nil {
			t.Errorf("certificate does not cover %s: %v", name, err)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1"} {
		if err := cert.VerifyHostname(ip); err != nil {
			t.Errorf("certificate does not cover %s: %v", ip, err)
		}
	}
	if cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("certificate key algorithm = %v, want ECDSA", cert.PublicKeyAlgorithm)
	}
	first.Stop()

	second := knottest.Start(t, cfg)
	pem2, _ := os.ReadFile(certPath)
	if !bytes.Equal(pem1, pem2) {
		t.Fatal("certificate regenerated on the second start")
	}
	if res := second.Client().Get("/api/ping"); res.StatusCode != http.StatusOK {
		t.Fatalf("second start ping = %d", res.StatusCode)
	}
	if res := second.Client().Get("/api/ping"); !bytes.Equal(res.TLS.PeerCertificates[0].Raw, mustDER(t, pem1)) {
		t.Fatal("second start presents a different certificate")
	}
}

func TestUnreadableCertificateIsAClearError(t *testing.T) {
	cfg := knottest.Config(t)
	cfg.Server.TLS.UseTLS = true
	cfg.Server.TLS.CertFile = filepath.Join(t.TempDir(), "missing.crt")
	cfg.Server.TLS.KeyFile = filepath.Join(t.TempDir(), "missing.key")
	_, err := server.New(t.Context(), cfg, nil, server.Options{})
	if err == nil || !strings.Contains(err.Error(), "server.tls.cert_file") {
		t.Fatalf("err = %v, want one naming server.tls.cert_file", err)
	}
}

func TestEncryptionKeyIsGeneratedOnceWithPrivateMode(t *testing.T) {
	cfg := knottest.Config(t)
	first := knottest.Start(t, cfg)
	key1 := first.Cfg.Server.Encrypt
	if _, err := first.Cfg.EncryptKey(); err != nil {
		t.Fatalf("generated key invalid: %v", err)
	}
	path := filepath.Join(cfg.DataDir(), "encrypt.key")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	first.Stop()
	second := knottest.Start(t, cfg)
	if second.Cfg.Server.Encrypt != key1 {
		t.Fatal("encryption key changed across restarts")
	}
}

func TestConfiguredKeyIsUsedAsGiven(t *testing.T) {
	cfg := knottest.Config(t)
	cfg.Server.Encrypt = server.NewKey()
	srv := knottest.Start(t, cfg)
	if srv.Cfg.Server.Encrypt != cfg.Server.Encrypt {
		t.Fatal("configured key replaced")
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir(), "encrypt.key")); err == nil {
		t.Fatal("a key file was generated although server.encrypt was set")
	}
}

func mustDER(t *testing.T, pemBytes []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

func TestAnUnreachableDatabaseStopsStartUpNamingTheKeyAndHostButNotThePassword(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := knottest.Config(t)
	cfg.Server.Postgres = config.Postgres{Enabled: true, DSN: "postgres://knot:s3cret-pw@" + addr + "/knot?sslmode=disable&connect_timeout=5"}
	msg := knottest.StartRefused(t, cfg, "a server started on a database nobody listens for").Error()
	if !strings.Contains(msg, "server.postgres.dsn") || !strings.Contains(msg, addr) || strings.Contains(msg, "s3cret-pw") {
		t.Fatalf("start-up error = %q; want the key and %s, never the password", msg, addr)
	}
}

// An origin and a leaf on one machine, one browser: cookies do not care
// about ports, so only distinct cookie names keep the two sign-ins apart.
func TestTwoServersOnOneHostKeepSeparateSessionsInOneBrowser(t *testing.T) {
	cfgA, cfgB := knottest.Config(t), knottest.Config(t)
	cfgA.Server.URL, cfgB.Server.URL = "http://127.0.0.1:3000", "http://127.0.0.1:3001"
	a, b := knottest.Start(t, cfgA), knottest.Start(t, cfgB)
	if a.SessionCookie() == b.SessionCookie() {
		t.Fatal("two server URLs got one cookie name")
	}
	browser := a.SetupAdmin()
	b.SetupAdmin()
	onB := browser.On(b.URL)
	if res := onB.PostForm("/login", url.Values{"email": {knottest.AdminEmail}, "password": {knottest.AdminPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in on B = %d", res.StatusCode)
	}
	for name, c := range map[string]*knottest.Client{"A": browser, "B": onB} {
		if res := c.Get("/api/users/whoami"); res.StatusCode != http.StatusOK {
			t.Fatalf("after signing in on both, the session on %s = %d", name, res.StatusCode)
		}
	}
	if res := onB.PostForm("/logout", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out on B = %d", res.StatusCode)
	}
	if res := browser.Get("/api/users/whoami"); res.StatusCode != http.StatusOK {
		t.Fatalf("signing out of B signed the browser out of A: %d", res.StatusCode)
	}
	if got, want := server.SessionCookieName("https://knot.example.com"), server.SessionCookieName("HTTPS://KNOT.example.com:443/"); got != want {
		t.Fatalf("one public URL written two ways got two names: %s, %s", got, want)
	}
}

func TestASecondServerOnTheSameDataDirectoryRefusesToStart(t *testing.T) {
	cfg := knottest.Config(t)
	knottest.Start(t, cfg)
	err := knottest.StartRefused(t, cfg, "a second server started on a database in use")
	for _, want := range []string{cfg.Server.SQLite.Path, "pid", "knot.lock"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("the refusal %q does not name %q", err, want)
		}
	}
}

// A self-signed certificate for the wrong host is useless to leaves, which
// check the name: a new server.url gets a new certificate, and says so.
func TestTheSelfSignedCertificateFollowsServerURL(t *testing.T) {
	cfg := knottest.Config(t)
	cfg.Server.TLS.UseTLS = true
	cfg.Server.URL = "https://127.0.0.1:3000"
	first := knottest.Start(t, cfg)
	first.Stop()
	if strings.Contains(first.Logs.String(), "regenerating") {
		t.Fatal("the first certificate was regenerated")
	}
	again := knottest.Start(t, cfg)
	again.Stop()
	if strings.Contains(again.Logs.String(), "regenerating") {
		t.Fatal("a certificate that fits server.url was regenerated")
	}

	cfg.Server.URL = "https://knot.example.internal:3000"
	moved := knottest.Start(t, cfg)
	if !strings.Contains(moved.Logs.String(), "regenerating the self-signed certificate") {
		t.Fatal("no log line about the new certificate")
	}
	pemBytes, err := os.ReadFile(server.SelfSignedCertPath(&cfg))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname("knot.example.internal"); err != nil {
		t.Fatalf("the new certificate does not name server.url's host: %v", err)
	}
}
