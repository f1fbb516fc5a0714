package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/knot-dev/knot/config"
)

// Names of the generated certificate files in the data directory.
const (
	selfSignedCert = "knot-selfsigned.crt"
	selfSignedKey  = "knot-selfsigned.key"
)

// loadCertificate returns the configured certificate, or the self-signed one
// kept in the data directory, generating it on the first start, and again
// (with a log line) when server.url names a host the kept one does not
// cover: leaves check the name, so a certificate for the wrong host is
// useless to them.
func loadCertificate(cfg *config.Config, log *slog.Logger) (tls.Certificate, error) {
	t := cfg.Server.TLS
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return cert, fmt.Errorf("load server.tls.cert_file %s and server.tls.key_file %s: %w", t.CertFile, t.KeyFile, err)
		}
		return cert, nil
	}
	certPath := filepath.Join(cfg.DataDir(), selfSignedCert)
	keyPath := filepath.Join(cfg.DataDir(), selfSignedKey)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		host := urlHost(cfg.Server.URL)
		if leaf, perr := x509.ParseCertificate(cert.Certificate[0]); perr == nil && host != "" && leaf.VerifyHostname(host) != nil {
			log.Info("regenerating the self-signed certificate: server.url's host is not among its names", "host", host, "cert", certPath)
			if err := generateSelfSigned(cfg.Server.URL, certPath, keyPath); err != nil {
				return cert, err
			}
			return tls.LoadX509KeyPair(certPath, keyPath)
		}
		return cert, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return cert, fmt.Errorf("load self-signed certificate %s: %w (delete both %s and %s to have them generated again)", certPath, err, certPath, keyPath)
	}
	if err := generateSelfSigned(cfg.Server.URL, certPath, keyPath); err != nil {
		return cert, err
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

// SelfSignedCertPath is where the generated certificate lives, for leaves
// that need to trust it through server.origin.ca_file.
func SelfSignedCertPath(cfg *config.Config) string {
	return filepath.Join(cfg.DataDir(), selfSignedCert)
}

func urlHost(serverURL string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func generateSelfSigned(serverURL, certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"knot"}, CommonName: "knot self-signed"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	if u, err := url.Parse(serverURL); err == nil && u.Hostname() != "" {
		if ip := net.ParseIP(u.Hostname()); ip != nil {
			if !ip.IsLoopback() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if u.Hostname() != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, u.Hostname())
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create self-signed certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", keyPath, err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", certPath, err)
	}
	return nil
}
