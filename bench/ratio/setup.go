package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/bench/internal/send"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin password 1"
	devEmail      = "dev@example.com"
	devPassword   = "dev password 1"
)

// templateBody is a few hundred bytes, like a small environment definition.
var templateBody = strings.Repeat("image: ubuntu:24.04\nvolumes: [/home/dev]\n", 8)

// newClient talks to the servers on 127.0.0.1. It does not verify their
// self-signed certificates (the leaf does verify the origin's, through
// ca_file) and does not follow redirects.
func newClient(jar http.CookieJar) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback test servers with fresh self-signed certificates
			MaxIdleConnsPerHost: 16,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func newJarClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return newClient(jar)
}

// call sends one request and checks the status; out, when set, receives
// the JSON answer. body is a url.Values (a form), a string (sent as is) or
// anything else (sent as JSON).
func call(ctx context.Context, c *http.Client, method, u string, body any, want int, out any, headers ...string) ([]byte, error) {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	res, err := send.Do(ctx, c, method, u, ctype, rd, headers...)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != want {
		return b, fmt.Errorf("%s %s = %d, want %d: %.300s", method, res.Request.URL.Path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return b, fmt.Errorf("%s %s: %w", method, res.Request.URL.Path, err)
		}
	}
	return b, nil
}

func signIn(ctx context.Context, c *http.Client, base, email, password string) error {
	_, err := call(ctx, c, http.MethodPost, base+"/login", url.Values{"email": {email}, "password": {password}}, http.StatusSeeOther, nil)
	return err
}

func createToken(ctx context.Context, c *http.Client, base, name string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if _, err := call(ctx, c, http.MethodPost, base+"/api/tokens", map[string]string{"name": name}, http.StatusCreated, &out); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", fmt.Errorf("POST /api/tokens answered no token")
	}
	return out.Token, nil
}

// fixture is what the scenarios need from the seeded server.
type fixture struct {
	adminToken string   // the bearer token of the throughput scenarios
	devCookie  string   // Cookie header of the developer's session
	devTokens  []string // the developer's tokens, in plaintext
}

// seed creates, through the real interfaces, the first admin (setup form
// with the logged code), the admin's API token, the templates (all
// active, in every zone), a Developer with a signed-in session and the
// developer's tokens.
func seed(ctx context.Context, s *server, templates, tokens int) (*fixture, error) {
	code, err := setupCode(s)
	if err != nil {
		return nil, err
	}
	base := s.url
	plain := newClient(nil)
	form := url.Values{"setup_code": {code}, "username": {"admin"}, "email": {adminEmail}, "password": {adminPassword}, "confirm": {adminPassword}}
	if _, err := call(ctx, plain, http.MethodPost, base+"/initial-system-setup", form, http.StatusSeeOther, nil); err != nil {
		return nil, fmt.Errorf("initial setup: %w", err)
	}
	admin := newJarClient()
	if err := signIn(ctx, admin, base, adminEmail, adminPassword); err != nil {
		return nil, fmt.Errorf("admin sign-in: %w", err)
	}
	fx := &fixture{}
	if fx.adminToken, err = createToken(ctx, admin, base, "bench ratio"); err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	bearer := "Authorization: Bearer " + fx.adminToken
	for i := range templates {
		tpl := map[string]any{"name": fmt.Sprintf("tpl-%02d", i), "description": fmt.Sprintf("benchmark template number %d", i),
			"zones": []string{}, "active": true, "body": templateBody}
		if _, err := call(ctx, plain, http.MethodPost, base+"/api/templates", tpl, http.StatusCreated, nil, bearer); err != nil {
			return nil, fmt.Errorf("template %d: %w", i, err)
		}
	}
	user := map[string]any{"username": "dev", "email": devEmail, "password": devPassword, "roles": []string{"Developer"}}
	if _, err := call(ctx, plain, http.MethodPost, base+"/api/users", user, http.StatusCreated, nil, bearer); err != nil {
		return nil, fmt.Errorf("create the developer: %w", err)
	}
	dev := newJarClient()
	if err := signIn(ctx, dev, base, devEmail, devPassword); err != nil {
		return nil, fmt.Errorf("developer sign-in: %w", err)
	}
	u, _ := url.Parse(base)
	var cookies []string
	for _, c := range dev.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	if len(cookies) == 0 {
		return nil, fmt.Errorf("the developer's sign-in set no cookie")
	}
	fx.devCookie = strings.Join(cookies, "; ")

	// The developer's tokens, four at a time.
	fx.devTokens = make([]string, tokens)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				t, err := createToken(ctx, dev, base, fmt.Sprintf("token %04d", i))
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("developer token %d: %w", i, err)
				}
				fx.devTokens[i] = t
				mu.Unlock()
			}
		})
	}
	for i := range tokens {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return fx, ctx.Err()
}
