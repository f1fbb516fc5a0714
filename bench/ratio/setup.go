package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/knot-dev/knot/client"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin password 1"
	devEmail      = "dev@example.com"
	devPassword   = "dev password 1"
)

// templateBody is a few hundred bytes, like a small environment definition.
var templateBody = strings.Repeat("image: ubuntu:24.04\nvolumes: [/home/dev]\n", 8)

// newClient talks to the server at base on 127.0.0.1. It does not verify
// the servers' fresh self-signed certificates (the leaf does verify the
// origin's, through ca_file); cookies, when kept, make a sign-in stick.
func newClient(base string, cookies bool) *client.Client {
	c := client.New(base, nil)
	tr := c.HTTP.Transport.(*http.Transport)
	tr.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // loopback test servers with fresh self-signed certificates
	tr.MaxIdleConnsPerHost = 16
	tr.DisableCompression = true
	if !cookies {
		c.HTTP.Jar = nil
	}
	return c
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
	plain := newClient(s.url, false)
	if err := plain.Setup(ctx, code, client.Account{Username: "admin", Email: adminEmail, Password: adminPassword}); err != nil {
		return nil, fmt.Errorf("initial setup: %w", err)
	}
	admin := newClient(s.url, true)
	if err := admin.SignIn(ctx, adminEmail, adminPassword); err != nil {
		return nil, fmt.Errorf("admin sign-in: %w", err)
	}
	fx := &fixture{}
	if fx.adminToken, err = admin.CreateToken(ctx, "bench ratio"); err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	bearer := "Authorization: Bearer " + fx.adminToken
	for i := range templates {
		tpl := map[string]any{"name": fmt.Sprintf("tpl-%02d", i), "description": fmt.Sprintf("benchmark template number %d", i),
			"zones": []string{}, "active": true, "body": templateBody}
		if _, err := plain.Expect(ctx, http.MethodPost, "/api/templates", tpl, http.StatusCreated, nil, bearer); err != nil {
			return nil, fmt.Errorf("template %d: %w", i, err)
		}
	}
	user := map[string]any{"username": "dev", "email": devEmail, "password": devPassword, "roles": []string{"Developer"}}
	if _, err := plain.Expect(ctx, http.MethodPost, "/api/users", user, http.StatusCreated, nil, bearer); err != nil {
		return nil, fmt.Errorf("create the developer: %w", err)
	}
	dev := newClient(s.url, true)
	if err := dev.SignIn(ctx, devEmail, devPassword); err != nil {
		return nil, fmt.Errorf("developer sign-in: %w", err)
	}
	u, _ := url.Parse(s.url)
	var cookies []string
	for _, c := range dev.HTTP.Jar.Cookies(u) {
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
				t, err := dev.CreateToken(ctx, fmt.Sprintf("token %04d", i))
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
