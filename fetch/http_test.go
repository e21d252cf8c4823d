package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// dstIn returns a destination path in a fresh directory.
func dstIn(t *testing.T) (dir, dst string) {
	t.Helper()
	dir = t.TempDir()
	return dir, filepath.Join(dir, "out")
}

// assertEntries fails unless dir holds exactly names: a failed fetch must
// leave no temporary file behind.
func assertEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Fatalf("%s holds %q, want %q", dir, got, names)
	}
}

func mustFail(t *testing.T, f *Fetcher, addr string) error {
	t.Helper()
	dir, dst := dstIn(t)
	_, err := f.File(context.Background(), addr, dst)
	if err == nil {
		t.Fatalf("File(%s) succeeded, want an error", addr)
	}
	assertEntries(t, dir)
	t.Logf("%s: %v", addr, err)
	if !strings.HasPrefix(err.Error(), "fetch ") {
		t.Errorf("error %q does not start with the fetch context", err)
	}
	return err
}

// counter is a Progress writer that counts the bytes it sees.
type counter struct {
	mu    sync.Mutex
	n     int64
	total int64
	calls int
}

func (c *counter) progress(name string, total int64) io.Writer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.total = total
	return c
}

func (c *counter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n += int64(len(p))
	c.mu.Unlock()
	return len(p), nil
}

func TestHTTPFile(t *testing.T) {
	payload := []byte(strings.Repeat("plugin bytes ", 50000))
	html := []byte("<html><body>sign in</body></html>")
	mux := http.NewServeMux()
	mux.HandleFunc("/len.bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		w.Write(payload)
	})
	mux.HandleFunc("/chunked.bin", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(payload); i += 10000 {
			w.Write(payload[i:min(i+10000, len(payload))])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/login.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write(html)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, tc := range []struct {
		path  string
		want  []byte
		total int64
	}{
		{"/len.bin", payload, int64(len(payload))},
		{"/chunked.bin", payload, -1},
		// A 200 HTML page is fetched; its hash is what tells install it is wrong.
		{"/login.tar.gz", html, int64(len(html))},
	} {
		t.Run(tc.path, func(t *testing.T) {
			c := &counter{}
			f := New(Options{Progress: c.progress})
			dir, dst := dstIn(t)
			res, err := f.File(context.Background(), srv.URL+tc.path, dst)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dst)
			if string(got) != string(tc.want) {
				t.Fatalf("content differs: %d bytes, want %d", len(got), len(tc.want))
			}
			if res.SHA256 != sum(tc.want) || res.Size != int64(len(tc.want)) {
				t.Fatalf("result %+v, want sha %s size %d", res, sum(tc.want), len(tc.want))
			}
			// Every byte went through the hashing stream exactly once.
			if c.calls != 1 || c.n != int64(len(tc.want)) || c.total != tc.total {
				t.Fatalf("progress saw %d calls, %d bytes, total %d; want 1, %d, %d", c.calls, c.n, c.total, len(tc.want), tc.total)
			}
			fi, _ := os.Stat(dst)
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", fi.Mode())
			}
			assertEntries(t, dir, "out")
		})
	}
}

func TestHTTPDestinationExists(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) }))
	defer srv.Close()
	dir, dst := dstIn(t)
	os.WriteFile(dst, []byte("old"), 0o644)
	if _, err := New(Options{}).File(context.Background(), srv.URL+"/x", dst); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v, want destination exists", err)
	}
	assertEntries(t, dir, "out")
}

func TestHTTPStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/moved":
			http.Redirect(w, r, "/missing", http.StatusFound)
		default:
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	f := New(Options{})

	err := mustFail(t, f, srv.URL+"/missing")
	var he *HTTPError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &he) || he.Status != 404 {
		t.Fatalf("404: err = %v, want *HTTPError 404 matching ErrNotFound", err)
	}
	if want := "fetch " + srv.URL + "/missing: http status 404 not found"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}

	err = mustFail(t, f, srv.URL+"/moved")
	if !errors.As(err, &he) || he.URL != srv.URL+"/missing" || !strings.Contains(err.Error(), "from "+srv.URL+"/missing") {
		t.Fatalf("redirected 404: err = %v", err)
	}

	err = mustFail(t, f, srv.URL+"/broken")
	if errors.Is(err, ErrNotFound) || !errors.As(err, &he) || he.Status != 500 {
		t.Fatalf("500: err = %v, want *HTTPError 500 not matching ErrNotFound", err)
	}
}

func TestHTTPRedirects(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("downgraded"))
	}))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			http.Redirect(w, r, plain.URL+"/file", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/hop":
			http.Redirect(w, r, "/file", http.StatusMovedPermanently)
		default:
			w.Write([]byte("secure"))
		}
	}))
	defer tlsSrv.Close()
	f := New(Options{HTTPClient: tlsSrv.Client()})

	err := mustFail(t, f, tlsSrv.URL+"/down")
	if !strings.Contains(err.Error(), "refused redirect from https to "+plain.URL+"/file") {
		t.Errorf("downgrade: %v", err)
	}
	err = mustFail(t, f, tlsSrv.URL+"/loop")
	if !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("loop: %v", err)
	}
	_, dst := dstIn(t)
	if res, err := f.File(context.Background(), tlsSrv.URL+"/hop", dst); err != nil || res.SHA256 != sum([]byte("secure")) {
		t.Fatalf("https redirect: %v %+v", err, res)
	}
}

func TestHTTPIgnoresXTerraformGet(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte("other"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("terraform-get") {
			t.Errorf("request carries terraform-get: %s", r.URL)
		}
		w.Header().Set("X-Terraform-Get", other.URL+"/x")
		w.Write([]byte("body"))
	}))
	defer srv.Close()
	_, dst := dstIn(t)
	res, err := New(Options{}).File(context.Background(), srv.URL+"/a.tar.gz", dst)
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 != sum([]byte("body")) || elsewhere.Load() != 0 {
		t.Fatalf("X-Terraform-Get followed: res %+v, other hit %d times", res, elsewhere.Load())
	}
}

func TestHTTPTruncated(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprint("chunked=", chunked), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				if chunked {
					buf.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
				} else {
					buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
				}
				buf.Flush()
			}))
			defer srv.Close()
			err := mustFail(t, New(Options{}), srv.URL+"/cut")
			if !strings.Contains(err.Error(), "connection closed after 10 bytes") {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestHTTPTooLarge(t *testing.T) {
	big := strings.Repeat("x", 5000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/len" {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write([]byte(big))
			return
		}
		for i := 0; i < 5; i++ {
			w.Write([]byte(big[:1000]))
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	f := New(Options{MaxBytes: 4096})
	for _, p := range []string{"/len", "/chunked"} {
		err := mustFail(t, f, srv.URL+p)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", p, err)
		}
	}
	// Exactly at the limit is fine.
	_, dst := dstIn(t)
	if _, err := New(Options{MaxBytes: 5000}).File(context.Background(), srv.URL+"/chunked", dst); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

func TestHTTPIdleTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-headers" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("first bytes"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	f := New(Options{IdleTimeout: 300 * time.Millisecond})
	for _, p := range []string{"/stall", "/slow-headers"} {
		start := time.Now()
		err := mustFail(t, f, srv.URL+p)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v", p, d)
		}
		if p == "/stall" && (!errors.Is(err, errIdle) || !strings.Contains(err.Error(), "no data received for 300ms")) {
			t.Errorf("%s: err = %v", p, err)
		}
		t.Logf("%s: %v", p, err)
	}
}

func TestHTTPTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Trickles forever: the idle timer is satisfied, the overall one is not.
		for {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(20 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	err := mustFail(t, New(Options{Timeout: 300 * time.Millisecond}), srv.URL+"/trickle")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Errorf("err = %v", err)
	}
}

// authServer answers 200 only with the bearer token want and records
// every Authorization header it sees.
func authServer(t *testing.T, want string) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path == "/away" {
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
			return
		}
		if want != "" && r.Header.Get("Authorization") != want {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write([]byte("private"))
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestBearerToken(t *testing.T) {
	priv, privSeen := authServer(t, "Bearer s3cret-token")
	other, otherSeen := authServer(t, "")
	privURL, _ := url.Parse(priv.URL)
	env := TokenEnv(privURL.Host)
	if want := "PLUGCTL_TOKEN_127_0_0_1_" + privURL.Port(); env != want {
		t.Fatalf("TokenEnv = %s, want %s", env, want)
	}
	t.Setenv("NETRC", filepath.Join(t.TempDir(), "none"))

	f := New(Options{})
	err := mustFail(t, f, priv.URL+"/index.yaml")
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 401 {
		t.Fatalf("without token: %v", err)
	}

	t.Setenv(env, "s3cret-token")
	_, dst := dstIn(t)
	if _, err := f.File(context.Background(), priv.URL+"/index.yaml", dst); err != nil {
		t.Fatalf("with token: %v", err)
	}
	// Redirected to another host (localhost:port is not 127.0.0.1:port), the
	// token stays behind.
	otherURL, _ := url.Parse(other.URL)
	to := "http://localhost:" + otherURL.Port() + "/file"
	_, dst = dstIn(t)
	if _, err := f.File(context.Background(), priv.URL+"/away?to="+url.QueryEscape(to), dst); err != nil {
		t.Fatalf("redirect: %v", err)
	}
	_, dst = dstIn(t)
	if _, err := f.File(context.Background(), other.URL+"/x", dst); err != nil {
		t.Fatal(err)
	}
	for _, a := range *otherSeen {
		if a != "" {
			t.Errorf("other host received Authorization %q", a)
		}
	}
	for i, got := range (*privSeen)[1:] {
		if got != "Bearer s3cret-token" {
			t.Errorf("token host request %d carried %q", i+1, got)
		}
	}
}

func TestNetrc(t *testing.T) {
	srv, _ := authServer(t, "Basic "+basic("alice", "pw"))
	u, _ := url.Parse(srv.URL)
	nrc := filepath.Join(t.TempDir(), "netrc")
	os.WriteFile(nrc, []byte("machine "+u.Hostname()+" login alice password pw\n"), 0o600)
	t.Setenv("NETRC", nrc)
	_, dst := dstIn(t)
	if _, err := New(Options{}).File(context.Background(), srv.URL+"/i.yaml", dst); err != nil {
		t.Fatal(err)
	}
}

func basic(u, p string) string {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(u, p)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestCredentialsPolicy(t *testing.T) {
	c := &credentials{getenv: func(k string) string {
		return map[string]string{
			"PLUGCTL_TOKEN_PLUGINS_EXAMPLE_COM": "tok",
			"PLUGCTL_TOKEN_LOCALHOST_8080":      "local",
			"NETRC":                             "/nonexistent",
		}[k]
	}}
	for _, tc := range []struct{ url, want string }{
		{"https://plugins.example.com/i.yaml", "Bearer tok"},
		{"https://plugins.example.com:443/i.yaml", "Bearer tok"},
		{"http://plugins.example.com/i.yaml", ""}, // never in clear text to a remote host
		{"https://plugins.example.com:8443/i.yaml", ""},
		{"https://other.example.com/i.yaml", ""},
		{"http://localhost:8080/i.yaml", "Bearer local"},
	} {
		u, _ := url.Parse(tc.url)
		got, err := c.header(u)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.url, got, err, tc.want)
		}
	}
}

func TestNoCredentialLeak(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	addr := "http://tokenuser:hunter2222@" + u.Host + "/missing"
	err := mustFail(t, New(Options{}), addr)
	for _, s := range []string{"hunter2222", "tokenuser"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error leaks %q: %v", s, err)
		}
	}
	// A connection error quotes the URL inside net/http's message.
	for _, addr := range []string{
		"http://tokenuser:hunter2222@127.0.0.1:1/x",
		"git::http://tokenuser:hunter2222@127.0.0.1:1/r.git//index.yaml",
	} {
		err = mustFail(t, New(Options{}), addr)
		if strings.Contains(err.Error(), "hunter2222") || strings.Contains(err.Error(), "tokenuser") {
			t.Errorf("error leaks credentials: %v", err)
		}
	}
}

func TestHTTPRefusesSubdirAndChecksum(t *testing.T) {
	f := New(Options{})
	for _, a := range []string{"http://127.0.0.1:1/a//b", "http://127.0.0.1:1/a?checksum=sha256:00"} {
		mustFail(t, f, a)
	}
}

func TestWithMaxBytes(t *testing.T) {
	body := strings.Repeat("x", 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	defer srv.Close()
	f := New(Options{})
	err := mustFail(t, f.WithMaxBytes(10), srv.URL+"/f")
	if !strings.Contains(err.Error(), "larger than the size limit") {
		t.Fatalf("got %v", err)
	}
	// A smaller limit of the fetcher's own wins; the original is unchanged.
	if got := New(Options{MaxBytes: 5}).WithMaxBytes(10).opts.MaxBytes; got != 5 {
		t.Errorf("limit %d, want 5", got)
	}
	if got := New(Options{MaxBytes: -1}).WithMaxBytes(10).opts.MaxBytes; got != 10 {
		t.Errorf("no limit: %d, want 10", got)
	}
	_, dst := dstIn(t)
	if _, err := f.File(context.Background(), srv.URL+"/f", dst); err != nil {
		t.Fatalf("the original fetcher changed: %v", err)
	}
}
