package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/knot-dev/knot/knottest"
)

// SIGINT while a request is in flight: the request still gets its answer
// and does its work, run returns without error, and the database is closed
// cleanly (SQLite removes the write-ahead log when the last connection
// closes).
func TestSIGINTShutsDownGracefully(t *testing.T) {
	cfgPath, dbPath := writeConfig(t, "")

	srv := runServer(cfgPath)
	addr := srv.logs.awaitListening(t, srv.stopped)
	srv.logs.awaitText(t, "initial setup code: ", srv.stopped)
	code := knottest.SetupCodeIn(srv.logs.String())

	// A keep-alive connection whose request is done: the shutdown closes
	// idle connections first thing, so its end says the shutdown has begun.
	idle := dialKnot(t, addr)
	fmt.Fprintf(idle, "GET /api/ping HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	idleReader := bufio.NewReader(idle)
	if res := readResponse(t, idleReader, "ping"); res.StatusCode != http.StatusOK {
		t.Fatalf("ping answered %d", res.StatusCode)
	}

	// The initial setup, its body not sent yet. With Expect: 100-continue
	// the server answers "100 Continue" once the handler reads the body, so
	// the request is known to be in flight before the signal comes.
	body := url.Values{
		"setup_code": {code}, "username": {knottest.AdminUsername}, "email": {knottest.AdminEmail},
		"password": {knottest.AdminPassword}, "confirm": {knottest.AdminPassword},
	}.Encode()
	conn := dialKnot(t, addr)
	fmt.Fprintf(conn, "POST /initial-system-setup HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body))
	reader := bufio.NewReader(conn)
	if res := readResponse(t, reader, "the setup's interim answer"); res.StatusCode != http.StatusContinue {
		t.Fatalf("the setup was answered %d before its body was sent; want 100 Continue", res.StatusCode)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if _, err := idleReader.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the shutdown did not close the idle connection: %v", err)
	}
	fmt.Fprint(conn, body)
	// A 303 to the templates is the admin created and signed in.
	res := readResponse(t, reader, "the in-flight setup")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/templates" {
		t.Fatalf("in-flight setup answered %d to %q\n%s", res.StatusCode, res.Header.Get("Location"), srv.logs.String())
	}

	srv.wait(t)
	if _, err := os.Stat(dbPath + "-wal"); err == nil {
		t.Fatal("the write-ahead log is still there: the database was not closed cleanly")
	}
}

// dialKnot opens a raw connection to addr, closed when the test ends. Its
// deadline only keeps a hung server from hanging the test run.
func dialKnot(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(awaitLimit))
	return conn
}

// readResponse reads one response, body and all, from r.
func readResponse(t *testing.T, r *bufio.Reader, what string) *http.Response {
	t.Helper()
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		t.Fatalf("%s: read the body: %v", what, err)
	}
	return res
}
