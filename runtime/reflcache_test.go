//go:build unix

package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/plugctl/plugctl/store"
)

// kvSpec is the Spec of the example kv plugin installed in a fresh home.
func kvSpec(t *testing.T) (store.Paths, Spec) {
	t.Helper()
	home := exampleHome(t)
	r, err := home.ReadReceipt("kv", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	return home, SpecFromReceipt(home, r)
}

// callCounting launches spec, makes one call and returns how many times
// the Plugin used reflection.
func callCounting(t *testing.T, spec Spec, home store.Paths, method, args, want string) int {
	t.Helper()
	p := launch(t, ctxT(t, 30*time.Second), spec, Options{Home: home})
	if out := mustCall(t, p, method, args, CallOptions{}); len(out) != 1 || out[0] != want {
		t.Errorf("%s = %v, want %s", method, out, want)
	}
	p.Close()
	return p.reflections
}

// The descriptors reflection found are cached in the version directory: a
// later call, by another process of the plugin, cold or warm, makes no
// reflection round trip.
func TestReflectionCache(t *testing.T) {
	t.Parallel()
	home, spec := kvSpec(t)
	if want := filepath.Join(home.VersionDir("kv", "1.0.0"), ReflectionCacheFile); spec.ReflectionCache != want {
		t.Fatalf("ReflectionCache %q, want %q", spec.ReflectionCache, want)
	}
	if n := callCounting(t, spec, home, "Put", `{"key":"k","value":"v"}`, `{}`); n != 1 {
		t.Errorf("first call: %d reflections, want 1", n)
	}
	b, err := os.ReadFile(spec.ReflectionCache)
	if err != nil {
		t.Fatalf("no cache written: %v", err)
	}
	if !bytes.HasPrefix(b, []byte(reflectionCacheMagic+"\nsha256 "+spec.SHA256+"\nservices ")) {
		t.Errorf("cache header: %q", b[:min(len(b), 120)])
	}
	if n := callCounting(t, spec, home, "proto.KV/Put", `{"key":"k","value":"v"}`, `{}`); n != 0 {
		t.Errorf("cold call with the cache: %d reflections, want 0", n)
	}
	// Warm: a started plugin reattached to.
	startedTB(t, home, "kv")
	p, ok, err := Attach(ctxT(t, 10*time.Second), home, "kv", "1.0.0", Options{})
	if err != nil || !ok {
		t.Fatalf("Attach: %v %v", ok, err)
	}
	defer p.Close()
	mustCall(t, p, "Put", `{"key":"a","value":"b"}`, CallOptions{})
	if out := mustCall(t, p, "Get", `{"key":"a"}`, CallOptions{}); len(out) != 1 || out[0] != `{"value":"b"}` {
		t.Errorf("Get = %v", out)
	}
	if p.reflections != 0 {
		t.Errorf("warm calls with the cache: %d reflections, want 0", p.reflections)
	}
	// Describe uses it too.
	d, err := p.Describe(context.Background(), CallOptions{})
	if err != nil || d.Schema != SchemaReflection || len(d.Services) != 1 {
		t.Errorf("Describe: %+v, %v", d, err)
	}
	if p.reflections != 0 {
		t.Errorf("Describe with the cache: %d reflections, want 0", p.reflections)
	}
	// An internal service is not in the cache: reflected, then cached.
	if out := mustCall(t, p, "grpc.health.v1.Health/Check", `{"service":"plugin"}`, CallOptions{}); len(out) != 1 || out[0] != `{"status":"SERVING"}` {
		t.Errorf("Health/Check = %v", out)
	}
	if p.reflections != 1 {
		t.Errorf("internal service: %d reflections, want 1", p.reflections)
	}
}

// A cache that does not name the method asked for, was made for another
// binary, or is corrupt, is not used: the call reflects, and rewrites it.
func TestReflectionCacheInvalid(t *testing.T) {
	t.Parallel()
	home, spec := kvSpec(t)
	callCounting(t, spec, home, "Put", `{"key":"k","value":"v"}`, `{}`)
	good, err := os.ReadFile(spec.ReflectionCache)
	if err != nil {
		t.Fatal(err)
	}
	noKV := &schema{set: &descriptorpb.FileDescriptorSet{}, listed: []string{"grpc.health.v1.Health"}}
	for name, write := range map[string]func() error{
		"stale": func() error { return writeReflectionCache(spec.ReflectionCache, spec.SHA256, noKV) },
		"other binary": func() error {
			return os.WriteFile(spec.ReflectionCache, bytes.Replace(good, []byte(spec.SHA256), []byte(strings.Repeat("0", 64)), 1), 0o644)
		},
		"corrupt": func() error {
			head, _, _ := bytes.Cut(good, []byte("\nservices "))
			return os.WriteFile(spec.ReflectionCache, append(head, "\nservices proto.KV\n\xff\xff\xff not a descriptor set"...), 0o644)
		},
		"truncated": func() error { return os.WriteFile(spec.ReflectionCache, good[:len(good)/2], 0o644) },
		// The body is checked against its hash before it is built.
		"body changed": func() error {
			bad := bytes.Clone(good)
			bad[len(bad)-3] ^= 0xff
			return os.WriteFile(spec.ReflectionCache, bad, 0o644)
		},
		// Garbage under its own hash: refused by the builder, not a panic.
		"garbage": func() error {
			head, _, _ := bytes.Cut(good, []byte("\nbody "))
			junk := []byte("\x0a\x05\x0a\x03a.p\x0a\x05\x0a\x03a.p") // the same file twice
			sum := sha256.Sum256(junk)
			return os.WriteFile(spec.ReflectionCache, append(append(head, fmt.Sprintf("\nbody %x\n", sum)...), junk...), 0o644)
		},
		"empty": func() error { return os.WriteFile(spec.ReflectionCache, nil, 0o644) },
	} {
		t.Run(name, func(t *testing.T) {
			if err := write(); err != nil {
				t.Fatal(err)
			}
			if n := callCounting(t, spec, home, "Put", `{"key":"k","value":"v"}`, `{}`); n != 1 {
				t.Errorf("%d reflections, want 1", n)
			}
			s := readReflectionCache(spec.ReflectionCache, spec.SHA256)
			if s == nil || !s.knows("proto.KV/Put") {
				t.Errorf("cache not rewritten")
			}
		})
	}
}

// A store that cannot be written to just means reflection at every call.
func TestReflectionCacheUnwritable(t *testing.T) {
	t.Parallel()
	home, spec := kvSpec(t)
	spec.ReflectionCache = filepath.Join(home.ReceiptFile("kv", "1.0.0"), ReflectionCacheFile) // under a file
	for i := range 2 {
		if n := callCounting(t, spec, home, "Put", `{"key":"k","value":"v"}`, `{}`); n != 1 {
			t.Errorf("call %d: %d reflections, want 1", i, n)
		}
	}
	left, _ := filepath.Glob(filepath.Join(home.VersionDir("kv", "1.0.0"), "."+ReflectionCacheFile+".tmp*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// With the cache, a plugin that serves no reflection at all is called:
// proof that the cache, not reflection, gave the schema. --protoset and the
// index's protoset still come first.
func TestReflectionCacheWithoutReflection(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	spec := specFor(t, rawBin)
	spec.ReflectionCache = filepath.Join(t.TempDir(), ReflectionCacheFile)
	protoset := writeProtoset(t)
	b, err := os.ReadFile(protoset)
	if err != nil {
		t.Fatal(err)
	}
	set := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(b, set); err != nil {
		t.Fatal(err)
	}
	// Only Echo: a schema from the cache names what the plugin listed.
	cached := &schema{set: set, listed: []string{"grpc.health.v1.Health", "test.v1.Echo"}}
	if err := writeReflectionCache(spec.ReflectionCache, spec.SHA256, cached); err != nil {
		t.Fatal(err)
	}
	p := launch(t, ctxT(t, 30*time.Second), spec, opt)
	if got := mustCall(t, p, "Count", `{"n":2}`, CallOptions{}); !equal(got, []string{`{"n":"1"}`, `{"n":"2"}`}) {
		t.Errorf("Count from the cache: %q", got)
	}
	if d, err := p.Describe(context.Background(), CallOptions{}); err != nil || d.Schema != SchemaReflection || len(d.Services) != 1 {
		t.Errorf("Describe from the cache: %+v, %v", d, err)
	}
	if d, err := p.Describe(context.Background(), CallOptions{Protoset: protoset}); err != nil || d.Schema != SchemaProtoset || len(d.Services) != 2 {
		t.Errorf("Describe with --protoset: %+v, %v", d, err)
	}
	if got := mustCall(t, p, "Other/Echo", `{"message":"x"}`, CallOptions{Protoset: protoset}); !equal(got, []string{`{"message":"other: x"}`}) {
		t.Errorf("--protoset: %q", got)
	}
	// Other is not in the cache: reflection is tried, and this plugin has none.
	if _, err := call(context.Background(), p, "Other/Echo", `{"message":"x"}`, CallOptions{}); err == nil || !strings.Contains(err.Error(), "no gRPC server reflection") {
		t.Errorf("a method not in the cache: %v, want reflection tried", err)
	}
	// The index's protoset comes first too.
	spec.Protoset = protoset
	opt, _ = optsFor(t)
	p2 := launch(t, ctxT(t, 30*time.Second), spec, opt)
	if d, err := p2.Describe(context.Background(), CallOptions{}); err != nil || d.Schema != SchemaProtoset {
		t.Errorf("Describe with the spec's protoset: %+v, %v", d, err)
	}
}

// Launch reads the reflection cache while the plugin starts: once Launch
// returns, the schema is there, before any call asks for it.
func TestReflectionCachePreloaded(t *testing.T) {
	t.Parallel()
	home, spec := kvSpec(t)
	if n := callCounting(t, spec, home, "Put", `{"key":"k","value":"v"}`, `{}`); n != 1 {
		t.Fatalf("first call: %d reflections, want 1", n)
	}
	p := launch(t, ctxT(t, 30*time.Second), spec, Options{Home: home})
	p.schemaMu.Lock() // the preload holds it until it is done
	loaded := p.refl != nil && p.refl.cached
	p.schemaMu.Unlock()
	if !loaded {
		t.Error("no schema loaded from the cache during Launch")
	}
	mustCall(t, p, "Put", `{"key":"k","value":"v"}`, CallOptions{})
	if p.reflections != 0 {
		t.Errorf("%d reflections with the preloaded cache", p.reflections)
	}
}
