package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/plugctl/plugctl/verify"
)

// A directory source is pinned by its tree hash: without one it is refused
// with the hash of what was fetched; with the wrong one, or once a file
// beside the executable changed, it is a tree hash mismatch; the store is
// unchanged either way. A file source needs its sha256.
func TestDirectoryPinnedByTreeHash(t *testing.T) {
	in, _, sum := testInstaller(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tooldir")
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.MkdirAll(filepath.Join(dir, "lib"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "tool"), []byte("#!/bin/sh\necho tool\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "lib", "helper.sh"), []byte("echo helper\n"), 0o644)
	h1, err := verify.SourceTreeHash(dir)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Name: "tool", Version: "1.0.0", Source: dir, SHA256: sum, Bin: "bin/tool"}

	_, err = in.Install(ctx, req)
	var up *verify.UnpinnedError
	if !errors.As(err, &up) || up.TreeHash != h1 {
		t.Fatalf("sha256 only: %v, want an UnpinnedError carrying %s", err, h1)
	}
	if _, err := os.Stat(in.Paths.PluginDir("tool")); err == nil {
		t.Fatal("an unpinned directory reached the store")
	}

	req.H1 = h1
	res, err := in.Install(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Receipt.TreeHash != h1 {
		t.Errorf("receipt tree hash %s, want %s", res.Receipt.TreeHash, h1)
	}

	os.WriteFile(filepath.Join(dir, "lib", "helper.sh"), []byte("echo pwned\n"), 0o644)
	req.Version = "1.0.1"
	_, err = in.Install(ctx, req)
	var mm *verify.MismatchError
	if !errors.As(err, &mm) || !mm.Tree || mm.Want != h1 {
		t.Fatalf("changed helper: %v, want a tree hash mismatch", err)
	}
	if _, err := in.Paths.ReadReceipt("tool", "1.0.1"); err == nil {
		t.Fatal("a mismatching directory was installed")
	}

	file := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(file, []byte("x"), 0o755)
	if _, err := in.Install(ctx, Request{Name: "plain", Version: "1.0.0", Source: file, H1: h1}); !errors.Is(err, verify.ErrUnpinned) {
		t.Fatalf("a file without sha256: %v, want ErrUnpinned", err)
	}
}
