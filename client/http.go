package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
)

// HTTP is the http client: one HTTP request per op, built by the op's
// request block against the node's base_url.
//
// Outcomes:
//   - any response (any status) → the operation's result expression, or
//     eval's default (2xx ok, else info);
//   - no connection was ever obtained for the request (refused, DNS
//     failure, unreachable host, TLS handshake failure, the timeout expiring
//     while connecting) → fail: not a byte of the request reached the
//     server;
//   - anything after a connection was obtained (timeout, reset, EOF, a
//     body over MaxOutput) → info: the server may have acted on it.
type HTTP struct {
	cfg  *Config
	node eval.Node
	nc   eval.ClientConfig
	base string
	hc   *http.Client
	tr   *http.Transport
}

// Open binds the client to node and makes its connection pool. Nothing is
// dialed yet: connections are made by the first request, so an
// unreachable node makes ops fail rather than the client fail to open.
func (c *HTTP) Open(_ context.Context, node string) error {
	n, nc, err := c.cfg.node(node)
	if err != nil {
		return fmt.Errorf("http client on %s: %w", node, err)
	}
	u, err := url.Parse(nc.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("http client on %s: base_url %q is not an http:// or https:// URL", node, nc.BaseURL)
	}
	c.node, c.nc, c.base = n, nc, strings.TrimRight(nc.BaseURL, "/")
	c.tr = &http.Transport{
		// No proxy from the environment: a proxy would answer 502 for a
		// node that refused the connection, turning a certain fail into an
		// unknown outcome, and would sit in the middle of every partition.
		Proxy: nil,
		DialContext: (&net.Dialer{
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2: true,
		// One worker issues one request at a time, so a couple of idle
		// connections suffice; keeping them alive is what makes a client
		// "connected" to its node as Jepsen's clients are.
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	c.hc = &http.Client{Transport: c.tr}
	return nil
}

// Setup does nothing: a plan's setup is the db block's business.
func (c *HTTP) Setup(context.Context) error { return nil }

// Teardown does nothing.
func (c *HTTP) Teardown(context.Context) error { return nil }

// Close drops the client's idle connections.
func (c *HTTP) Close(context.Context) error {
	if c.tr != nil {
		c.tr.CloseIdleConnections()
	}
	c.hc, c.tr = nil, nil
	return nil
}

// Invoke performs op with one request.
func (c *HTTP) Invoke(ctx context.Context, op history.Op) (history.Op, error) {
	if c.hc == nil {
		return op, opError(c.node.Name, op, errNotOpen)
	}
	spec, err := c.cfg.spec(op)
	if err != nil {
		return op, opError(c.node.Name, op, err)
	}
	hr, err := spec.HTTPRequest(c.node, op)
	if err != nil {
		return op, opError(c.node.Name, op, err)
	}
	limit := timeout(spec, c.nc)
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	// connected records whether the transport ever handed the request a
	// connection: before that, nothing of it can have reached the server.
	// It is the precise test for "not sent", where classifying the error
	// alone is not: Go retries some requests on a fresh connection after
	// one was lost, and the error then describes only the retry.
	var connected atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }}
	rctx = httptrace.WithClientTrace(rctx, trace)

	req, err := c.request(rctx, hr)
	if err != nil {
		// The request could not even be built: it certainly was not sent.
		return fail(op, "invalid request: %v", err), nil
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			// The runner gave up on this op; its record is already info.
			return op, opError(c.node.Name, op, ctx.Err())
		}
		if !connected.Load() {
			return fail(op, "request not sent: %s", describeDialError(err)), nil
		}
		if rctx.Err() == context.DeadlineExceeded {
			return info(op, "timed out after %v waiting for the response (the request may have taken effect)", limit), nil
		}
		return info(op, "request sent, no response (it may have taken effect): %v", err), nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxOutput+1))
	resp.Body.Close()
	if err != nil {
		if rctx.Err() == context.DeadlineExceeded {
			return info(op, "timed out after %v reading the response body (status %d)", limit, resp.StatusCode), nil
		}
		return info(op, "reading the response body (status %d): %v", resp.StatusCode, err), nil
	}
	if len(body) > MaxOutput {
		return info(op, "response body larger than %d MiB (status %d); not evaluated", MaxOutput>>20, resp.StatusCode), nil
	}
	out, err := spec.Complete(c.node, op, eval.HTTPResponse(resp.StatusCode, body, resp.Header))
	if err != nil {
		return op, opError(c.node.Name, op, err)
	}
	return out, nil
}

// request builds the http.Request: base_url + path, query parameters added
// to any the URL already has, the client's headers overridden by the op's.
func (c *HTTP) request(ctx context.Context, hr eval.HTTPRequest) (*http.Request, error) {
	raw := c.base
	if hr.Path != "" {
		raw += "/" + strings.TrimLeft(hr.Path, "/")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("URL %q: %w", raw, err)
	}
	if len(hr.Query) > 0 {
		q := u.Query()
		for k, v := range hr.Query {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	method := strings.ToUpper(hr.Method)
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if hr.Body != "" {
		body = strings.NewReader(hr.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	set := func(h map[string]string) {
		for k, v := range h {
			if strings.EqualFold(k, "Host") {
				req.Host = v
				continue
			}
			req.Header.Set(k, v)
		}
	}
	set(c.nc.Headers)
	set(hr.Headers)
	return req, nil
}

// describeDialError names why no connection was made, for the fail's
// error: "connection refused", "DNS lookup failed"... followed by Go's own
// message.
func describeDialError(err error) string {
	var dns *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var alert tls.AlertError
	var rec tls.RecordHeaderError
	why := ""
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "connection refused"
	case errors.As(err, &dns):
		why = "DNS lookup failed"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		why = "host unreachable"
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &alert), errors.As(err, &rec):
		why = "TLS handshake failed"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		why = "timed out connecting"
	}
	if why == "" {
		return err.Error()
	}
	return why + ": " + err.Error()
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
