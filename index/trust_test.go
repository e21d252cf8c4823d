package index

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// A signature is a few hundred bytes: a server that sends more is refused
// while it downloads, not read whole into memory.
func TestFetchRefusesOversizedSignature(t *testing.T) {
	dir := t.TempDir()
	p, _ := store.New(filepath.Join(dir, "home"))
	idxPath := filepath.Join(dir, "index.yaml")
	doc := "apiVersion: plugctl/v1\nversion: 1\nexpires: 2999-01-01T00:00:00Z\nplugins: {}\n"
	if err := os.WriteFile(idxPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(SignatureAddress(idxPath), make([]byte, MaxSignatureBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	pub, _, err := verify.GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	src := store.Source{Name: "signed", Address: idxPath, Keys: []string{string(pub)}}
	_, err = Fetch(context.Background(), fetch.New(fetch.Options{Pwd: dir}), p, src)
	if !errors.Is(err, fetch.ErrTooLarge) {
		t.Errorf("Fetch with a %d-byte signature = %v, want fetch.ErrTooLarge", MaxSignatureBytes+1, err)
	}
	if _, err := LoadMeta(p, "signed"); !errors.Is(err, ErrNotCached) {
		t.Errorf("a refused index was cached: %v", err)
	}
}
