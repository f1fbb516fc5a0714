// Package client talks to a running knot server the way a person or a
// script does: the initial setup form, signing in, API tokens, and calls to
// the JSON API. `knot demo` sets up its origin with it; the load harnesses
// seed their servers with it.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// Client talks to one server. It keeps cookies, so a sign-in makes it a
// signed-in session, and it never follows a redirect: knot answers a form
// with a 303 that callers check.
type Client struct {
	// Base is the server's URL (https://127.0.0.1:3000); paths are joined
	// to it. Empty, paths are whole URLs.
	Base string
	HTTP *http.Client
}

// New returns a client of the server at base that trusts roots (nil: the
// system's certificates).
func New(base string, roots *x509.CertPool) *Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &Client{Base: base, HTTP: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Answer is a response whose body has been read (and closed).
type Answer struct {
	*http.Response
	Body []byte
}

// maxBody bounds what Send reads of an answer.
const maxBody = 16 << 20

// Send sends one request and returns the answer, whatever its status. body
// is nil, url.Values (sent as a form), a string, []byte or io.Reader (sent
// as it is: give its Content-Type in headers) or anything else (sent as
// JSON); headers are "Name: value" lines, set after the body's type.
func (c *Client) Send(ctx context.Context, method, path string, body any, headers ...string) (*Answer, error) {
	rd, ctype, err := encode(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("%s %s: the answer is larger than %d MiB", method, path, maxBody>>20)
	}
	return &Answer{Response: res, Body: b}, nil
}

func encode(body any) (io.Reader, string, error) {
	switch b := body.(type) {
	case nil:
		return nil, "", nil
	case url.Values:
		return strings.NewReader(b.Encode()), "application/x-www-form-urlencoded", nil
	case string:
		return strings.NewReader(b), "", nil
	case []byte:
		return bytes.NewReader(b), "", nil
	case io.Reader:
		return b, "", nil
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, "", err
		}
		return bytes.NewReader(j), "application/json", nil
	}
}

// Expect is Send that fails unless the status is want, and decodes the
// JSON answer into out unless out is nil.
func (c *Client) Expect(ctx context.Context, method, path string, body any, want int, out any, headers ...string) (*Answer, error) {
	a, err := c.Send(ctx, method, path, body, headers...)
	if err != nil {
		return nil, err
	}
	if a.StatusCode != want {
		return a, fmt.Errorf("%s %s answered %d, want %d%s", method, path, a.StatusCode, want, excerpt(a))
	}
	if out != nil {
		if err := json.Unmarshal(a.Body, out); err != nil {
			return a, fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
		}
	}
	return a, nil
}

// excerpt is the start of a refusal's text, for an error message. A
// successful answer is never quoted (it may carry a new token), nor an
// HTML page (its start is boilerplate).
func excerpt(a *Answer) string {
	if a.StatusCode < 400 || strings.HasPrefix(a.Header.Get("Content-Type"), "text/html") {
		return ""
	}
	return fmt.Sprintf(": %.300s", a.Body)
}

// setupPath is the initial setup page.
const setupPath = "/initial-system-setup"

// Account is a person's sign-in.
type Account struct {
	Username, Email, Password string
}

// Setup completes the server's initial setup, making a the first admin;
// code is the setup code the server logs.
func (c *Client) Setup(ctx context.Context, code string, a Account) error {
	form := url.Values{"setup_code": {code}, "username": {a.Username}, "email": {a.Email},
		"password": {a.Password}, "confirm": {a.Password}}
	_, err := c.Expect(ctx, http.MethodPost, setupPath, form, http.StatusSeeOther, nil)
	return err
}

// SignIn signs in with email and password.
func (c *Client) SignIn(ctx context.Context, email, password string) error {
	form := url.Values{"email": {email}, "password": {password}}
	a, err := c.Expect(ctx, http.MethodPost, "/login", form, http.StatusSeeOther, nil)
	if err != nil {
		return err
	}
	// Before its initial setup a server sends every page there.
	if strings.HasPrefix(a.Header.Get("Location"), setupPath) {
		return errors.New("POST /login: the server has no admin yet; complete its initial setup first")
	}
	return nil
}

// CreateToken creates an API token named name for whoever the client is
// signed in as and returns it.
func (c *Client) CreateToken(ctx context.Context, name string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if _, err := c.Expect(ctx, http.MethodPost, "/api/tokens", map[string]string{"name": name}, http.StatusCreated, &out); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", errors.New("POST /api/tokens answered without a token")
	}
	return out.Token, nil
}

// CloseIdleConnections closes the client's idle connections.
func (c *Client) CloseIdleConnections() { c.HTTP.CloseIdleConnections() }
