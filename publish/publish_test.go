package publish

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// writeKey writes a minisign key pair (encrypted with password unless it is
// empty) and returns the secret key's path and the inline public key.
func writeKey(t *testing.T, password string) (string, string) {
	t.Helper()
	pub, sec, err := verify.GenerateKey(password)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "k.key")
	if err := os.WriteFile(keyPath, sec, 0o600); err != nil {
		t.Fatal(err)
	}
	pk, err := verify.ParsePublicKey(string(pub))
	if err != nil {
		t.Fatal(err)
	}
	return keyPath, pk.String()
}

func noPassword(t *testing.T) PasswordFunc {
	return func(string) (string, error) {
		t.Error("asked for the password of a key without one")
		return "", errors.New("no password")
	}
}

// Publish signs the index with Key, so that it verifies with the public
// key and carries the version and expiry a signed index needs; SignIndex
// signs it again after an edit.
func TestPublishSigned(t *testing.T) {
	dir := t.TempDir()
	art := filepath.Join(dir, "greeter_1.0.0_linux_arm64")
	if err := os.WriteFile(art, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	keyPath, pub := writeKey(t, "")
	idxFile := filepath.Join(dir, "index.yaml")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out, err := Publish(context.Background(), Options{IndexFile: idxFile, Artifacts: []string{art}, Name: "greeter", Version: "v1.0.0",
		DefaultPlatform: "linux/amd64", Key: keyPath, Password: noPassword(t), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Version != "1.0.0" || out[0].Platform != "linux/arm64" || out[0].Index != idxFile {
		t.Fatalf("Publish = %+v", out)
	}
	idx, err := index.LoadFile(idxFile)
	if err != nil || idx.Version != 1 || idx.Expires == nil || !idx.Expires.Equal(now.Add(DefaultSignedTTL)) {
		t.Fatalf("signed index: version %d, expires %v, %v; want 1 and now+DefaultSignedTTL", idx.Version, idx.Expires, err)
	}
	checkSigned(t, idxFile, pub)

	// Sign again after an edit: the new signature covers the new bytes.
	raw, _ := os.ReadFile(idxFile)
	if err := os.WriteFile(idxFile, append(raw, []byte("# edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	sig, err := SignIndex(idxFile, keyPath, noPassword(t))
	if err != nil || sig != idxFile+".minisig" {
		t.Fatalf("SignIndex = %q, %v", sig, err)
	}
	checkSigned(t, idxFile, pub)
}

func checkSigned(t *testing.T, idxFile, pub string) {
	t.Helper()
	msg, _ := os.ReadFile(idxFile)
	sig, err := os.ReadFile(idxFile + ".minisig")
	if err != nil {
		t.Fatal(err)
	}
	if err := verify.CheckSignature("index.yaml", []string{pub}, msg, sig); err != nil {
		t.Errorf("signature of %s: %v", idxFile, err)
	}
}

// Options that do not go together are refused before anything is written.
func TestPublishRefusesBadOptions(t *testing.T) {
	dir := t.TempDir()
	art := filepath.Join(dir, "tool_1.0.0_linux_amd64")
	os.WriteFile(art, []byte("x"), 0o755)
	idxFile := filepath.Join(dir, "index.yaml")
	good := Options{IndexFile: idxFile, Artifacts: []string{art}, Name: "tool", Version: "1.0.0"}
	for name, edit := range map[string]func(o *Options){
		"no name":             func(o *Options) { o.Name = "" },
		"artifacts and sums":  func(o *Options) { o.Checksums = "sums.txt" },
		"neither":             func(o *Options) { o.Artifacts = nil },
		"url with several":    func(o *Options) { o.Artifacts = []string{art, art}; o.URL = "x" },
		"expires without key": func(o *Options) { o.Expires = time.Hour },
		"push with url":       func(o *Options) { o.Push = "oci://127.0.0.1:1/r"; o.URL = "x" },
		"push not oci":        func(o *Options) { o.Push = "https://example.com/r" },
		"push bad version":    func(o *Options) { o.Push = "oci://127.0.0.1:1/r"; o.Version = "1.0" },
	} {
		o := good
		edit(&o)
		if _, err := Publish(context.Background(), o); !errors.Is(err, index.ErrUsage) {
			t.Errorf("%s: %v, want index.ErrUsage", name, err)
		}
		if _, err := os.Stat(idxFile); err == nil {
			t.Fatalf("%s: the index file was written", name)
		}
	}
}

func TestSignIndexRefuses(t *testing.T) {
	dir := t.TempDir()
	keyPath, _ := writeKey(t, "")
	if _, err := SignIndex(filepath.Join(dir, "none.yaml"), keyPath, noPassword(t)); !errors.Is(err, index.ErrUsage) {
		t.Errorf("SignIndex(missing file) = %v, want index.ErrUsage", err)
	}
	plain := filepath.Join(dir, "plain.yaml")
	os.WriteFile(plain, []byte("apiVersion: plugctl/v1\nplugins: {}\n"), 0o644)
	if _, err := SignIndex(plain, keyPath, noPassword(t)); !errors.Is(err, index.ErrUsage) || !strings.Contains(err.Error(), `needs "version" and "expires"`) {
		t.Errorf("SignIndex(no version) = %v, want index.ErrUsage naming version and expires", err)
	}
	if _, err := os.Stat(plain + ".minisig"); err == nil {
		t.Error("a refused index was signed")
	}
}

// An encrypted key's password is asked once, however many files it signs.
func TestSignerAsksOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("an encrypted key costs seconds of scrypt")
	}
	keyPath, pub := writeKey(t, "secret")
	asked := 0
	sign, err := Signer(keyPath, func(prompt string) (string, error) {
		asked++
		if !strings.Contains(prompt, keyPath) {
			t.Errorf("prompt %q does not name the key", prompt)
		}
		return "secret", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"one", "two"} {
		sig, err := sign("index.yaml", []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		if err := verify.CheckSignature("index.yaml", []string{pub}, []byte(msg), sig); err != nil {
			t.Error(err)
		}
	}
	if asked != 1 {
		t.Errorf("password asked %d times, want once", asked)
	}
}

// The server serves the directory's files with an ETag, logs each
// request, names the index URL, and stops when its context ends.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.yaml"), []byte("apiVersion: plugctl/v1\n"), 0o644)
	var log syncBuilder
	srv, err := Listen("127.0.0.1:0", dir, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") || srv.IndexURL != srv.URL+"index.yaml" {
		t.Fatalf("URL %q, index URL %q", srv.URL, srv.IndexURL)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	resp, err := http.Get(srv.IndexURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "apiVersion: plugctl/v1\n" || resp.Header.Get("ETag") == "" {
		t.Errorf("GET index.yaml: %d %q, ETag %q", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
	req, _ := http.NewRequest("GET", srv.IndexURL, nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: %v, %v; want 304", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return in 30s after its context ended")
	}
	if !strings.Contains(log.String(), "GET /index.yaml 200") {
		t.Errorf("request log %q, want the GET", log.String())
	}
	if _, err := Listen("127.0.0.1:0", filepath.Join(dir, "index.yaml"), nil); !errors.Is(err, ErrNotDirectory) {
		t.Errorf("Listen(a file) = %v, want ErrNotDirectory", err)
	}
}

// syncBuilder is a strings.Builder the server's handlers may write to
// while the test reads it.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPushIndexRefuses(t *testing.T) {
	f := fetch.New(fetch.Options{})
	if _, err := PushIndex(context.Background(), f, "index.yaml", "https://example.com/x"); !errors.Is(err, index.ErrUsage) {
		t.Errorf("PushIndex(not oci) = %v, want index.ErrUsage", err)
	}
	var nf *index.NotFoundError
	if _, err := PushIndex(context.Background(), f, filepath.Join(t.TempDir(), "none.yaml"), "oci://127.0.0.1:1/r:t"); !errors.As(err, &nf) {
		t.Errorf("PushIndex(missing file) = %v, want *index.NotFoundError", err)
	}
}

// Lint with a fetcher downloads every artifact and reports a hash that
// differs from the index's.
func TestLintFetch(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tool"), []byte("real bytes"), 0o755)
	sum := strings.Repeat("0", 64)
	doc := "apiVersion: plugctl/v1\nplugins:\n  tool:\n    versions:\n      1.0.0:\n        linux/amd64: {url: tool, sha256: \"" + sum + "\"}\n"
	file := filepath.Join(dir, "index.yaml")
	os.WriteFile(file, []byte(doc), 0o644)
	rep, problems, err := Lint(context.Background(), file, nil, nil)
	if err != nil || len(problems) != 0 || rep.Plugins != 1 {
		t.Fatalf("Lint without fetching = %+v, %v, %v; want no problem", rep, problems, err)
	}
	_, problems, err = Lint(context.Background(), file, nil, fetch.New(fetch.Options{Pwd: dir}))
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0].String(), sum) {
		t.Errorf("Lint --fetch = %v, %v; want the sha256 mismatch", problems, err)
	}
}

// MirrorIndexes refuses requests that do not fit before copying anything.
func TestMirrorIndexesRefuses(t *testing.T) {
	p, err := store.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &store.Config{Indexes: []store.Source{{Name: "main", Address: "/nowhere/index.yaml"}}}
	dest := filepath.Join(t.TempDir(), "mirror")
	for name, r := range map[string]MirrorRequest{
		"platform":            {Dest: dest, Options: MirrorOptions{Platforms: []string{"linux/nosuch"}}},
		"latest":              {Dest: dest, Options: MirrorOptions{Latest: -1}},
		"expires without key": {Dest: dest, Options: MirrorOptions{Expires: time.Hour}},
		"bad registry":        {Dest: "oci://"},
	} {
		if _, err := MirrorIndexes(context.Background(), p, cfg, r); !errors.Is(err, index.ErrUsage) {
			t.Errorf("%s: %v, want index.ErrUsage", name, err)
		}
	}
	var nf *index.NotFoundError
	if _, err := MirrorIndexes(context.Background(), p, cfg, MirrorRequest{Dest: dest, Names: []string{"other"}}); !errors.As(err, &nf) {
		t.Errorf("unknown index: %v, want *index.NotFoundError", err)
	}
	if _, err := MirrorIndexes(context.Background(), p, &store.Config{}, MirrorRequest{Dest: dest}); !errors.Is(err, index.ErrUsage) {
		t.Errorf("no index configured: %v, want index.ErrUsage", err)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("a refused mirror wrote its directory")
	}
}
