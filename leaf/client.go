package leaf

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
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/knot-dev/knot/config"
)

// maxAnswerBytes bounds what the leaf reads from the origin, so a broken or
// hostile origin cannot exhaust the leaf's memory.
const maxAnswerBytes = 16 << 20

// requestTimeout bounds every request to the origin: a slow origin counts
// as unreachable rather than hanging sign-ins. It is real time, not the
// service's clock: the deadline is the socket's, and a test's fake clock
// would never end a hung request.
const requestTimeout = 10 * time.Second

// OriginError is a failed exchange with the origin, classified.
type OriginError struct {
	State State
	// Detail is a short, secret-free description for the status message.
	Detail string
	// Status is the HTTP status, 0 when no answer arrived.
	Status int
	// Code is the origin's error code, if it sent one.
	Code string
	// RetryAfter is the origin's Retry-After, if it sent one.
	RetryAfter time.Duration
	// Message is the origin's human error text, if it sent one.
	Message string
	// Local marks a failure on the leaf's side (its own database).
	Local bool
}

func (e *OriginError) Error() string { return string(e.State) + ": " + e.Detail }

// Client talks to the origin. It is the only code that does.
//
// The origin may be several servers of one cluster: the client talks to
// one at a time and moves to the next when told to (Failover).
type Client struct {
	bases   []string
	cur     atomic.Int32
	token   string
	selfURL string
	version string
	http    *http.Client
	// stream carries the live feed: the same transport, but no overall
	// timeout, since the response is meant to stay open.
	stream *http.Client
	// skipVerify is server.origin.skip_verify.
	skipVerify bool
}

// NewClient builds the origin client from the leaf's configuration: it
// trusts the system roots plus server.origin.ca_file, or nothing at all with
// server.origin.skip_verify.
func NewClient(cfg *config.Config, version string) (*Client, error) {
	o := cfg.Server.Origin
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pemBytes, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read server.origin.ca_file %s: %w", o.CAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("server.origin.ca_file %s holds no PEM certificate", o.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	tlsCfg.InsecureSkipVerify = o.SkipVerify //nolint:gosec // the user asked for it; start-up warns loudly
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.Proxy = nil
	tr.ResponseHeaderTimeout = requestTimeout
	bases := o.Server.URLs()
	if len(bases) == 0 {
		return nil, fmt.Errorf("server.origin.server is empty")
	}
	// Never follow a redirect: a 307 would resend a sign-in's password,
	// and any redirect could carry the token elsewhere.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{
		skipVerify: o.SkipVerify,
		bases:      bases,
		token:      o.Token,
		selfURL:    cfg.Server.URL,
		version:    version,
		http:       &http.Client{Transport: tr, Timeout: requestTimeout, CheckRedirect: noRedirect},
		stream:     &http.Client{Transport: tr, CheckRedirect: noRedirect},
	}, nil
}

// Origin is the base URL of the origin server the client talks to now.
func (c *Client) Origin() string { return c.bases[int(c.cur.Load())%len(c.bases)] }

// Origins is every configured origin server, in order.
func (c *Client) Origins() []string { return slices.Clone(c.bases) }

// Failover moves to the next configured origin server (with one, it stays).
func (c *Client) Failover() {
	if len(c.bases) > 1 {
		c.cur.Add(1)
	}
}

// verified reports whether the link to the current origin is HTTPS with
// its certificate checked: only then are protected values asked for.
func (c *Client) verified() bool {
	return strings.HasPrefix(c.Origin(), "https://") && !c.skipVerify
}

// Hello announces the leaf and returns what the origin says about itself
// and the token's owner. It doubles as the heartbeat.
func (c *Client) Hello(ctx context.Context) (*Hello, error) {
	var h Hello
	if _, err := c.do(ctx, http.MethodGet, PathHello, nil, "", &h); err != nil {
		return nil, err
	}
	if h.Protocol != ProtocolVersion {
		return nil, &OriginError{State: StateVersionMismatch, Detail: fmt.Sprintf("origin %d, leaf %d", h.Protocol, ProtocolVersion)}
	}
	if h.User.ID == 0 || h.User.Email == "" {
		return nil, &OriginError{State: StateUnreachable, Detail: "the origin's hello did not name the token's owner"}
	}
	return &h, nil
}

// Authenticate asks the origin to check an email and password. A refusal
// is an *OriginError with Code CodeLoginRefused.
func (c *Client) Authenticate(ctx context.Context, email, password string) (*AuthResponse, error) {
	var ans AuthResponse
	if _, err := c.do(ctx, http.MethodPost, PathAuth, AuthRequest{Email: email, Password: password}, "", &ans); err != nil {
		return nil, err
	}
	if ans.User.ID == 0 || ans.User.Email == "" || ans.User.Username == "" {
		return nil, &OriginError{State: StateUnreachable, Detail: "the origin's sign-in answer did not describe a user"}
	}
	return &ans, nil
}

// Templates fetches the templates the origin offers leaves, revalidating
// with etag. notModified means the cached copy is still current.
func (c *Client) Templates(ctx context.Context, etag string) (list []Template, newETag string, notModified bool, err error) {
	return fetchList[Template](ctx, c, PathTemplates, etag, "template", false)
}

// Variables fetches the template variables the origin offers leaves,
// revalidating with etag, exactly like Templates. Their names must be
// unique too: templates refer to variables by name.
func (c *Client) Variables(ctx context.Context, etag string) (list []Variable, newETag string, notModified bool, err error) {
	path := PathTemplateVars
	if !c.verified() {
		path += "?protected=false"
	}
	return fetchList[Variable](ctx, c, path, etag, "variable", true)
}

// listed is an entry of a list the origin offers leaves.
type listed interface{ identity() (id uint, name string) }

func (t Template) identity() (uint, string) { return t.ID, t.Name }
func (v Variable) identity() (uint, string) { return v.ID, v.Name }

// fetchList GETs the list at path, revalidating with etag, and refuses a
// list a knot origin would not send: an entry without an id or a name, an
// id twice, or with uniqueNames a name twice.
func fetchList[T listed](ctx context.Context, c *Client, path, etag, what string, uniqueNames bool) (list []T, newETag string, notModified bool, err error) {
	res, err := c.do(ctx, http.MethodGet, path, nil, etag, &list)
	if err != nil {
		return nil, "", false, err
	}
	if res.StatusCode == http.StatusNotModified {
		return nil, etag, true, nil
	}
	seenID, seenName := map[uint]bool{}, map[string]bool{}
	for _, item := range list {
		id, name := item.identity()
		if id == 0 || name == "" {
			return nil, "", false, &OriginError{State: StateUnreachable, Detail: fmt.Sprintf("the origin sent a %s without an id or a name", what)}
		}
		if seenID[id] || uniqueNames && seenName[name] {
			return nil, "", false, &OriginError{State: StateUnreachable, Detail: fmt.Sprintf("the origin sent %s %q (id %d) twice", what, name, id)}
		}
		seenID[id], seenName[name] = true, true
	}
	return list, res.Header.Get("ETag"), false, nil
}

// newRequest builds a request to the current origin with the headers every
// leaf request carries.
func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Origin()+path, body)
	if err != nil {
		return nil, &OriginError{State: StateUnreachable, Detail: "cannot build a request to the origin: " + err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set(HeaderLeafURL, c.selfURL)
	req.Header.Set(HeaderLeafVersion, c.version)
	req.Header.Set(HeaderProtocol, strconv.Itoa(ProtocolVersion))
	return req, nil
}

// do sends one request and decodes a 2xx answer into out. Every failure
// comes back as an *OriginError.
func (c *Client) do(ctx context.Context, method, path string, body any, etag string, out any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, classifyTransport(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, &OriginError{State: StateUnreachable, Detail: "the connection broke while reading the origin's answer"}
	}
	if len(data) > maxAnswerBytes {
		return nil, &OriginError{State: StateUnreachable, Detail: "the origin's answer is larger than 16 MiB"}
	}
	if res.StatusCode == http.StatusNotModified {
		return res, nil
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, classifyStatus(res, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, &OriginError{State: StateUnreachable, Status: res.StatusCode, Detail: "the origin's answer is not the JSON a knot origin sends (is server.origin.server the right URL?)"}
	}
	return res, nil
}

func classifyStatus(res *http.Response, data []byte) error {
	var eb ErrorBody
	json.Unmarshal(data, &eb) //nolint:errcheck // a body that is not JSON leaves eb empty
	oe := &OriginError{Status: res.StatusCode, Code: eb.Code, Message: eb.Error}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil {
		oe.RetryAfter = time.Duration(s) * time.Second
	}
	switch {
	case res.StatusCode == http.StatusUnauthorized:
		oe.State, oe.Detail = StateTokenRejected, "the origin answered 401"
	case eb.Code == CodeLeafNodesDisabled:
		oe.State, oe.Detail = StateLeafNodesDisabled, eb.Error
	case eb.Code == CodeVersionMismatch:
		oe.State, oe.Detail = StateVersionMismatch, eb.Error
	case eb.Code == CodeLoginRefused, res.StatusCode == http.StatusTooManyRequests:
		// The origin is fine; it said no to this sign-in.
		oe.State, oe.Detail = StateConnected, eb.Error
	case res.StatusCode >= 300 && res.StatusCode < 400:
		oe.State, oe.Detail = StateUnreachable, fmt.Sprintf("the origin redirects (%d) to %q; set server.origin.server to the address it redirects to", res.StatusCode, res.Header.Get("Location"))
	case res.StatusCode == http.StatusNotFound:
		oe.State, oe.Detail = StateUnreachable, "the origin has no leaf endpoint at this address (answered 404); check server.origin.server"
	default:
		oe.State, oe.Detail = StateUnreachable, fmt.Sprintf("the origin answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	}
	return oe
}

func classifyTransport(err error) error {
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalid), errors.As(err, &verify):
		detail := "certificate verification failed"
		switch {
		case errors.As(err, &hostErr):
			detail = hostErr.Error()
		case errors.As(err, &unknownAuth):
			detail = "signed by an unknown authority"
		case errors.As(err, &invalid):
			detail = invalid.Error()
		}
		return &OriginError{State: StateUntrustedCertificate, Detail: detail}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return &OriginError{State: StateUnreachable, Detail: "no answer within " + requestTimeout.String()}
	}
	var tlsRecord tls.RecordHeaderError
	if errors.As(err, &tlsRecord) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return &OriginError{State: StateUnreachable, Detail: "the origin answers plain HTTP at this address, not HTTPS (check the scheme and port in server.origin.server)"}
	}
	return &OriginError{State: StateUnreachable, Detail: "cannot connect: " + rootCause(err)}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// rootCause drops the url.Error wrapping that would repeat the URL.
func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
