package install

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/store"
)

// testInstaller is an Installer on a fresh home, and a local executable
// ("tool") to install with it, with the hex SHA-256 of its bytes.
func testInstaller(t *testing.T) (in *Installer, src, sum string) {
	t.Helper()
	p, err := store.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src = filepath.Join(t.TempDir(), "tool")
	body := []byte("#!/bin/sh\necho tool\n")
	if err := os.WriteFile(src, body, 0o755); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(body)
	return &Installer{Paths: p, Fetcher: fetch.New(fetch.Options{})}, src, hex.EncodeToString(s[:])
}
