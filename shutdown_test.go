package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// SIGINT while a request is in flight: the request still gets its answer,
// run returns without error, and the database is closed cleanly (SQLite
// removes the write-ahead log when the last connection closes).
func TestSIGINTShutsDownGracefully(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfgPath := filepath.Join(dir, "knot.toml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`[server]
listen = %q
url = "http://%s"
[server.tls]
use_tls = false
[server.sqlite]
path = %q
[log]
level = "error"
`, addr, addr, filepath.Join(dir, "data", "knot.db"))), 0o600)

	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run([]string{"server", "--config", cfgPath}, &logs, &logs) }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/api/ping")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A sign-in whose body has not fully arrived: the handler is busy
	// reading it when the signal comes.
	body := "email=a%40b.c&password=wrongwrong"
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:5])
	time.Sleep(300 * time.Millisecond) // let the server start on the request (ordering, not a timed assertion)

	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the shutdown is now waiting for this request
	fmt.Fprint(conn, body[5:])
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost in the shutdown: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("in-flight request answered %d", res.StatusCode)
	}

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop after SIGINT")
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "knot.db-wal")); err == nil {
		t.Fatal("the write-ahead log is still there: the database was not closed cleanly")
	}
}
