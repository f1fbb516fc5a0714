package leaf

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/config"
)

// fakeOrigin serves handler over TLS and returns a client configured to
// trust it through ca_file.
func fakeOrigin(t *testing.T, handler http.HandlerFunc) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewTLSServer(handler)
	t.Cleanup(srv.Close)
	cfg := leafOf(t, srv)
	c, err := NewClient(&cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// leafOf is the configuration of a leaf whose origin is srv, trusted
// through ca_file.
func leafOf(t *testing.T, srv *httptest.Server) config.Config {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "origin.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Server.Origin.Server = config.URLList(srv.URL)
	cfg.Server.Origin.Token = "s3cr3t-tok"
	cfg.Server.Origin.CAFile = caFile
	return cfg
}

// leafTo is the configuration of a leaf whose origin is at url, trusted
// only as the system trusts it.
func leafTo(url string) config.Config {
	cfg := config.Default()
	cfg.Server.Origin.Server = config.URLList(url)
	cfg.Server.Origin.Token = "tok"
	return cfg
}

// hello says hello to the origin of cfg with a new client.
func hello(cfg config.Config) error {
	c, _ := NewClient(&cfg, "test")
	_, err := c.Hello(context.Background())
	return err
}

func stateOf(t *testing.T, err error) State {
	t.Helper()
	oe, ok := err.(*OriginError)
	if !ok {
		t.Fatalf("error %v (%T) is not an *OriginError", err, err)
	}
	return oe.State
}

func TestClientSendsTokenAndLeafHeaders(t *testing.T) {
	var got http.Header
	c, _ := fakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Write([]byte(`{"name":"o","version":"1","protocol":1,"user":{"id":3,"username":"u","email":"u@x"}}`))
	})
	h, err := c.Hello(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.User.ID != 3 || got.Get("Authorization") != "Bearer s3cr3t-tok" || got.Get(HeaderProtocol) != "1" || got.Get(HeaderLeafVersion) != "test" {
		t.Fatalf("hello %+v headers %v", h, got)
	}
}

func TestClientClassifiesWhatGoesWrong(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    State
		detail  string
	}{
		{"token rejected", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			w.Write([]byte(`{"error":"Authentication token is not valid"}`))
		}, StateTokenRejected, "401"},
		{"leaf nodes disabled", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(403)
			w.Write([]byte(`{"error":"leaf nodes are disabled on this server","code":"leaf_nodes_disabled"}`))
		}, StateLeafNodesDisabled, "disabled"},
		{"protocol refused by origin", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(409)
			w.Write([]byte(`{"error":"this origin speaks leaf protocol 2","code":"version_mismatch"}`))
		}, StateVersionMismatch, "protocol 2"},
		{"other protocol in hello", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"name":"o","version":"9","protocol":2,"user":{"id":1,"username":"u","email":"u@x"}}`))
		}, StateVersionMismatch, "origin 2, leaf 1"},
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
		}, StateUnreachable, "502"},
		{"not a knot origin", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			w.Write([]byte(`<html>nginx</html>`))
		}, StateUnreachable, "check server.origin.server"},
		{"lying: HTML with 200", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`<html>welcome</html>`))
		}, StateUnreachable, "not the JSON"},
		{"lying: no owner", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"name":"o","version":"1","protocol":1,"user":{}}`))
		}, StateUnreachable, "owner"},
		{"lying: wrong types", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"name":7,"protocol":"one"}`))
		}, StateUnreachable, "not the JSON"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/api/leaf/v1/hello", http.StatusTemporaryRedirect)
		}, StateUnreachable, "redirects (307)"},
		{"lying: endless body", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"name":"`))
			chunk := []byte(strings.Repeat("a", 1<<20))
			for range 17 {
				w.Write(chunk)
			}
		}, StateUnreachable, "16 MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeOrigin(t, tc.handler)
			_, err := c.Hello(context.Background())
			if got := stateOf(t, err); got != tc.want {
				t.Fatalf("state %s, want %s (%v)", got, tc.want, err)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("error %q lacks %q", err, tc.detail)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error mentions the token: %v", err)
			}
		})
	}
}

func TestClientSlowOriginTimesOut(t *testing.T) {
	release := make(chan struct{})
	// The handler waits for the test, not for its request's context: a
	// context cancelled early under load made it answer an empty 200,
	// which is another test's case (not JSON), not this one's.
	c, _ := fakeOrigin(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	c.http.Timeout = 200 * time.Millisecond
	_, err := c.Hello(context.Background())
	if stateOf(t, err) != StateUnreachable || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("slow origin: %v", err)
	}
}

func TestClientOriginDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	err := hello(leafTo("https://" + addr))
	if stateOf(t, err) != StateUnreachable || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("origin down: %v", err)
	}
}

func TestClientUntrustedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	cfg := leafTo(srv.URL)
	err := hello(cfg)
	if stateOf(t, err) != StateUntrustedCertificate {
		t.Fatalf("untrusted: %v", err)
	}
	_, msg := describe(err, srv.URL)
	if !strings.Contains(msg, "server.origin.ca_file") {
		t.Fatalf("message %q does not name server.origin.ca_file", msg)
	}

	// skip_verify turns checking off.
	cfg.Server.Origin.SkipVerify = true
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"name":"o","version":"1","protocol":1,"user":{"id":1,"username":"u","email":"u@x"}}`))
	})
	if err := hello(cfg); err != nil {
		t.Fatalf("skip_verify: %v", err)
	}
}

func TestClientPlainHTTPOriginOnTLSURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	err := hello(leafTo(strings.Replace(srv.URL, "http://", "https://", 1)))
	if stateOf(t, err) != StateUnreachable || !strings.Contains(err.Error(), "answers plain HTTP") {
		t.Fatalf("plain HTTP origin: %v", err)
	}
}

func TestClientTemplatesRevalidate(t *testing.T) {
	c, _ := fakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write([]byte(`[{"id":1,"name":"go","zones":["<leaf-node>"],"active":true,"body":"x"}]`))
	})
	list, etag, nm, err := c.Templates(context.Background(), "")
	if err != nil || nm || etag != `"v1"` || len(list) != 1 || list[0].Name != "go" {
		t.Fatalf("first fetch: %v %q %v %v", list, etag, nm, err)
	}
	list, etag, nm, err = c.Templates(context.Background(), `"v1"`)
	if err != nil || !nm || list != nil || etag != `"v1"` {
		t.Fatalf("revalidation: %v %q %v %v", list, etag, nm, err)
	}
}

func TestClientRejectsNamelessTemplates(t *testing.T) {
	c, _ := fakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`[{"id":0,"name":""}]`))
	})
	if _, _, _, err := c.Templates(context.Background(), ""); stateOf(t, err) != StateUnreachable {
		t.Fatalf("nameless template accepted: %v", err)
	}
}

func TestClientRejectsDuplicateTemplateIDs(t *testing.T) {
	c, _ := fakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`[{"id":1,"name":"a"},{"id":1,"name":"b"}]`))
	})
	_, _, _, err := c.Templates(context.Background(), "")
	if stateOf(t, err) != StateUnreachable || !strings.Contains(err.Error(), "(id 1) twice") {
		t.Fatalf("duplicate ids accepted: %v", err)
	}
}

func TestClientNeverResendsASignInOnRedirect(t *testing.T) {
	hits := 0
	c, srv := fakeOrigin(t, nil)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	if _, err := c.Authenticate(context.Background(), "a@b.c", "secret-password"); err == nil {
		t.Fatal("a redirected sign-in succeeded")
	}
	if hits != 1 {
		t.Fatalf("the origin saw the sign-in %d times, want 1", hits)
	}
}
