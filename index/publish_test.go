package index

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/plugctl/plugctl/verify"
)

func TestPublish(t *testing.T) {
	dir := t.TempDir()
	idxFile := filepath.Join(dir, "dist", "index.yaml")
	if err := os.MkdirAll(filepath.Dir(idxFile), 0o755); err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(dir, "dist", "greeter_1.0.0_linux_arm64")
	if err := os.WriteFile(art, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum, _ := verify.FileSHA256(art)

	// One artifact: platform from its name, URL relative to the index.
	pubs, err := Publish(PublishRequest{IndexFile: idxFile, Name: "greeter", Version: "1.0.0", Artifact: art, DefaultPlatform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pubs) != 1 || pubs[0].Platform != "linux/arm64" || pubs[0].URL != "greeter_1.0.0_linux_arm64" || pubs[0].SHA256 != sum {
		t.Fatalf("Publish = %+v", pubs)
	}
	idx, err := LoadFile(idxFile)
	if err != nil || idx.Version != 0 || idx.Expires != nil {
		t.Fatalf("unsigned index without a version: version %d, expires %v, %v", idx.Version, idx.Expires, err)
	}

	// A goreleaser checksums file: only files that name a platform, with a
	// URL prefix.
	sums := filepath.Join(dir, "checksums.txt")
	doc := sum + "  greeter_1.1.0_darwin_amd64.tar.gz\n" + sum + "  greeter_1.1.0_windows_amd64.zip\n" + sum + "  greeter_1.1.0_sbom.json\n"
	if err := os.WriteFile(sums, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	pubs, err = Publish(PublishRequest{IndexFile: idxFile, Name: "greeter", Version: "1.1.0", Checksums: sums, URLPrefix: "https://dl.example.com/", Bin: "greeter", Sign: func(string, []byte) ([]byte, error) { return []byte("sig\n"), nil }, Expires: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(pubs) != 2 || pubs[0].URL != "https://dl.example.com/greeter_1.1.0_darwin_amd64.tar.gz" {
		t.Fatalf("Publish from checksums = %+v", pubs)
	}
	idx, err = LoadFile(idxFile)
	if err != nil || idx.Version != 1 || idx.Expires == nil || !idx.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("signed: version %d, expires %v, want 1 and %v (%v)", idx.Version, idx.Expires, now.Add(time.Hour), err)
	}
	if got := len(idx.Plugins["greeter"].Versions); got != 2 {
		t.Fatalf("%d versions in the index, want 2", got)
	}

	// A versioned index's version is raised by every publish.
	if _, err := Publish(PublishRequest{IndexFile: idxFile, Name: "greeter", Version: "1.2.0", Artifact: art}); err != nil {
		t.Fatal(err)
	}
	if idx, _ = LoadFile(idxFile); idx.Version != 2 {
		t.Fatalf("version after an unsigned publish = %d, want 2", idx.Version)
	}

	// Refusals leave the index file as it was.
	before, _ := os.ReadFile(idxFile)
	if err := os.WriteFile(sums, []byte(sum+"  greeter_sources.tar.gz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, req := range []PublishRequest{
		{IndexFile: idxFile, Name: "greeter", Version: "1.3.0", Checksums: sums},
		{IndexFile: idxFile, Name: "greeter", Version: "v1.3", Artifact: art},
		{IndexFile: idxFile, Name: "greeter", Version: "1.3.0", Artifact: art, Platforms: []string{"linux/x86"}},
	} {
		if _, err := Publish(req); !errors.Is(err, ErrUsage) {
			t.Errorf("Publish(%+v) = %v, want ErrUsage", req, err)
		}
	}
	if _, err := Publish(PublishRequest{IndexFile: idxFile, Name: "greeter", Version: "1.3.0", Artifact: filepath.Join(dir, "missing")}); err == nil {
		t.Error("Publish of a missing artifact succeeded")
	}
	if after, _ := os.ReadFile(idxFile); !bytes.Equal(before, after) {
		t.Error("a refused publish changed the index file")
	}
}
