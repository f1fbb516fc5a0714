// Command yardstick is the bare Go server that bench/ratio measures knot
// against: net/http over TLS (a self-signed ECDSA P-256 certificate made in
// memory, like knot's, TLS 1.2 or later), one tiny JSON route, no
// middleware, no database. Whatever knot costs beyond it is knot's own.
//
//	go run ./bench/yardstick -listen 127.0.0.1:0
//
// It listens on a loopback address only, prints "listening on ADDR" on
// stdout once it accepts connections, answers every GET /api/ping (and
// every other path) with {"status":true}, and stops on SIGINT or SIGTERM,
// or when its standard input closes (so it never outlives the harness
// that started it).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	watchStdin := flag.Bool("stop-on-stdin-eof", false, "stop when standard input closes (the harness holds it open)")
	flag.Parse()
	if err := run(*listen, *watchStdin); err != nil {
		fmt.Fprintln(os.Stderr, "yardstick:", err)
		os.Exit(1)
	}
}

func run(listen string, watchStdin bool) error {
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		ln.Close()
		return fmt.Errorf("%s is not a loopback address", ln.Addr())
	}
	body := []byte(`{"status":true}`)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write(body) //nolint:errcheck // a client that went away is no error here
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		// wrk opens and drops a connection before its run (a handshake
		// that ends in EOF); that is not worth a line per run.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if watchStdin {
		go func() {
			io.Copy(io.Discard, os.Stdin) //nolint:errcheck // EOF or an error both mean: stop
			stop()
		}()
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck // exiting anyway
	}()
	fmt.Printf("listening on %s\n", ln.Addr())
	if err := srv.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, valid for a day.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "yardstick"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
