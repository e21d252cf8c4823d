package fetch

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bgentry/go-netrc/netrc"
)

// TokenEnvPrefix starts the name of the environment variable holding a
// bearer token for one host: PLUGCTL_TOKEN_ followed by the host (and
// port, when the URL names a non-default one) upper-cased, with every
// character other than A-Z and 0-9 replaced by '_'.
const TokenEnvPrefix = "PLUGCTL_TOKEN_"

// maxRedirects is how many redirects one request may follow.
const maxRedirects = 10

// TokenEnv returns the name of the environment variable that holds the
// bearer token for hostport ("plugins.example.com", "127.0.0.1:8080").
func TokenEnv(hostport string) string {
	var b strings.Builder
	b.WriteString(TokenEnvPrefix)
	for _, r := range strings.ToUpper(hostport) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// defaultHTTPClient is net/http's default transport (proxy from
// HTTPS_PROXY/NO_PROXY, roots from SSL_CERT_FILE) with a bound on waiting
// for response headers and no transparent gzip, which would change the
// bytes that are hashed.
func defaultHTTPClient(idle time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.ResponseHeaderTimeout = idle
	tr.DisableCompression = true
	return &http.Client{Transport: tr}
}

// wrapClient returns a copy of c whose transport adds credentials and
// turns error statuses into *HTTPError, and whose redirect policy refuses
// https→http and more than maxRedirects hops before c's own policy runs.
func wrapClient(c *http.Client, creds *credentials) *http.Client {
	out := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Transport = &transport{base: base, creds: creds}
	out.CheckRedirect = redirectPolicy(c.CheckRedirect)
	return &out
}

// redirectPolicy refuses https→http and more than maxRedirects hops, then
// asks next.
func redirectPolicy(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if req.URL.Scheme != "https" {
			for _, v := range via {
				if v.URL.Scheme == "https" {
					return fmt.Errorf("refused redirect from https to %s", redactURL(req.URL))
				}
			}
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

type transport struct {
	base  http.RoundTripper
	creds *credentials
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") == "" {
		h, err := t.creds.header(req.URL)
		if err != nil {
			return nil, err
		}
		if h != "" {
			req = req.Clone(req.Context())
			req.Header.Set("Authorization", h)
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	// go-getter would report these as "bad response code: N"; a typed error
	// lets the CLI tell a missing file from a broken server. 206 is refused
	// because plugctl never asks for a range.
	if resp.StatusCode >= 400 || resp.StatusCode == http.StatusPartialContent {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil, &HTTPError{URL: redactURL(req.URL), Status: resp.StatusCode}
	}
	return resp, nil
}

// credentials finds what to send to a host: a bearer token from the
// environment, else a ~/.netrc login. Both go only over https or to a
// loopback address, so a plain-http mirror never sees them.
type credentials struct {
	getenv func(string) string

	once  sync.Once
	netrc *netrc.Netrc
	err   error
}

func (c *credentials) header(u *url.URL) (string, error) {
	if !credentialsAllowed(u) {
		return "", nil
	}
	if tok := strings.TrimSpace(c.getenv(TokenEnv(hostKey(u)))); tok != "" {
		return "Bearer " + tok, nil
	}
	m, err := c.machine(u)
	if err != nil || m == nil || m.Login == "" {
		return "", err
	}
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(m.Login, m.Password)
	return r.Header.Get("Authorization"), nil
}

// hostKey is the URL's host with a default port dropped, so that
// https://h:443/ and https://h/ share a token.
func hostKey(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		return host
	}
	return net.JoinHostPort(host, port)
}

func credentialsAllowed(u *url.URL) bool {
	if u.Scheme == "https" {
		return true
	}
	if u.Scheme != "http" {
		return false
	}
	return isLoopbackHost(u.Hostname())
}

// machine returns the netrc entry for u's host (or the default entry).
// $NETRC names the file, as curl and go-getter read it.
func (c *credentials) machine(u *url.URL) (*netrc.Machine, error) {
	c.once.Do(func() {
		p := c.getenv("NETRC")
		if p == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return
			}
			p = filepath.Join(home, ".netrc")
		}
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			return
		}
		c.netrc, c.err = netrc.ParseFile(p)
		if c.err != nil {
			c.err = fmt.Errorf("read %s: %w", p, c.err)
		}
	})
	if c.netrc == nil {
		return nil, c.err
	}
	if m := c.netrc.FindMachine(u.Host); m != nil && !m.IsDefault() {
		return m, nil
	}
	return c.netrc.FindMachine(u.Hostname()), nil
}

// body wraps a download stream (go-getter hands its progress tracker the
// raw response body): it hashes and counts the bytes as they pass on their
// way to the file, fails past the size limit, and re-arms the idle timer.
type body struct {
	rc       io.ReadCloser
	h        hash.Hash
	n        int64
	max      int64 // < 0: no limit
	progress io.Writer
	onData   func() // re-arms the idle timer
	err      error  // sticky
}

var errNotObserved = errors.New("download not observed") // go-getter never called the tracker

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	if n > 0 {
		if b.onData != nil {
			b.onData()
		}
		if b.max >= 0 && b.n+int64(n) > b.max {
			b.err = fmt.Errorf("%w (%d bytes)", ErrTooLarge, b.max)
			return 0, b.err
		}
		b.h.Write(p[:n])
		if b.progress != nil {
			b.progress.Write(p[:n])
		}
		b.n += int64(n)
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// tracker is the go-getter ProgressTracker that installs body.
type tracker struct {
	b        *body
	called   bool
	progress func(name string, total int64) io.Writer
}

func (t *tracker) TrackProgress(src string, current, total int64, stream io.ReadCloser) io.ReadCloser {
	t.called = true
	t.b.rc = stream
	if current != 0 {
		// plugctl always downloads to a fresh path, so go-getter never resumes.
		t.b.err = errors.New("unexpected resumed download")
	}
	if total < 0 || current < 0 {
		total = -1
	}
	if t.b.max >= 0 && total > t.b.max {
		t.b.err = fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, total, t.b.max)
	}
	if t.progress != nil {
		t.b.progress = t.progress(src, total)
	}
	return t.b
}
