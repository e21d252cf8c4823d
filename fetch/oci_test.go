package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParseOCI(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		addr   string
		ok     bool
		pinned bool
	}{
		{"oci://ghcr.io/acme/greeter:1.0.0", true, false},
		{"oci://127.0.0.1:5000/a/b/c@" + d, true, true},
		{"OCI://ghcr.io/acme/greeter:1.0.0", true, false},
		{"oci://ghcr.io/acme/greeter", false, false},         // no tag or digest
		{"oci://ghcr.io/acme/greeter:1.0.0+b", false, false}, // '+' is not a tag character
		{"oci://ghcr.io/acme/greeter@sha512:" + strings.Repeat("ab", 64), false, false},
		{"oci://ghcr.io/acme/greeter:1.0.0?x=1", false, false},
		{"oci://ghcr.io", false, false},
		{"oci://ghcr.io/Acme/greeter:1", false, false}, // repositories are lower-case
	} {
		s, err := parse(tc.addr, "")
		if (err == nil) != tc.ok {
			t.Errorf("parse(%q): err = %v, want ok %v", tc.addr, err, tc.ok)
			continue
		}
		if err == nil && (s.kind != kindOCI || s.oci.pinned() != tc.pinned || OCIPinned(tc.addr) != tc.pinned) {
			t.Errorf("parse(%q): kind %v pinned %v, want pinned %v", tc.addr, s.kind, s.oci.pinned(), tc.pinned)
		}
	}
	if !IsOCI("oci://r/x:1") || IsOCI("https://r/x") || IsOCI("./oci") {
		t.Error("IsOCI")
	}
	if got := OCITag("1.2.0+build.7"); got != "1.2.0_build.7" {
		t.Errorf("OCITag = %q", got)
	}
	if _, err := OCIRepository("oci://r.io/acme/greeter:1"); err == nil {
		t.Error("OCIRepository accepted a tag")
	}
	if r, err := OCIRepository("oci://r.io/acme/greeter/"); err != nil || r != "r.io/acme/greeter" {
		t.Errorf("OCIRepository = %q, %v", r, err)
	}
	// A relative reference never resolves against a registry index.
	if _, err := Resolve("oci://r.io/acme/index:1", "greeter"); err == nil {
		t.Error("Resolve against an oci base succeeded")
	}
	if got, err := Resolve("https://x/index.yaml", "oci://r.io/a/b:1"); err != nil || got != "oci://r.io/a/b:1" {
		t.Errorf("Resolve(oci absolute) = %q, %v", got, err)
	}
}

func layer(title string) ocispec.Descriptor {
	return ocispec.Descriptor{Annotations: map[string]string{TitleAnnotation: title}, Digest: ocispec.DescriptorEmptyJSON.Digest}
}

func TestPickLayer(t *testing.T) {
	one := &ocispec.Manifest{Layers: []ocispec.Descriptor{layer("anything")}}
	idx := &ocispec.Manifest{Layers: []ocispec.Descriptor{layer("index.yaml"), layer("index.yaml.minisig")}}
	many := &ocispec.Manifest{Layers: []ocispec.Descriptor{layer("README.md"), layer("greeter"), layer("greeter.sbom")}}
	for _, tc := range []struct {
		m    *ocispec.Manifest
		want string
		got  string // "" : an error
		nf   bool
	}{
		{one, "greeter", "anything", false},
		{one, "index.minisig", "", true},
		{idx, "index.raw", "index.yaml", false},
		{idx, "index.minisig", "index.yaml.minisig", false},
		{many, "greeter", "greeter", false},
		{many, "other", "", false},
		{&ocispec.Manifest{}, "x", "", false},
	} {
		l, err := pickLayer(tc.m, tc.want)
		if tc.got == "" {
			if err == nil {
				t.Errorf("pickLayer(%q) = %q, want an error", tc.want, l.Annotations[TitleAnnotation])
			} else if errors.Is(err, ErrNotFound) != tc.nf {
				t.Errorf("pickLayer(%q): %v: not found %v, want %v", tc.want, err, !tc.nf, tc.nf)
			}
			continue
		}
		if err != nil || l.Annotations[TitleAnnotation] != tc.got {
			t.Errorf("pickLayer(%q) = %q, %v; want %q", tc.want, l.Annotations[TitleAnnotation], err, tc.got)
		}
	}
}

// The registry token variable is the HTTP one, named by the same rule.
func TestOCICredentialToken(t *testing.T) {
	env := map[string]string{"PLUGCTL_TOKEN_REGISTRY_EXAMPLE_COM": "tok-443", "PLUGCTL_TOKEN_127_0_0_1_5000": "tok-local", "DOCKER_CONFIG": t.TempDir()}
	f := New(Options{})
	f.getenv = func(k string) string { return env[k] }
	for host, want := range map[string]string{"registry.example.com": "tok-443", "registry.example.com:443": "tok-443", "127.0.0.1:5000": "tok-local", "other.example.com": ""} {
		c, err := f.oci.credential(context.Background(), host)
		if err != nil || c.AccessToken != want {
			t.Errorf("credential(%s) = %q, %v; want %q", host, c.AccessToken, err, want)
		}
	}
	// Never over plain HTTP to another machine.
	env[EnvOCIPlainHTTP] = "registry.example.com"
	f.oci.plain["registry.example.com"] = f.oci.usePlainHTTP(context.Background(), "registry.example.com")
	if c, _ := f.oci.credential(context.Background(), "registry.example.com"); c.AccessToken != "" {
		t.Error("a token went to a plain-HTTP registry")
	}
}

// A loopback registry that speaks plain HTTP is detected by its TLS
// handshake failing; one that speaks TLS keeps HTTPS.
func TestOCILoopbackFallback(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	plain := httptest.NewServer(h)
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(h)
	defer tlsSrv.Close()
	f := New(Options{})
	if !f.oci.usePlainHTTP(context.Background(), strings.TrimPrefix(plain.URL, "http://")) {
		t.Error("plain loopback registry: want plain HTTP")
	}
	if f.oci.usePlainHTTP(context.Background(), strings.TrimPrefix(tlsSrv.URL, "https://")) {
		t.Error("TLS loopback registry (even untrusted): want HTTPS")
	}
}

// A registry whose manifest names a layer by a malformed digest gets an
// error, not a panic (go-digest panics on a digest without ':').
func TestOCIMalformedLayerDigest(t *testing.T) {
	for _, dg := range []string{"nosep", "sha256:xyz", "md5:" + strings.Repeat("ab", 16)} {
		manifest := []byte(`{"schemaVersion":2,"mediaType":"` + ocispec.MediaTypeImageManifest + `",` +
			`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},` +
			`"layers":[{"mediaType":"application/octet-stream","digest":"` + dg + `","size":5,"annotations":{"org.opencontainers.image.title":"tool"}}]}`)
		mdg := "sha256:" + hex.EncodeToString(sha256Sum(manifest))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/manifests/") {
				w.WriteHeader(http.StatusOK)
				return
			}
			w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
			w.Header().Set("Docker-Content-Digest", mdg)
			w.Header().Set("Content-Length", strconv.Itoa(len(manifest)))
			if r.Method == http.MethodGet {
				w.Write(manifest)
			}
		}))
		dst := filepath.Join(t.TempDir(), "tool")
		_, err := New(Options{MaxBytes: -1}).File(context.Background(), "oci://"+strings.TrimPrefix(srv.URL, "http://")+"/acme/tool:1.0.0", dst)
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), dg) {
			t.Errorf("layer digest %q: want an error naming it, got %v", dg, err)
		}
		if _, serr := os.Stat(dst); serr == nil {
			t.Errorf("layer digest %q: %s written", dg, dst)
		}
	}
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
